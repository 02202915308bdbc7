"""One service process: spawn in its own process group, drain stderr, tear down.

A ``ServiceProcess`` owns the child, the ``Peer`` on its stdio, and the task
that copies its stderr into the session's ``services.log`` (each line
prefixed by the service name), keeping the last lines for error messages.
Teardown follows PROTOCOL §3: ``shutdown``, close stdin, grace, SIGTERM to the
whole process group, grace, SIGKILL; a group is only done when no live
process of it remains, so a grandchild a tool started cannot survive.
Processes that left the group (``setsid``) are ended with it, and orphans of
the session once its last service is gone (descendants.py explains how they
are found without touching other sessions). Each signal the Host had to send
is written to ``services.log``.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from amplifier_ipc_protocol.peer import AnyHandler, NotificationFallback, Peer

from . import descendants, forked, forkserver
from .config import ServiceSpec
from .errors import ServiceStartError
from .service_env import BASE_ENV_NAMES, build_env

__all__ = [
    "BASE_ENV_NAMES",
    "HostPeer",
    "ServiceLog",
    "ServiceProcess",
    "build_env",
    "group_members",
    "kill_all_groups",
    "on_exit",
]

# A service's process: started with exec, or forked from the fork server.
ChildProcess = asyncio.subprocess.Process | forked.ForkedProcess

# Lines of a service's stderr kept for error messages.
STDERR_TAIL_LINES = 30
# Bytes read from a stderr pipe at a time.
STDERR_CHUNK_BYTES = 64 * 1024
# After a service exits, how long its stderr may take to reach EOF (the tail
# shown in an error must include its last words).
STDERR_SETTLE_S = 0.5
# How often teardown looks at a process group while waiting for it to empty.
GROUP_POLL_S = 0.01

# Process groups started by this Python process and not yet known to be empty:
# killed at interpreter exit whatever happened to the asyncio loop.
_LIVE_GROUPS: set[int] = set()
# Pids of the services of this process not yet torn down: never taken for orphans.
_SERVICE_PIDS: set[int] = set()
# Services running or starting, by session id: a session's orphans are only
# swept once none is left, so no running service loses a process it started.
_SESSION_SERVICES: collections.Counter[str] = collections.Counter()


class HostPeer(Peer):
    """The Host's end of a service's stdio."""

    @property
    def next_request_id(self) -> int:
        """The id the next ``request()`` will carry, so stream notifications
        the service tags with it can be matched to the request before it is sent."""
        return self._next_id


class ServiceLog:
    """The session's ``services.log``: every service's stderr, line by line, prefixed."""

    def __init__(self, path: Path | None) -> None:
        self._file: TextIO | None = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115

    def write(self, service: str, text: str) -> None:
        if self._file is None:
            return
        self._file.write(f"[{service}] {text}\n")

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid`` (Linux /proc)."""
    try:
        os.killpg(pgid, 0)  # cheap: an empty group needs no scan of /proc
    except (ProcessLookupError, PermissionError):
        return []
    members: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return [pgid]
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        # the command name is in parentheses and may itself hold spaces
        fields = data[data.rfind(b")") + 2 :].split()
        if len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def kill_all_groups() -> None:
    """SIGKILL every process group this process started that may still be alive."""
    for pgid in list(_LIVE_GROUPS):
        _signal_group(pgid, signal.SIGKILL)
        _LIVE_GROUPS.discard(pgid)


atexit.register(kill_all_groups)


