"""Taking a StreamReader's bytes as its transport delivers them.

A Peer normally reads with ``await reader.read()``: every chunk wakes its
reading task, one more turn of the event loop per message. An asyncio
StreamReader is fed by its protocol calling ``feed_data``, ``feed_eof`` and
``set_exception``; ``take_over`` puts instance attributes in their place so
the bytes go straight to the Peer, and gives them back afterwards.

When the stream is a pipe's own StreamReaderProtocol's, the protocol's
``data_received`` is pointed at ``feed`` as well: two Python calls less per
chunk, on the path of every message (the transport is told with
``set_protocol``, which makes uvloop look the method up again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["take_over"]

_TAKEN = ("feed_data", "feed_eof", "set_exception")


def take_over(
    stream: asyncio.StreamReader, feed: Callable[[bytes], None], ended: asyncio.Future[str]
) -> Callable[[], None]:
    """Send ``stream``'s bytes to ``feed`` (those it already holds first) and
    set ``ended`` to the reason when it ends. Returns the function that gives
    the stream its own methods back."""

    def feed_eof() -> None:
        if not ended.done():
            ended.set_result("end of stream")

    def set_exception(exc: BaseException) -> None:
        if not ended.done():
            ended.set_result(f"read failed: {exc}")

    buffered: bytearray = getattr(stream, "_buffer", bytearray())
    held = bytes(buffered)
    buffered.clear()
    for name, replacement in zip(_TAKEN, (feed, feed_eof, set_exception), strict=True):
        setattr(stream, name, replacement)
    shortcut = _shortcut(stream, feed)
    if held:
        feed(held)
    failed = stream.exception()
    if failed is not None:
        set_exception(failed)
    elif getattr(stream, "_eof", False):
        feed_eof()

    def give_back() -> None:
        for name in _TAKEN:
            stream.__dict__.pop(name, None)
        if shortcut is not None:
            shortcut()

    return give_back


def _shortcut(stream: asyncio.StreamReader, feed: Callable[[bytes], None]) -> Callable[[], None] | None:
    """Have the stream's pipe protocol hand chunks to ``feed`` itself; returns
    what undoes it, or None when the stream is fed some other way."""
    transport = getattr(stream, "_transport", None)
    if transport is None:
        return None
    protocol = transport.get_protocol()
    if type(protocol) is not asyncio.StreamReaderProtocol or protocol._stream_reader is not stream:  # type: ignore[attr-defined]
        return None
    protocol.data_received = feed  # type: ignore[method-assign,assignment]
    transport.set_protocol(protocol)

    def undo() -> None:
        protocol.__dict__.pop("data_received", None)
        if not transport.is_closing():
            transport.set_protocol(protocol)

    return undo
