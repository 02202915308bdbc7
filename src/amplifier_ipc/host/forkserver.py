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

Only what can be made exactly equal is forked (forkplan.py says what), with
the same interpreter binary as the fork server (so the same standard library)
and its locale; everything else is started with ``exec``, as is every service
when the server cannot be used. This module holds the server's process and
control socket (cheap imports only: the CLI starts it first thing), and the
services forked before the Host exists (early.py); forked.py spawns and adopts
services on the Host's event loop. ``AMPLIFIER_IPC_FORK_SERVER=0`` turns it off.

Forked services share the fork server's hash seed (``PYTHONHASHSEED``); a new
seed is drawn for each Host process.
"""

from __future__ import annotations

# Only modules every Python has loaded before ``main`` runs (``_socket`` and
# ``_thread`` are built in): the CLI starts the fork server first thing, and
# each import here would delay it. What else is needed is imported on use.
import _socket
import _thread
import atexit
import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    import threading
    from collections.abc import Mapping, Sequence

    from .forkplan import ForkPlan

__all__ = [
    "ENV_SWITCH",
    "ForkServer",
    "ForkServerUnavailable",
    "enabled",
    "prestart",
    "server_pids",
    "shared",
    "start_early",
    "start_early_in_background",
    "take_early",
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
# The largest answer of the fork server.
MAX_ANSWER_BYTES = 64 * 1024
# How long a fork before the Host exists may wait for the fork server's answer.
EARLY_ANSWER_TIMEOUT_S = 2.0

_ZYGOTE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_zygote.py")
# How the fork server is started: ``_zygote.py`` imported as a module (from its
# bytecode cache) rather than run as a script, which Python compiles on every
# start (3-4 ms on 2 cores, before the server can import anything). Its path
# stays on the command line, so ``ps`` still shows what the process is.
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1].rpartition('/')[0]); "
    "import _zygote; del sys.path[0]; _zygote.main(int(sys.argv[2]))"
)


def enabled() -> bool:
    """Whether services may be forked (``ENV_SWITCH`` is not turned off)."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


class ForkServerUnavailable(Exception):
    """The fork server is off, failed, or could not fork: start the service with exec."""