class ServiceProcess:
    """A running service: its process, its group, its peer and its log."""

    def __init__(self, spec: ServiceSpec, process: ChildProcess, log: ServiceLog) -> None:
        self.spec = spec
        self.name = spec.name
        self.process = process
        self.pgid = process.pid  # start_new_session makes the child its group's leader
        self.session_id: str | None = None
        self.log = log
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self.describe: dict[str, Any] = {}
        self.torn_down = False
        self.expected_exit = False
        self.peer: HostPeer
        self._stderr_task: asyncio.Task[None] | None = None
        self._exit_task: asyncio.Task[int] | None = None
        self._descendants: set[descendants.ProcessRef] = set()

    @classmethod
    async def start(
        cls,
        spec: ServiceSpec,
        *,
        cwd: Path,
        env: dict[str, str],
        log: ServiceLog,
        handlers: dict[str, AnyHandler],
        on_notification: NotificationFallback | None = None,
    ) -> ServiceProcess:
        """Start ``spec`` in its own process group and begin reading its stdout and stderr."""
        if not spec.command:
            raise ServiceStartError(
                f"service {spec.name} has no command", service=spec.name, hint="give the service a command"
            )
        workdir = spec.working_dir or cwd
        descendants.become_subreaper()
        session_id = env.get("AMPLIFIER_SESSION_ID")
        if session_id:
            _SESSION_SERVICES[session_id] += 1
        try:
            process = await _fork(spec, str(workdir), env, log) or await asyncio.create_subprocess_exec(
                *spec.command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=str(workdir),
                env=env,
                start_new_session=True,
            )
        except BaseException as exc:
            if session_id:
                _forget_session_service(session_id)
            if not isinstance(exc, (FileNotFoundError, PermissionError, NotADirectoryError)):
                raise
            raise ServiceStartError(
                f"service {spec.name} could not be started: {exc.strerror or exc}: "
                f"{spec.command[0]} (working directory {workdir})",
                service=spec.name,
                hint="install the service (amplifier-ipc install) or fix its command",
            ) from None
        _LIVE_GROUPS.add(process.pid)
        _SERVICE_PIDS.add(process.pid)
        service = cls(spec, process, log)
        service.session_id = session_id
        assert process.stdout is not None and process.stdin is not None
        service.peer = HostPeer(
            process.stdout,
            process.stdin,
            name=spec.name,
            handlers=handlers,
            on_notification=on_notification,
            report=lambda text: log.write(spec.name, f"(host) {text}"),
            cancel_handlers_on_eof=True,
        )
        service.peer.start()
        service._stderr_task = asyncio.get_running_loop().create_task(service._drain_stderr())
        return service

    # -- stderr -------------------------------------------------------------

    async def _drain_stderr(self) -> None:
        stream = self.process.stderr
        assert stream is not None
        partial = b""
        while True:
            try:
                chunk = await stream.read(STDERR_CHUNK_BYTES)
            except (ConnectionError, OSError):
                break
            if not chunk:
                break
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()
            for raw in lines:
                self._stderr_line(raw)
        if partial:
            self._stderr_line(partial)
        self.log.flush()

    def _stderr_line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        self.stderr_tail.append(text)
        self.log.write(self.name, text)

    async def tail(self) -> str:
        """The last lines of stderr, after letting a dead process's last words arrive."""
        if self._stderr_task is not None and self.process.returncode is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._stderr_task), STDERR_SETTLE_S)
            except (TimeoutError, asyncio.CancelledError):
                pass
        return "\n".join(self.stderr_tail)

    # -- state --------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self.process.returncode is None and not self.peer.closed

    def exit_description(self) -> str:
        code = self.process.returncode
        if code is None:
            return f"closed its stdout ({self.peer.close_reason})"
        if code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with code {code}"

    async def wait_exit(self) -> int:
        """Wait for the process to exit; returns its exit code."""
        if self._exit_task is None:
            self._exit_task = asyncio.get_running_loop().create_task(self.process.wait())
        return await asyncio.shield(self._exit_task)

    # -- teardown -----------------------------------------------------------

    async def teardown(self, shutdown_grace: float, term_grace: float) -> None:
        """PROTOCOL §3 shutdown: ask, close stdin, then SIGTERM and SIGKILL the group and its escapees."""
        if self.torn_down:
            return
        self.torn_down = True
        self.expected_exit = True
        try:
            self._remember_descendants()  # now, while the service is still their ancestor
            if not self.peer.closed:
                self.peer.notify_nowait("shutdown")
            await self.peer.close()
            try:
                await asyncio.wait_for(self.wait_exit(), shutdown_grace)
            except TimeoutError:
                pass
            await self._terminate(shutdown_grace, term_grace)
            await self._finish()
            descendants.reap(self._descendants)
        finally:
            last_of_session = self._forget()
        if last_of_session is not None:
            orphans = descendants.session_orphans(last_of_session, _SERVICE_PIDS)
            await descendants.end_processes(orphans, term_grace, self._report)

    def kill(self) -> None:
        """SIGKILL the whole group and its escapees at once (immediate cancel, a second Ctrl+C)."""
        self.expected_exit = True
        self._remember_descendants()
        _signal_group(self.pgid, signal.SIGKILL)
        for ref in descendants.live(self._descendants, outside_group=self.pgid):
            descendants.send(ref, signal.SIGKILL)

    def _remember_descendants(self) -> None:
        if self.process.returncode is None:
            self._descendants |= descendants.process_tree([self.process.pid])

    def _report(self, text: str) -> None:
        self.log.write(self.name, f"(host) {text}")
        self.log.flush()

    def _leftovers(self) -> tuple[list[int], list[descendants.ProcessRef]]:
        return group_members(self.pgid), descendants.live(self._descendants, outside_group=self.pgid)

    def _signal_all(self, sig: signal.Signals, escaped: list[descendants.ProcessRef]) -> None:
        _signal_group(self.pgid, sig)
        for ref in escaped:
            descendants.send(ref, sig)

    async def _terminate(self, shutdown_grace: float, term_grace: float) -> None:
        members, escaped = self._leftovers()
        if not members and not escaped:
            return
        if self.process.returncode is None:
            self._report(f"{self._who(members, escaped)} {shutdown_grace:g}s after shutdown; sent SIGTERM")
        else:
            self._report(f"{self._who(members, escaped, exited=True)}; sent SIGTERM")
        self._signal_all(signal.SIGTERM, escaped)
        if await self._wait_gone(term_grace):
            return
        members, escaped = self._leftovers()
        self._report(f"{self._who(members, escaped)} {term_grace:g}s after SIGTERM; sent SIGKILL")
        self._signal_all(signal.SIGKILL, escaped)
        await self._wait_gone(term_grace)

    def _who(self, members: list[int], escaped: list[descendants.ProcessRef], *, exited: bool = False) -> str:
        """Who is still running: the service, and the processes it started by pid."""
        others = sorted({pid for pid in members if pid != self.process.pid} | {ref.pid for ref in escaped})
        started = f"processes it started ({', '.join(map(str, others))})" if others else ""
        if exited:
            return f"it exited, but {started} did not"
        if self.process.pid not in members:
            return f"{started} did not exit"
        return f"did not exit, nor did {started}," if started else "did not exit"

    async def _wait_gone(self, grace: float) -> bool:
        deadline = time.monotonic() + grace
        while any(self._leftovers()):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(GROUP_POLL_S)
        return True

    def _forget(self) -> str | None:
        """Drop this service from the live ones; the session id when it was the session's last."""
        _SERVICE_PIDS.discard(self.process.pid)
        if self.session_id is None:
            return None
        return self.session_id if _forget_session_service(self.session_id) else None

    async def _finish(self) -> None:
        try:
            await asyncio.wait_for(self.wait_exit(), STDERR_SETTLE_S)
        except TimeoutError:
            pass
        if self._stderr_task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._stderr_task), STDERR_SETTLE_S)
            except TimeoutError:
                self._stderr_task.cancel()
        if not group_members(self.pgid):
            _LIVE_GROUPS.discard(self.pgid)
        # asyncio never closes a subprocess transport by itself; left to the
        # garbage collector, its close() would run after the loop is closed.
        if isinstance(self.process, forked.ForkedProcess):
            self.process.collect_now()
            self.process.close_pipes()
        else:
            transport = getattr(self.process, "_transport", None)
            if transport is not None:
                transport.close()


