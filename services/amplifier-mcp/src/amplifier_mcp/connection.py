"""One MCP server, started and spoken to with the official ``mcp`` SDK.

The SDK's stdio transport and session are async context managers that must
be entered and left by the same task, so each server has an owner task that
holds them open from ``start()`` until ``close()``; calls from other tasks go
through the session. Shutdown is the SDK's MCP stdio sequence: close the
server's stdin, wait, SIGTERM its process group, wait, SIGKILL.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import os
import re
import signal
import sys
from typing import Any

from .settings import ServerSpec

__all__ = ["McpConnection", "StartFailed", "tool_name_for"]

# Tool names providers accept: letters, digits, '_' and '-', at most 64.
MAX_TOOL_NAME = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
# Lines of a server's stderr kept to explain why it failed to start.
STDERR_TAIL_LINES = 20
# tools/list pages followed before giving up on a server that never ends its listing.
MAX_LIST_PAGES = 100
# The MCP stdio shutdown, on a budget that ends well inside the Host's 2 s
# shutdown grace (after which the Host SIGTERMs the service, and a service
# killed that way can no longer reach servers in their own sessions):
# Grace period for the server to exit on its own after its stdin closes.
STDIN_EOF_GRACE_S = 0.5
# Grace period after SIGTERM to its process group, before SIGKILL.
SIGTERM_GRACE_S = 0.5
# Time for the SDK's transport to notice a killed server and unwind.
UNWIND_S = 0.5


class StartFailed(Exception):
    """A server that could not be started, initialized or listed."""


def tool_name_for(server: str, tool: str) -> str:
    """``<server>__<tool>``, made safe for providers (hashed when too long)."""
    name = f"{server}__{_UNSAFE.sub('_', tool)}"
    if len(name) <= MAX_TOOL_NAME:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_TOOL_NAME - 9]}_{digest}"


class McpConnection:
    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec
        self.session: Any = None
        self.tools: list[Any] = []
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._owner: asyncio.Task[None] | None = None
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._relay: asyncio.Task[None] | None = None
        self.pid: int | None = None
        """The server's pid (also its process group: the SDK starts it in a new session)."""

    # -- lifecycle --------------------------------------------------------

    async def start(self, timeout: float) -> None:
        """Spawn, initialize and list tools; raises StartFailed saying why."""
        self._owner = asyncio.create_task(self._own(), name=f"mcp:{self.spec.name}")
        ready = asyncio.create_task(self._ready.wait())
        try:
            done, _ = await asyncio.wait(
                {ready, self._owner}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
        if self._ready.is_set():
            return
        if self._owner in done:
            exc = self._owner.exception()
            raise StartFailed(self._explain(exc)) from None
        await self.close()
        raise StartFailed(f"did not finish starting within {timeout:g}s{self._tail()}")

    async def close(self) -> None:
        """Close the server's stdin, then SIGTERM, then SIGKILL its process group."""
        self._stop.set()
        owner = self._owner
        if owner is not None and not await _finished(owner, STDIN_EOF_GRACE_S):
            self._signal(signal.SIGTERM)
            if not await _finished(owner, SIGTERM_GRACE_S):
                self._signal(signal.SIGKILL)
                if not await _finished(owner, UNWIND_S):
                    owner.cancel()
        if self._relay is not None and not await _finished(self._relay, UNWIND_S):
            self._relay.cancel()

    def _signal(self, signum: int) -> None:
        if self.pid is None:
            return
        try:
            os.killpg(self.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    async def _own(self) -> None:
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client
        from mcp.types import Implementation, PaginatedRequestParams

        params = StdioServerParameters(
            command=self.spec.command,
            args=list(self.spec.args),
            env=dict(self.spec.env) or None,
            cwd=self.spec.cwd or os.getcwd(),
        )
        read_fd, write_fd = os.pipe()
        os.set_inheritable(read_fd, False)
        pipe_inode = os.fstat(read_fd).st_ino
        self._relay = asyncio.create_task(self._relay_stderr(read_fd))
        errlog = os.fdopen(write_fd, "w")
        try:
            async with stdio_client(params, errlog=errlog) as (read, write):
                errlog.close()  # the server holds its own copy; EOF reaches the relay when it exits
                self.pid = _child_writing_to(pipe_inode)
                client = Implementation(name="amplifier-mcp", version="0.1.0")
                async with ClientSession(read, write, client_info=client) as session:
                    await session.initialize()
                    cursor: str | None = None
                    for _ in range(MAX_LIST_PAGES):
                        page = await session.list_tools(
                            params=PaginatedRequestParams(cursor=cursor) if cursor else None
                        )
                        self.tools.extend(page.tools)
                        cursor = page.next_cursor
                        if not cursor:
                            break
                    self.session = session
                    self._ready.set()
                    await self._stop.wait()
                    self.session = None
        finally:
            if not errlog.closed:
                errlog.close()

    async def _relay_stderr(self, fd: int) -> None:
        """Copy the server's stderr to ours (the Host's service log), line by line, prefixed."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
        )
        try:
            while line := await reader.readline():
                text = line.decode("utf-8", errors="replace").rstrip()
                self._stderr_tail.append(text)
                sys.stderr.write(f"[mcp:{self.spec.name}] {text}\n")
        finally:
            transport.close()

    # -- reporting --------------------------------------------------------

    def _tail(self) -> str:
        if not self._stderr_tail:
            return ""
        return "; its stderr ended with: " + " | ".join(self._stderr_tail)

    def _explain(self, exc: BaseException | None) -> str:
        if exc is not None:
            exc = _first_leaf(exc)
        if isinstance(exc, FileNotFoundError):
            return f"command {self.spec.command!r} was not found; check the server's command and PATH"
        if isinstance(exc, PermissionError):
            return f"command {self.spec.command!r} is not executable"
        if exc is None:
            return f"exited before it was ready{self._tail()}"
        return f"failed during the MCP handshake: {type(exc).__name__}: {exc}{self._tail()}"


async def _finished(task: asyncio.Task[None], timeout: float) -> bool:
    """Whether ``task`` ends within ``timeout`` (it is not cancelled if not)."""
    done, _ = await asyncio.wait({task}, timeout=timeout)
    return bool(done)


def _child_writing_to(pipe_inode: int) -> int | None:
    """The child of this process whose stderr is the pipe with that inode.

    The SDK does not expose the server's process; its stderr pipe, which only
    that server holds, identifies it exactly even when servers start in parallel.
    """
    me = os.getpid()
    target = f"pipe:[{pipe_inode}]"
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
            if int(stat[stat.rfind(b")") + 2 :].split()[1]) != me:
                continue
            if os.readlink(f"/proc/{entry}/fd/2") == target:
                return int(entry)
        except (OSError, ValueError, IndexError):
            continue
    return None


def _first_leaf(exc: BaseException) -> BaseException:
    """The first real error inside (possibly nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc
