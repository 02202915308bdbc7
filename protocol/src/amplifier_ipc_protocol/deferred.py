"""Answering a request later, and hearing an answer at once, without a task.

A router that passes a request on to another peer (the Host's
``request.tool_execute``) needs no coroutine: it sends the request on and,
when that answer arrives, answers its own caller. ``Deferred`` marks a
handler that gets the incoming request's ``Reply`` and answers through it
whenever it likes; ``Peer.request_soon`` sends a request whose answer is
handed to a callback as it is read. Each saves a task and a turn of the
event loop per message, on the hottest path of a turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import ProtocolError, RequestCancelled

if TYPE_CHECKING:
    from .peer import Peer

__all__ = ["Answer", "Deferred", "Reply", "Waiter"]

Answer = Callable[[Any, ProtocolError | None], None]
"""Called with ``(result, None)`` or ``(None, error)``."""


class Deferred:
    """A handler ``fn(params, reply)`` that answers through ``reply``, now or later.

    Exceptions it raises before answering become the answer, as for any handler."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[dict[str, Any], Reply], None]) -> None:
        self.fn = fn


class Reply:
    """The pending answer to one incoming request of a ``Deferred`` handler.

    ``on_cancel`` (set by the handler) runs if the request is cancelled by the
    other side or the peer closes before it is answered: the place to cancel
    whatever the handler started on the request's behalf."""

    __slots__ = ("_done", "_peer", "id", "method", "on_cancel")

    def __init__(self, peer: Peer, request_id: int | str, method: str) -> None:
        self._peer = peer
        self._done = False
        self.id = request_id
        self.method = method
        self.on_cancel: Callable[[], object] | None = None

    def done(self) -> bool:
        return self._done

    def result(self, value: Any) -> None:
        """Answer with ``value`` (ignored if already answered)."""
        if not self._done:
            self._done = True
            self._peer._answer_deferred(self.id, value, None)

    def error(self, error: ProtocolError) -> None:
        """Answer with ``error`` (ignored if already answered)."""
        if not self._done:
            self._done = True
            self._peer._answer_deferred(self.id, None, error)

    def cancel(self) -> bool:
        """The request is withdrawn: run ``on_cancel`` and answer that it was cancelled."""
        if self._done:
            return False
        callback, self.on_cancel = self.on_cancel, None
        self.error(RequestCancelled(f"{self.method} was cancelled"))
        if callback is not None:
            callback()
        return True


class Waiter:
    """Stands in for the future of a ``request_soon`` request: the Peer settles
    it as it settles futures, and it calls ``answer`` at once."""

    __slots__ = ("_answer", "timer")

    def __init__(self, answer: Answer) -> None:
        self._answer: Answer | None = answer
        self.timer: asyncio.TimerHandle | None = None

    def done(self) -> bool:
        return self._answer is None

    def set_result(self, value: Any) -> None:
        self._settle(value, None)

    def set_exception(self, error: ProtocolError) -> None:
        self._settle(None, error)

    def _settle(self, value: Any, error: ProtocolError | None) -> None:
        answer, self._answer = self._answer, None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if answer is not None:
            answer(value, error)
