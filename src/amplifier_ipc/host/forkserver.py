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
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import descendants

__all__ = [
    "ENV_SWITCH",
    "ForkPlan",
    "ForkServer",
    "ForkServerUnavailable",
    "plan",
    "prestart",
    "server_pids",
    "shared",
]

# Set to 0 (or false/no/off) to start every service with exec.
ENV_SWITCH = "AMPLIFIER_IPC_FORK_SERVER"
# Variables the fork server's interpreter reads at start and a forked service
# inherits as they were: a service whose value differs is started with exec.
START_VARIABLES = ("LANG", "LC_ALL", "LC_CTYPE")
# PYTHON* variables a forked service honours (the rest only act at interpreter start).
PYTHON_VARIABLES = frozenset({"PYTHONPATH", "PYTHONDONTWRITEBYTECODE"})
# Bytes of a script read to find its #! line.
SHEBANG_BYTES = 512

# What the fork server says once it has imported (_zygote.py).
READY_MESSAGE = b'{"ready": true}'
READY_BYTES = 64

_PYTHON_NAME = re.compile(r"python(3(\.\d+)?)?")
_ZYGOTE = Path(__file__).with_name("_zygote.py")


class ForkServerUnavailable(Exception):
    """The fork server is off, failed, or could not fork: start the service with exec."""


@dataclass(frozen=True)
class ForkPlan:
    """How a forked service reproduces ``exec`` of its command."""

    venv: str
    executable: str
    interpreter: str  # the real path of the Python binary
    mode: str  # "module" or "path"
    target: str  # the module name or the script's path
    argv: list[str]
    path0: str  # sys.path[0], as the interpreter would set it
    site: list[str]


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def _venv_of(executable: str) -> str | None:
    venv = os.path.dirname(os.path.dirname(executable))
    config = os.path.join(venv, "pyvenv.cfg")
    try:
        with open(config, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "include-system-site-packages" and value.strip().lower() == "true":
            return None  # the base interpreter's packages too: not reproduced here
    return venv


def _shebang_python(script: str) -> str | None:
    try:
        with open(script, "rb") as handle:
            first = handle.read(SHEBANG_BYTES).split(b"\n", 1)[0]
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].decode(errors="replace").split()
    return words[0] if len(words) == 1 else None


def plan(command: Sequence[str], env: Mapping[str, str], cwd: str | os.PathLike[str]) -> ForkPlan | None:
    """How to fork ``command`` so that it runs exactly as exec would run it, or None."""
    if not enabled() or not command or not os.path.isabs(command[0]) or not os.path.isdir(cwd):
        return None
    if any(name.startswith("PYTHON") and name not in PYTHON_VARIABLES for name in env):
        return None
    first, args = command[0], list(command[1:])
    if _PYTHON_NAME.fullmatch(os.path.basename(first)):
        executable = first
        if len(args) >= 2 and args[0] == "-m":
            mode, target, argv, path0 = "module", args[1], ["-m", *args[2:]], os.path.abspath(cwd)
        elif args and not args[0].startswith("-") and args[0] != "":
            script = os.path.join(cwd, args[0])
            if not os.path.isfile(script):
                return None
            mode, target, argv = "path", args[0], args
            path0 = os.path.dirname(os.path.realpath(script))
        else:
            return None
    else:
        executable = _shebang_python(first) or ""
        if not executable or os.path.dirname(executable) != os.path.dirname(first):
            return None
        mode, target, argv, path0 = "path", first, list(command), os.path.dirname(os.path.realpath(first))
    venv = _venv_of(executable)
    if venv is None or not os.path.isfile(executable):
        return None
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = os.path.join(venv, "lib", version, "site-packages")
    if not os.path.isdir(site):
        return None
    return ForkPlan(venv, executable, os.path.realpath(executable), mode, target, argv, path0, [site])


class ForkServer:
    """One fork server process (``_zygote.py``) and its control socket."""

    def __init__(self, python: str) -> None:

        self.python = python
        self.interpreter = os.path.realpath(python)
        self._next_id = 0
        self._ready = False
        self.dead: str | None = None
        # True while a coroutine owns the control socket (forked.py): nothing else may read it.
        self.busy = False
        # Forked services are re-parented to this process, which must then be a subreaper.
        if not descendants.become_subreaper():
            raise ForkServerUnavailable("this process cannot be a child subreaper (Linux only)")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # What a service's own environment holds of the start variables (PROTOCOL §8 passes LANG).
        self.start_env = {name: os.environ[name] for name in ("LANG",) if name in os.environ}
        env = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ} | self.start_env
        try:
            self.process = subprocess.Popen(
                [python, str(_ZYGOTE), str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=[theirs.fileno()],
                env=env,
                start_new_session=True,
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
        return self.dead is None and self.process.poll() is None

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
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()  # it holds nothing: no grace needed, and no wait


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
    return {server.process.pid for server in _SERVERS.values() if server.process.poll() is None}


def prestart() -> None:
    """Start the fork server now, so it has imported by the time the first service is spawned."""
    shared()


def _close_all() -> None:
    for server in list(_SERVERS.values()):
        server.close()


atexit.register(_close_all)
