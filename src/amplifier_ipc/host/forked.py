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
        task.add_done_callback(_discard)
        raise


def _discard(task: asyncio.Future[ForkedProcess]) -> None:
    """End a service forked for a caller that was cancelled meanwhile."""
    if task.cancelled() or task.exception() is not None:
        return
    process = task.result()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.close_pipes()


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
    return await adopt(pid, *ours)


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
        if reply.get("id") != request_id or "pid" not in reply:
            raise ForkServerUnavailable(str(reply.get("error") or f"unexpected answer {reply}"))
        return int(reply["pid"])


def _end_stale(reply: dict[str, Any]) -> None:
    """The answer to a request whose asker was cancelled: nobody manages that
    service (its pipes are closed), so it is ended and collected now."""
    pid = reply.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


async def adopt(pid: int, stdin_w: int, stdout_r: int, stderr_r: int) -> ForkedProcess:
    """Wrap the Host's ends of a forked service's pipes in asyncio streams."""
    loop = asyncio.get_running_loop()
    stdout = asyncio.StreamReader(limit=STREAM_LIMIT, loop=loop)
    stderr = asyncio.StreamReader(limit=STREAM_LIMIT, loop=loop)
    out_transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(stdout, loop=loop), os.fdopen(stdout_r, "rb", 0)
    )
    err_transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(stderr, loop=loop), os.fdopen(stderr_r, "rb", 0)
    )
    in_transport, in_protocol = await loop.connect_write_pipe(
        lambda: asyncio.streams.FlowControlMixin(loop=loop), os.fdopen(stdin_w, "wb", 0)
    )
    stdin = asyncio.StreamWriter(in_transport, in_protocol, None, loop)
    return ForkedProcess(pid, stdin, stdout, stderr, [in_transport, out_transport, err_transport])