class ForkServer:
    """One fork server process (``_zygote.py``) and its control socket.

    Started with ``posix_spawn`` and only the standard modules already loaded
    by any Python, so the CLI can start it before importing anything else."""

    def __init__(self, python: str) -> None:
        self.interpreter = os.path.realpath(python)
        self._next_id = 0
        self._ready = False
        self._exit_status: int | None = None
        self.started_at = time.monotonic()
        self.dead: str | None = None
        # True while a coroutine owns the control socket (forked.py): nothing else may read it.
        self.busy = False
        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        # What a service's own environment holds of the start variables (PROTOCOL §8 passes LANG).
        self.start_env = {name: os.environ[name] for name in ("LANG",) if name in os.environ}
        env = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ} | self.start_env
        os.set_inheritable(theirs.fileno(), True)
        null = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
        try:
            self.pid = os.posix_spawn(
                python,
                [python, "-c", _BOOT, _ZYGOTE, str(theirs.fileno())],
                env,
                file_actions=null,
                setsid=True,
            )
        except OSError as exc:
            ours.close()
            raise ForkServerUnavailable(f"the fork server could not start: {exc}") from None
        finally:
            theirs.close()
        ours.setblocking(False)
        # Wrapped in a socket.socket on first use (socket.py costs an import before the spawn).
        self._raw_control: _socket.socket | None = ours
        self._control: socket.socket | None = None
        # Forked services are re-parented to this process, which must then be a
        # subreaper; checked after the spawn, which need not wait for ctypes.
        from .subreaper import become_subreaper

        if not become_subreaper():
            self.close()
            raise ForkServerUnavailable("this process cannot be a child subreaper (Linux only)")

    @property
    def control(self) -> socket.socket:
        """The control socket (AF_UNIX, SOCK_SEQPACKET) to the fork server."""
        if self._control is None:
            import socket

            raw, self._raw_control = self._raw_control, None
            assert raw is not None
            self._control = socket.socket(fileno=raw.detach())
        return self._control

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
            message = self.control.recv(READY_BYTES, _socket.MSG_DONTWAIT)
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

    def send_request(
        self, fork: ForkPlan, name: str, cwd: str, env: Mapping[str, str], fds: list[int]
    ) -> int:
        """Send one fork request with the service's stdio ``fds``; returns its id."""
        request_id = self.next_request_id()
        if fork.through_sh:
            env = _as_dash_leaves(env, cwd)
        message = {
            "id": request_id,
            "name": name,
            "mode": fork.mode,
            "target": fork.target,
            "argv": fork.argv,
            "path0": fork.path0,
            "site": fork.site,
            "venv": fork.venv,
            "executable": fork.executable,
            "cwd": cwd,
            "env": dict(env),
        }
        import json
        import socket

        socket.send_fds(self.control, [json.dumps(message).encode()], fds)
        return request_id

    def fits(self, fork: ForkPlan, env: Mapping[str, str]) -> str | None:
        """Why ``fork`` cannot be forked by this server, or None."""
        if fork.interpreter != self.interpreter:
            return "the service's Python is not the fork server's"
        if any(env.get(variable) != self.start_env.get(variable) for variable in START_VARIABLES):
            return f"the service's locale ({', '.join(START_VARIABLES)}) is not the fork server's"
        return None

    def wait_ready_blocking(self) -> bool:
        """Wait, without an event loop, until this server is ready, at most until
        ``READY_WAIT_S`` after its start; whether it is."""
        if self.ready() or self.busy:
            return self.ready()
        remaining = READY_WAIT_S - self.age()
        if remaining <= 0:
            return False
        self.busy = True
        try:
            self.control.settimeout(remaining)
            self.take_ready(self.control.recv(READY_BYTES))
        except TimeoutError:
            pass  # still importing: the Host will decide again
        except OSError as exc:
            self.fail(f"the fork server's socket failed: {exc}")
        finally:
            if self.control.fileno() != -1:
                self.control.setblocking(False)
            self.busy = False
        return self.ready()

    def fork_now(
        self, fork: ForkPlan, name: str, cwd: str, env: Mapping[str, str]
    ) -> tuple[int, list[int]] | None:
        """Fork without an event loop, if this server is ready and idle: the
        service's pid and this process's ends of its stdin, stdout and stderr."""
        return self.fork_many_now([(fork, name, cwd, env)])[0]

    def fork_many_now(
        self, requests: Sequence[tuple[ForkPlan, str, str, Mapping[str, str]]]
    ) -> list[tuple[int, list[int]] | None]:
        """``fork_now`` for each ``(fork, name, cwd, env)``, every request sent
        before the first answer is read: the server forks them back to back,
        without waiting for this process to take the GIL between two of them."""
        results: list[tuple[int, list[int]] | None] = [None] * len(requests)
        if not self.ready() or self.busy:
            return results
        import json

        sent: dict[int, tuple[int, list[int]]] = {}  # request id -> (index, our ends of its pipes)
        self.busy = True
        try:
            self.control.settimeout(EARLY_ANSWER_TIMEOUT_S)
            for index, (fork, name, cwd, env) in enumerate(requests):
                if self.fits(fork, env) is not None:
                    continue
                pipes = [os.pipe() for _ in range(3)]
                theirs = [pipes[0][0], pipes[1][1], pipes[2][1]]
                ours = [pipes[0][1], pipes[1][0], pipes[2][0]]
                try:
                    sent[self.send_request(fork, name, cwd, env, theirs)] = (index, ours)
                except OSError:
                    _close_all_fds(ours)
                    raise
                finally:
                    _close_all_fds(theirs)  # the server has its own copies now
            while sent:
                reply = json.loads(self.control.recv(MAX_ANSWER_BYTES))
                answered = sent.pop(reply.get("id"), None)
                if answered is None:
                    raise ValueError(f"unexpected answer {reply}")
                index, ours = answered
                if isinstance(reply.get("pid"), int) and reply["pid"] > 0:
                    results[index] = (reply["pid"], ours)
                else:
                    _close_all_fds(ours)
        except (OSError, ValueError) as exc:
            self.fail(f"the fork server did not answer: {exc or 'timed out'}")
        finally:
            if self.control.fileno() != -1:  # not closed by fail()
                self.control.setblocking(False)
            self.busy = False
            for _index, ours in sent.values():  # never answered
                _close_all_fds(ours)
        return results

    def fail(self, reason: str) -> None:
        """Stop using this fork server: ``reason`` says why."""
        self.dead = reason
        self.close()

    def close(self) -> None:
        """Stop the fork server (services it forked are not affected)."""
        import signal

        self.dead = self.dead or "the fork server was closed"
        for sock in (self._control, self._raw_control):
            try:
                if sock is not None:
                    sock.close()
            except OSError:
                pass
        if self._running():
            try:
                os.kill(self.pid, signal.SIGKILL)  # it holds nothing: no grace needed
                os.waitpid(self.pid, 0)  # at once: SIGKILL cannot be ignored
            except (ProcessLookupError, ChildProcessError):
                pass


