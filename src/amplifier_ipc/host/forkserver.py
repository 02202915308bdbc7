"""A fork server for Python services: the standard library is imported once.

Every turn spawns its services, and on a 2-core machine most of a Python
service's start is the interpreter importing asyncio and the rest of the
standard library (about 70 of a foundation service's 110 ms, measured with
``-X importtime``). The fork server (``_zygote.py``) is one Python process
that has done those imports; a service is forked from it and then becomes
what ``exec`` would have made of it: its own session and process group, its
stdio pipes, working directory and environment, the ``sys.path`` of its own
virtualenv, its module or script run as ``__main__``. It is then a child of
the Host (re-parented: the Host is a child subreaper), torn down exactly like
a service started with ``exec``.

Only what can be made exactly equal is forked (``plan``): a command that is
a virtualenv's Python running ``-m module`` or a script, or a script of the
virtualenv whose ``#!`` line names that Python, with the same interpreter
binary as the fork server (so the same standard library), an existing working
directory, and no ``PYTHON*`` variable that works only at interpreter start.
Everything else (another language, another Python, ``-c``, flags) is started
with ``exec`` as before, as is every service when the server cannot be used.
``AMPLIFIER_IPC_FORK_SERVER=0`` turns the fork server off.

Forked services share the fork server's hash seed (``PYTHONHASHSEED``); a new
seed is drawn for each Host process.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import sys
import threading
import time

from .subreaper import become_subreaper

__all__ = [
    "ENV_SWITCH",
    "ForkServer",
    "ForkServerUnavailable",
    "enabled",
    "prestart",
    "server_pids",
    "shared",
]

# Set to 0 (or false/no/off) to start every service with exec.
ENV_SWITCH = "AMPLIFIER_IPC_FORK_SERVER"
# Variables the fork server's interpreter reads at start and a forked service
# inherits as they were: a service whose value differs is started with exec.
START_VARIABLES = ("LANG", "LC_ALL", "LC_CTYPE")
# How long after its start a fork server still importing is waited for; later,
# a service is started with exec instead (a loaded machine, or a hung server).
READY_WAIT_S = 0.3
# What the fork server says once it has imported (_zygote.py).
READY_MESSAGE = b'{"ready": true}'
READY_BYTES = 64

_ZYGOTE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_zygote.py")


class ForkServerUnavailable(Exception):
    """The fork server is off, failed, or could not fork: start the service with exec."""


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


class ForkServer:
    """One fork server process (``_zygote.py``) and its control socket.

    Started with ``posix_spawn`` and only the standard modules already loaded
    by any Python, so the CLI can start it before importing anything else."""

    def __init__(self, python: str) -> None:
        self.python = python
        self.interpreter = os.path.realpath(python)
        self._next_id = 0
        self._ready = False
        self._exit_status: int | None = None
        self.started_at = time.monotonic()
        self.dead: str | None = None
        # True while a coroutine owns the control socket (forked.py): nothing else may read it.
        self.busy = False
        # Forked services are re-parented to this process, which must then be a subreaper.
        if not become_subreaper():
            raise ForkServerUnavailable("this process cannot be a child subreaper (Linux only)")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # What a service's own environment holds of the start variables (PROTOCOL §8 passes LANG).
        self.start_env = {name: os.environ[name] for name in ("LANG",) if name in os.environ}
        env = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ} | self.start_env
        theirs.set_inheritable(True)
        null = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
        try:
            self.pid = os.posix_spawn(
                python, [python, _ZYGOTE, str(theirs.fileno())], env, file_actions=null, setsid=True
            )
        except OSError as exc:
            ours.close()
            raise ForkServerUnavailable(f"the fork server could not start: {exc}") from None
        finally:
            theirs.close()
        ours.setblocking(False)
        self.control = ours

    @property
    def alive(self) -> bool:
        return self.dead is None and self._running()

    def _running(self) -> bool:
        if self._exit_status is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = self.pid, 0
            if pid == 0:
                return True
            self._exit_status = status
        return False

    def age(self) -> float:
        """Seconds since this fork server was started."""
        return time.monotonic() - self.started_at

    def ready(self) -> bool:
        """Whether the fork server has finished importing (it says so once); never waits."""
        if self._ready or not self.alive or self.busy:
            return self._ready and self.alive
        try:
            message = self.control.recv(READY_BYTES, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError as exc:
            self.fail(f"the fork server's socket failed: {exc}")
            return False
        self.take_ready(message)
        return self._ready

    def take_ready(self, message: bytes) -> None:
        """Note the fork server's first message, which must say it is ready."""
        if message == READY_MESSAGE:
            self._ready = True
        else:
            self.fail("the fork server exited while importing" if not message else f"unexpected {message!r}")

    def next_request_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def fail(self, reason: str) -> None:
        """Stop using this fork server: ``reason`` says why."""
        self.dead = reason
        self.close()

    def close(self) -> None:
        """Stop the fork server (services it forked are not affected)."""
        self.dead = self.dead or "the fork server was closed"
        with contextlib.suppress(OSError):
            self.control.close()
        if self._running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)  # it holds nothing: no grace needed
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)  # at once: SIGKILL cannot be ignored


_SERVERS: dict[str, ForkServer] = {}
_SERVERS_LOCK = threading.Lock()


def shared(python: str | None = None) -> ForkServer | None:
    """This process's fork server for ``python`` (default: this interpreter), started on first use."""
    if not enabled():
        return None
    python = python or sys.executable
    key = os.path.realpath(python)
    with _SERVERS_LOCK:
        server = _SERVERS.get(key)
        if server is not None and server.alive:
            return server
        try:
            server = _SERVERS[key] = ForkServer(python)
        except ForkServerUnavailable:
            return None
        return server


def server_pids() -> set[int]:
    """The pids of this process's fork servers (children of it that are not services)."""
    return {server.pid for server in _SERVERS.values() if server._running()}


def prestart() -> None:
    """Start the fork server now, so it has imported by the time the first service is spawned."""
    shared()


def _close_all() -> None:
    for server in list(_SERVERS.values()):
        server.close()


atexit.register(_close_all)
