"""Taking a StreamReader's bytes as its transport delivers them.

A Peer normally reads with ``await reader.read()``: every chunk wakes its
reading task, one more turn of the event loop per message. An asyncio
StreamReader is fed by its protocol calling ``feed_data``, ``feed_eof`` and
``set_exception``; ``take_over`` puts instance attributes in their place so
the bytes go straight to the Peer, and gives them back afterwards.
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

    def feed_data(data: bytes) -> None:
        if not ended.done():
            feed(data)

    def feed_eof() -> None:
        if not ended.done():
            ended.set_result("end of stream")

    def set_exception(exc: BaseException) -> None:
        if not ended.done():
            ended.set_result(f"read failed: {exc}")

    buffered: bytearray = getattr(stream, "_buffer", bytearray())
    held = bytes(buffered)
    buffered.clear()
    for name, replacement in zip(_TAKEN, (feed_data, feed_eof, set_exception), strict=True):
        setattr(stream, name, replacement)
    if held:
        feed_data(held)
    failed = stream.exception()
    if failed is not None:
        set_exception(failed)
    elif getattr(stream, "_eof", False):
        feed_eof()

    def give_back() -> None:
        for name in _TAKEN:
            stream.__dict__.pop(name, None)

    return give_back