def _close_all_fds(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _as_dash_leaves(env: Mapping[str, str], cwd: str) -> dict[str, str]:
    """``env`` as dash hands it on: ``PWD`` is kept if it names the working
    directory, otherwise set to its physical path."""
    out = dict(env)
    given = out.get("PWD")
    try:
        kept = given is not None and os.path.isabs(given) and os.path.samefile(given, cwd)
    except OSError:
        kept = False
    if not kept:
        out["PWD"] = os.path.realpath(cwd)
    return out


_SERVERS: dict[str, ForkServer] = {}
_SERVERS_LOCK = _thread.allocate_lock()


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


# Services forked before the Host was imported (early.py), by (command, cwd,
# environment): the Host adopts the one that matches what it would start.
_EARLY: dict[tuple[tuple[str, ...], str, tuple[tuple[str, str], ...]], tuple[int, list[int]]] = {}
_early_thread: threading.Thread | None = None


def _early_key(
    command: Sequence[str], cwd: str, env: Mapping[str, str]
) -> tuple[tuple[str, ...], str, tuple[tuple[str, str], ...]]:
    return tuple(command), cwd, tuple(sorted(env.items()))


def start_early(command: Sequence[str], name: str, cwd: str, env: Mapping[str, str]) -> bool:
    """Fork ``command`` now, for the Host to adopt later (``take_early``); False if it cannot be."""
    from .forkplan import plan

    fork = plan(command, env, cwd)
    server = shared() if fork is not None else None
    if fork is None or server is None:
        return False
    started = server.fork_now(fork, name, cwd, env)
    if started is None:
        return False
    _EARLY[_early_key(command, cwd, env)] = started
    return True


def start_early_in_background(jobs: list[tuple[Sequence[str], str, str, Mapping[str, str]]]) -> None:
    """``start_early`` each ``(command, name, cwd, env)`` in a thread that first
    waits for the fork server to be ready, while this thread goes on importing."""
    import threading

    global _early_thread

    def fork_all() -> None:
        from .forkplan import plan

        server = shared()
        if server is None:
            return
        # Planned while the server still imports; forked together once it is ready.
        planned = []
        for command, name, cwd, env in jobs:
            fork = plan(command, env, cwd)
            if fork is not None:
                planned.append(((command, cwd, env), (fork, name, cwd, env)))
        if not planned or not server.wait_ready_blocking():
            return
        started = server.fork_many_now([request for _key, request in planned])
        for ((command, cwd, env), _request), result in zip(planned, started, strict=True):
            if result is not None:
                _EARLY[_early_key(command, cwd, env)] = result

    _early_thread = threading.Thread(target=fork_all, name="amplifier-early-start", daemon=True)
    _early_thread.start()


def take_early(command: Sequence[str], cwd: str, env: Mapping[str, str]) -> tuple[int, list[int]] | None:
    """The service forked early with exactly this command, directory and environment, if any."""
    global _early_thread
    if _early_thread is not None:  # its forks take milliseconds once the server is ready
        _early_thread.join()
        _early_thread = None
    return _EARLY.pop(_early_key(command, cwd, env), None)


def _end_unused() -> None:
    """Services forked early that the Host never took: ended at exit."""
    if _early_thread is not None:
        _early_thread.join()
    import signal

    for pid, fds in _EARLY.values():
        for kill, target in ((os.killpg, pid), (os.kill, pid)):  # its group; itself, even before its setsid
            try:
                kill(target, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
    _EARLY.clear()


atexit.register(_close_all)
atexit.register(_end_unused)
