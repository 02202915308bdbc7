"""The writing side of a Peer: answers go out at once, notifications in bursts.

Requests and answers are written at once (``send``). Notifications are
queued (``queue``) and written when the loop next runs, or as soon as
``COALESCE_LIMIT_BYTES`` wait, so a burst of streamed tokens costs a few
writes instead of one per token. While a chunk of input is being dispatched
(``batching``), everything it produces is written in one go at its end.
Order is kept: anything queued goes out before what is sent after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

__all__ = ["COALESCE_LIMIT_BYTES", "Outbox", "Writer"]

# Queued notifications are written once this many bytes wait, so the other
# side starts reading while a fast producer is still producing; an awaited
# send then waits for the pipe (drain), so memory stays bounded.
COALESCE_LIMIT_BYTES = 64 * 1024

_WRITE_ERRORS = (ConnectionError, OSError, RuntimeError)


class Writer(Protocol):
    """What a Peer writes to: an asyncio StreamWriter, or anything alike."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...

    async def drain(self) -> None: ...


class Outbox:
    """Buffers and writes the bytes of one Peer. ``on_failure(reason)`` is
    called once when a write fails; later writes are dropped."""

    __slots__ = (
        "_buffer",
        "_loop",
        "_on_failure",
        "_put",
        "_scheduled",
        "_size",
        "_writer",
        "batching",
        "drain_due",
        "failed",
    )

    def __init__(
        self, writer: Writer, loop: asyncio.AbstractEventLoop, on_failure: Callable[[str], None]
    ) -> None:
        self._writer = writer
        # A StreamWriter's write only calls its transport's: call that directly
        # (one Python call less per message written).
        transport = writer.transport if isinstance(writer, asyncio.StreamWriter) else None
        self._put: Callable[[bytes], object] = transport.write if transport is not None else writer.write
        self._loop = loop
        self._on_failure = on_failure
        self._buffer: list[bytes] = []
        self._size = 0
        self._scheduled = False
        self.batching = False
        """True while a chunk of input is dispatched: writes wait for its end."""
        self.drain_due = False
        """True when a burst was written and the sender should await ``drain``."""
        self.failed = False

    def queue(self, data: bytes) -> None:
        """Write ``data`` soon: when the loop next runs, at the end of the
        input chunk being dispatched, or once enough bytes wait."""
        if self.failed:
            return
        self._buffer.append(data)
        self._size += len(data)
        if self.batching:
            return
        if self._size >= COALESCE_LIMIT_BYTES:
            self.flush()
            self.drain_due = True
        elif not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._scheduled_flush)

    def send(self, data: bytes) -> None:
        """Write ``data`` now, after anything queued before it."""
        if self.failed:
            return
        if self.batching or self._buffer:
            self._buffer.append(data)
            self._size += len(data)
            if not self.batching:
                self.flush()
            return
        self._write(data)

    def flush(self) -> None:
        """Write everything queued, in one write."""
        buffer = self._buffer
        if not buffer:
            return
        data = buffer[0] if len(buffer) == 1 else b"".join(buffer)
        buffer.clear()
        self._size = 0
        if not self.failed:
            self._write(data)

    async def drain(self) -> None:
        """Wait until the pipe has taken most of what was written."""
        self.drain_due = False
        try:
            await self._writer.drain()
        except _WRITE_ERRORS as exc:
            self._fail(exc)

    def close(self) -> None:
        """Flush, then close the writer."""
        self.flush()
        try:
            self._writer.close()
        except _WRITE_ERRORS:
            pass

    def _scheduled_flush(self) -> None:
        self._scheduled = False
        self.flush()

    def _write(self, data: bytes) -> None:
        try:
            self._put(data)
        except _WRITE_ERRORS as exc:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        if not self.failed:
            self.failed = True
            self._on_failure(f"write failed: {exc}")
