"""Spawning a service through the fork server (forkserver.py), and the process it gives.

``ForkedProcess`` has what the Host uses of ``asyncio.subprocess.Process``:
``pid``, ``returncode``, ``wait()`` and the three stdio streams. The service
is this process's child (re-parented to it, a child subreaper): its exit is
seen through a pidfd and its status collected with ``waitpid`` like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
import weakref
from collections.abc import AsyncIterator, Mapping
from typing import Any

from .forkplan import ForkPlan, plan
from .forkserver import MAX_ANSWER_BYTES, READY_BYTES, ForkServer, ForkServerUnavailable

__all__ = ["ForkPlan", "ForkedProcess", "UNKNOWN_EXIT_CODE", "adopt", "plan", "spawn", "wait_ready"]

# How long a fork request may wait for the fork server (it may still be importing).
REQUEST_TIMEOUT_S = 10.0
# The exit code reported when a forked service's status was collected by someone else.
UNKNOWN_EXIT_CODE = 255
# A service forked for a caller cancelled meanwhile is killed and collected at
# once; this bounds the wait for the kernel to end it.
DISCARD_REAP_S = 0.2
DISCARD_POLL_S = 0.001
# How long the answer to a request cancelled after it went out is waited for
# (without the event loop; the fork server answers within milliseconds).
CANCELLED_ANSWER_S = 0.5
# The stream buffer asyncio's own subprocesses use.
STREAM_LIMIT = 2**16

# One exchange at a time on a control socket, per event loop.
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


class ForkedProcess:
    """A forked service, with the part of ``asyncio.subprocess.Process`` the Host uses."""

    def __init__(
        self,
        pid: int,
        stdin: asyncio.StreamWriter,
        stdout: asyncio.StreamReader,
        stderr: asyncio.StreamReader,
        transports: list[asyncio.BaseTransport],
    ) -> None:
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None
        self._transports = transports
        self._loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[int] = self._loop.create_future()
        try:
            self._pidfd = os.pidfd_open(pid)
        except ProcessLookupError:  # already gone and collected
            self._pidfd = -1
            self._collect()
        else:
            self._loop.add_reader(self._pidfd, self._collect)

    def _collect(self) -> None:
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # collected by someone else: the status is lost
            pid, status = self.pid, -1
        if pid == 0:
            return
        if self._pidfd >= 0:
            with contextlib.suppress(ValueError, RuntimeError):
                self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = -1
        self.returncode = os.waitstatus_to_exitcode(status) if status >= 0 else UNKNOWN_EXIT_CODE
        if not self._exited.done():
            self._exited.set_result(self.returncode)

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    def collect_now(self) -> bool:
        """Collect the exit status at once if the service has exited (teardown
        must not leave a zombie for a loop that may stop before its pidfd
        event is handled); whether it had."""
        if self.returncode is None:
            self._collect()
        return self.returncode is not None

    def close_pipes(self) -> None:
        for transport in self._transports:
            transport.close()


async def spawn(
    server: ForkServer, fork: ForkPlan, *, name: str, cwd: str, env: Mapping[str, str]
) -> ForkedProcess:
    """Fork a service as ``fork`` describes; raises ForkServerUnavailable to fall back on exec."""
    if not server.ready():
        await wait_ready(server)
    unfit = server.fits(fork, env)
    if unfit is not None:
        raise ForkServerUnavailable(unfit)
    # The fork runs to its end even if this caller is cancelled: a request cut
    # off halfway would leave a service nobody manages, or the socket out of step.
    task = asyncio.ensure_future(_fork_and_adopt(server, fork, name, cwd, env))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        # The fork takes milliseconds: wait for it, so the service it made is
        # ended and collected before the caller's cancellation goes on.
        with contextlib.suppress(BaseException):
            await asyncio.shield(task)
        if task.done():
            _discard(task)
        else:  # cancelled again while waiting: whenever it ends
            task.add_done_callback(_discard)
        raise


def _discard(task: asyncio.Future[ForkedProcess]) -> None:
    """End a service forked for a caller that was cancelled meanwhile."""
    if task.cancelled() or task.exception() is not None:
        return
    process = task.result()
    process.close_pipes()
    _kill_and_reap(process.pid)
    process.collect_now()  # already collected: this only settles the object


async def _fork_and_adopt(
    server: ForkServer, fork: ForkPlan, name: str, cwd: str, env: Mapping[str, str]
) -> ForkedProcess:
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    stderr_r, stderr_w = os.pipe()
    theirs = [stdin_r, stdout_w, stderr_w]
    ours = [stdin_w, stdout_r, stderr_r]
    try:
        pid = await _request(server, fork, name, cwd, env, theirs)
    except BaseException:
        for fd in ours:
            os.close(fd)
        raise
    finally:
        for fd in theirs:
            os.close(fd)
    try:
        return await adopt(pid, *ours)
    except BaseException:  # cancelled at the loop's end, say: nobody would collect it
        _kill_and_reap(pid)
        raise


def _kill_and_reap(pid: int) -> None:
    """End a forked service nobody manages, and collect it (it is this process's child)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)  # what it started, once it leads its own group
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)  # itself, even before its setsid
    deadline = time.monotonic() + DISCARD_REAP_S
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] != 0:
                return
        except ChildProcessError:
            return
        time.sleep(DISCARD_POLL_S)  # SIGKILL is not ignored: this is a few milliseconds at most


async def wait_ready(server: ForkServer) -> None:
    """Wait until ``server`` has imported; raises ForkServerUnavailable if it never will."""
    loop = asyncio.get_running_loop()
    async with _owning(server):
        if server.ready():
            return
        try:
            message = await asyncio.wait_for(loop.sock_recv(server.control, READY_BYTES), REQUEST_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            server.fail(f"the fork server did not start: {exc or 'timed out'}")
        else:
            server.take_ready(message)
    if not server.ready():
        raise ForkServerUnavailable(server.dead or "the fork server exited")


@contextlib.asynccontextmanager
async def _owning(server: ForkServer) -> AsyncIterator[None]:
    """One exchange at a time on the control socket, and no other reader meanwhile."""
    loop = asyncio.get_running_loop()
    lock = _LOCKS.get(loop)
    if lock is None:
        lock = _LOCKS[loop] = asyncio.Lock()
    async with lock:
        server.busy = True
        try:
            yield
        finally:
            server.busy = False


async def _request(
    server: ForkServer, fork: ForkPlan, name: str, cwd: str, env: Mapping[str, str], fds: list[int]
) -> int:
    async with _owning(server):
        loop = asyncio.get_running_loop()
        try:
            request_id = server.send_request(fork, name, cwd, env, fds)
            while True:
                answer = await asyncio.wait_for(
                    loop.sock_recv(server.control, MAX_ANSWER_BYTES), REQUEST_TIMEOUT_S
                )
                if not answer:
                    server.fail("the fork server exited")
                    raise ForkServerUnavailable(server.dead)
                reply: dict[str, Any] = json.loads(answer)
                if not isinstance(reply.get("id"), int) or reply["id"] >= request_id:
                    break
                _end_stale(reply)
        except (OSError, TimeoutError) as exc:
            server.fail(f"the fork server did not answer: {exc or 'timed out'}")
            raise ForkServerUnavailable(server.dead) from None
        except asyncio.CancelledError:  # after the request went out: its service must not be left
            _settle_cancelled(server)
            raise
        if reply.get("id") != request_id or "pid" not in reply:
            raise ForkServerUnavailable(str(reply.get("error") or f"unexpected answer {reply}"))
        return int(reply["pid"])


def _end_stale(reply: dict[str, Any]) -> None:
    """The answer to a request whose asker was cancelled: nobody manages that
    service (its pipes are closed), so it is ended and collected now."""
    pid = reply.get("pid")
    if isinstance(pid, int) and pid > 0:
        _kill_and_reap(pid)


def _settle_cancelled(server: ForkServer) -> None:
    """A request was cancelled after it was sent (the loop is ending, say): read
    its answer now, without the loop, and end the service it names; a server
    that does not answer in time is given up."""
    try:
        server.control.settimeout(CANCELLED_ANSWER_S)
        _end_stale(json.loads(server.control.recv(MAX_ANSWER_BYTES)))
    except (OSError, ValueError) as exc:
        server.fail(f"the fork server did not answer a cancelled request: {exc or 'timed out'}")
    finally:
        if server.control.fileno() != -1:
            server.control.setblocking(False)


async def adopt(pid: int, stdin_w: int, stdout_r: int, stderr_r: int) -> ForkedProcess:
    """Wrap the Host's ends of a forked service's pipes in asyncio streams."""
    loop = asyncio.get_running_loop()
    stdout = asyncio.StreamReader(limit=STREAM_LIMIT, loop=loop)
    stderr = asyncio.StreamReader(limit=STREAM_LIMIT, loop=loop)
    files = [os.fdopen(stdout_r, "rb", 0), os.fdopen(stderr_r, "rb", 0), os.fdopen(stdin_w, "wb", 0)]
    transports: list[asyncio.BaseTransport] = []
    try:
        out_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stdout, loop=loop), files[0]
        )
        transports.append(out_transport)
        err_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stderr, loop=loop), files[1]
        )
        transports.append(err_transport)
        in_transport, in_protocol = await loop.connect_write_pipe(
            lambda: asyncio.streams.FlowControlMixin(loop=loop), files[2]
        )
        transports.append(in_transport)
    except BaseException:
        for transport in transports:
            transport.close()
        for file in files[len(transports) :]:
            file.close()
        raise
    stdin = asyncio.StreamWriter(in_transport, in_protocol, None, loop)
    return ForkedProcess(pid, stdin, stdout, stderr, transports)
