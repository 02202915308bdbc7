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
import re
import signal
import socket
import sys
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .forkserver import READY_BYTES, START_VARIABLES, ForkServer, ForkServerUnavailable, enabled

__all__ = ["ForkPlan", "ForkedProcess", "UNKNOWN_EXIT_CODE", "plan", "spawn", "wait_ready"]

# How long a fork request may wait for the fork server (it may still be importing).
REQUEST_TIMEOUT_S = 10.0
# The largest answer of the fork server.
MAX_ANSWER_BYTES = 64 * 1024
# The exit code reported when a forked service's status was collected by someone else.
UNKNOWN_EXIT_CODE = 255
# The stream buffer asyncio's own subprocesses use.
STREAM_LIMIT = 2**16

# PYTHON* variables a forked service honours (the rest only act at interpreter start).
PYTHON_VARIABLES = frozenset({"PYTHONPATH", "PYTHONDONTWRITEBYTECODE"})
# Bytes of a script read to find its #! line.
SHEBANG_BYTES = 512
# One exchange at a time on a control socket, per event loop.
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
_PYTHON_NAME = re.compile(r"python(3(\.\d+)?)?")


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
    if fork.interpreter != server.interpreter:
        raise ForkServerUnavailable("the service's Python is not the fork server's")
    if any(env.get(variable) != server.start_env.get(variable) for variable in START_VARIABLES):
        raise ForkServerUnavailable(
            f"the service's locale ({', '.join(START_VARIABLES)}) is not the fork server's"
        )
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
    return await _adopt(pid, *ours)


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
        request_id = server.next_request_id()
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
        loop = asyncio.get_running_loop()
        try:
            socket.send_fds(server.control, [json.dumps(message).encode()], fds)
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


async def _adopt(pid: int, stdin_w: int, stdout_r: int, stderr_r: int) -> ForkedProcess:
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
