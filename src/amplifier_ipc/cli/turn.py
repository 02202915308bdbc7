"""Drive one turn of a Host: feed its events to a sink, answer approvals, map Ctrl-C to cancel."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..host import events as ev

__all__ = ["TurnOutcome", "EventSink", "drive_turn", "exit_code_for"]

ApprovalAsker = Callable[[dict[str, Any]], Awaitable[str | None]]


class EventSink(Protocol):
    def handle(self, event: ev.Event) -> None: ...


@dataclass(slots=True)
class TurnOutcome:
    session_id: str
    status: str = "failed"
    response: Any = None
    usage: dict[str, Any] = field(default_factory=dict)
    duration_ms: float = 0.0
    error: str | None = None
    interrupted: bool = False


def exit_code_for(outcome: TurnOutcome) -> int:
    """0 done, 1 failed, 130 interrupted (cancelled by the user)."""
    if outcome.status == "completed":
        return 0
    if outcome.status == "cancelled" or outcome.interrupted:
        return 130
    return 1


async def drive_turn(
    host: Any,
    prompt: str,
    sink: EventSink,
    *,
    ask_approval: ApprovalAsker | None = None,
    handle_sigint: bool = True,
) -> TurnOutcome:
    """Run ``prompt`` on ``host`` to its ``complete`` event.

    The first Ctrl-C cancels gracefully, the second at once. Approval requests
    go to ``ask_approval`` when given; otherwise the Host applies its mode.
    """
    started = time.perf_counter()
    outcome = TurnOutcome(session_id=host.session_id)
    loop = asyncio.get_running_loop()
    approvals: set[asyncio.Task[None]] = set()

    def on_sigint() -> None:
        outcome.interrupted = True
        host.cancel(immediate=False)

    if handle_sigint:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    try:
        async for event in host.run(prompt):
            sink.handle(event)
            if event.type == ev.APPROVAL_REQUEST and ask_approval is not None:
                task = loop.create_task(_answer(host, ask_approval, event.data))
                approvals.add(task)
                task.add_done_callback(approvals.discard)
            elif event.type == ev.COMPLETE and not event.parent_id:
                outcome.status = event.data.get("status", "failed")
                outcome.response = event.data.get("response")
                outcome.usage = event.data.get("usage") or {}
                outcome.error = event.data.get("error")
    finally:
        if handle_sigint:
            loop.remove_signal_handler(signal.SIGINT)
        for task in approvals:
            task.cancel()
    outcome.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    return outcome


async def _answer(host: Any, ask: ApprovalAsker, data: dict[str, Any]) -> None:
    decision = await ask(data)
    if decision is None:
        return
    try:
        host.send_approval(data["request_id"], decision)
    except (KeyError, ValueError):
        pass  # it timed out meanwhile and its default applied