async def _fork(spec: ServiceSpec, cwd: str, env: dict[str, str], log: ServiceLog) -> ChildProcess | None:
    """The service forked from the fork server, or None to start it with exec."""
    early = forkserver.take_early(spec.command, cwd, env)
    if early is not None:  # forked by the CLI before it imported the Host (early.py)
        pid, fds = early
        return await forked.adopt(pid, *fds)
    fork = forked.plan(spec.command, env, cwd)
    server = forkserver.shared() if fork is not None else None
    if fork is None or server is None:
        return None
    if not server.ready():
        # Still importing: worth a short wait (it is ready about 100 ms after its
        # start on 2 cores, an exec costs about as much per service), not a long one.
        wait = forkserver.READY_WAIT_S - server.age()
        if wait <= 0:
            return None
        with contextlib.suppress(TimeoutError, forkserver.ForkServerUnavailable):
            await asyncio.wait_for(forked.wait_ready(server), wait)
        if not server.ready():
            return None
    try:
        return await forked.spawn(server, fork, name=spec.name, cwd=cwd, env=env)
    except forkserver.ForkServerUnavailable as exc:
        log.write(spec.name, f"(host) started with exec: {exc}")
        return None


def _forget_session_service(session_id: str) -> bool:
    """One service of ``session_id`` fewer; True when none is left."""
    _SESSION_SERVICES[session_id] -= 1
    if _SESSION_SERVICES[session_id] > 0:
        return False
    del _SESSION_SERVICES[session_id]
    return True


def on_exit(service: ServiceProcess, callback: Callable[[ServiceProcess], None]) -> None:
    """Call ``callback`` once when the service's stdout closes (it exited or crashed)."""

    async def watch() -> None:
        await service.peer.wait_closed()
        callback(service)

    task = asyncio.get_running_loop().create_task(watch())
    _WATCHERS.add(task)
    task.add_done_callback(_WATCHERS.discard)


_WATCHERS: set[asyncio.Task[None]] = set()
