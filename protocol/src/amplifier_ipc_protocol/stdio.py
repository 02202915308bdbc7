"""The service's end of the stdio channel, protected from stray output.

``protect_stdio`` keeps private copies of fds 0 and 1 for the wire, then
points fd 1 (and ``sys.stdout``) at stderr and fd 0 at ``/dev/null``: a
``print()`` in a tool, or a child process writing to its stdout, lands in the
service log instead of corrupting the protocol, and a child process cannot
read the Host's messages.
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import sys
import time

__all__ = ["direct_children", "protect_stdio", "open_wire", "terminate_children"]

# How long children get to exit after SIGTERM before SIGKILL, when the
# service itself is exiting.
CHILD_TERM_GRACE_S = 1.0
# How often to look whether they have gone, during that grace.
CHILD_POLL_S = 0.02
# Rounds of freezing descendants; each round catches processes forked just
# before the previous one froze their parent.
FREEZE_ROUNDS = 5


def protect_stdio() -> tuple[int, int]:
    """Return (wire_in, wire_out) fds and redirect the process's fds 0 and 1."""
    wire_in = os.dup(0)
    wire_out = os.dup(1)
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout = sys.stderr
    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process
    return wire_in, wire_out


class _ThreadReader:
    """Reads a regular file (not a pipe) without blocking the loop."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    async def read(self, n: int = -1) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(
            None, os.read, self._fd, n if n > 0 else 65536
        )


class _FdWriter:
    """Blocking writes on an fd that asyncio cannot watch (a regular file)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def close(self) -> None:
        os.close(self._fd)

    async def drain(self) -> None:
        return None


def _pipe_like(fd: int) -> bool:
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


async def open_wire(wire_in: int, wire_out: int) -> tuple[object, object]:
    """Asyncio reader and writer over the wire fds."""
    loop = asyncio.get_running_loop()
    reader: object
    writer: object
    if _pipe_like(wire_in):
        stream_reader = asyncio.StreamReader(limit=2**31 - 1)
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stream_reader), os.fdopen(wire_in, "rb", buffering=0)
        )
        reader = stream_reader
    else:
        reader = _ThreadReader(wire_in)
    if _pipe_like(wire_out):
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(wire_out, "wb", buffering=0)
        )
        writer = asyncio.StreamWriter(transport, protocol, None, loop)
    else:
        writer = _FdWriter(wire_out)
    return reader, writer


def _children_of(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (Linux /proc), deepest last."""
    found: list[int] = []
    queue = [pid]
    while queue:
        children = direct_children(queue.pop())
        found.extend(children)
        queue.extend(children)
    return found


_CHILDREN_FILES: bool | None = None


def direct_children(pid: int) -> list[int]:
    """The children of ``pid`` (zombies included), from the ``children`` file
    of each of its threads: a few reads. A kernel without those files has
    every process's ``stat`` read instead (about 3 ms with a hundred
    processes). A process gone meanwhile has none."""
    global _CHILDREN_FILES
    if _CHILDREN_FILES is None:
        _CHILDREN_FILES = os.path.exists(f"/proc/self/task/{os.getpid()}/children")
    if not _CHILDREN_FILES:  # a kernel without CONFIG_PROC_CHILDREN
        return _children_by_scan(pid)
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    children: list[int] = []
    for thread in threads:
        try:
            with open(f"/proc/{pid}/task/{thread}/children", "rb") as handle:
                children.extend(int(child) for child in handle.read().split())
        except OSError:
            continue  # the thread ended
    return children


def _children_by_scan(pid: int) -> list[int]:
    """The children of ``pid`` from every process's ``stat``."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    found: list[int] = []
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
        if len(fields) > 2 and int(fields[1]) == pid:
            found.append(int(entry))
    return found


def terminate_children() -> None:
    """SIGTERM, then SIGKILL, every process this service started (and theirs).

    Descendants are first frozen with SIGSTOP, round after round, so none
    can start a new process (or be orphaned out of reach) while we look.
    """
    me = os.getpid()
    frozen: list[int] = []
    for _ in range(FREEZE_ROUNDS):
        found = [pid for pid in _children_of(me) if pid not in frozen]
        if not found:
            break
        for pid in found:
            _signal(pid, signal.SIGSTOP)
        frozen.extend(found)
    if not frozen:
        return
    for pid in frozen:
        _signal(pid, signal.SIGTERM)
        _signal(pid, signal.SIGCONT)
    deadline = time.monotonic() + CHILD_TERM_GRACE_S
    while time.monotonic() < deadline:
        if not any(_alive(pid) for pid in frozen):
            return
        time.sleep(CHILD_POLL_S)
    for pid in {*frozen, *_children_of(me)}:
        _signal(pid, signal.SIGKILL)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
        state = data[data.rfind(b")") + 2 : data.rfind(b")") + 3]
        return state != b"Z"
    except OSError:
        return False
