"""Run a coroutine's first step at once; make a task only if it suspends.

Most request handlers (``ping``, ``describe``, a quick tool) finish without
ever waiting. Running them inline, the way Python 3.12's eager tasks do,
saves a task and a turn of the event loop per message; a handler that does
wait continues in an ordinary task, so it can still be cancelled.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Generator
from typing import Any

__all__ = ["start_eagerly"]

_NOTHING: Any = object()


class _Resumed(Coroutine[Any, Any, Any]):
    """Hands a coroutine that already ran its first step over to a Task.

    The Task's first step receives what the coroutine yielded in that first
    step (the future it waits on); every later step is passed straight on.
    """

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self._coro = coro
        self._first = first

    def send(self, value: Any) -> Any:
        first = self._first
        if first is not _NOTHING:
            self._first = _NOTHING
            return first
        return self._coro.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        self._first = _NOTHING
        if val is None and tb is None:
            return self._coro.throw(typ)
        return self._coro.throw(typ, val, tb)  # pragma: no cover - old three-argument form

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, Any]:
        raise TypeError("a resumed coroutine is driven by its Task only")  # pragma: no cover


def start_eagerly(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], name: str | None = None
) -> asyncio.Task[Any] | None:
    """Run ``coro`` up to its first suspension now, in a copy of the current
    context. Returns None when it finished (its result is dropped: use it for
    coroutines that deliver their own outcome), else the Task running the rest.

    An exception raised by the first step propagates to the caller.
    """
    context = contextvars.copy_context()
    try:
        first = context.run(coro.send, None)
    except StopIteration:
        return None
    return loop.create_task(_Resumed(coro, first), name=name, context=context)
