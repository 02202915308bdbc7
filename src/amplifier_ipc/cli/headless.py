"""Output for programs: ``json`` (one object at the end) and ``stream-json`` (one event per line)."""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from ..host import events as ev
from .turn import TurnOutcome

__all__ = ["StreamJsonSink", "JsonSink", "result_object"]


def result_object(outcome: TurnOutcome) -> dict[str, Any]:
    """The final line: what a caller needs to know about the turn."""
    out: dict[str, Any] = {
        "type": "result",
        "session_id": outcome.session_id,
        "response": outcome.response,
        "usage": outcome.usage,
        "duration_ms": outcome.duration_ms,
        "status": outcome.status,
    }
    if outcome.error:
        out["error"] = outcome.error
    return out


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


class StreamJsonSink:
    """Every event as a JSON line, flushed at once so a reader sees it live."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout

    def handle(self, event: ev.Event) -> None:
        self.out.write(_dump(event.to_json()) + "\n")
        self.out.flush()

    def finish(self, outcome: TurnOutcome) -> None:
        self.out.write(_dump(result_object(outcome)) + "\n")
        self.out.flush()


class JsonSink:
    """Nothing while the turn runs; one object at the end, with errors and tool calls collected."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout
        self.errors: list[dict[str, Any]] = []
        self.tool_calls: list[dict[str, Any]] = []

    def handle(self, event: ev.Event) -> None:
        if event.type == ev.ERROR:
            self.errors.append(event.data)
        elif event.type == ev.TOOL_CALL:
            self.tool_calls.append(
                {"id": event.data.get("id"), "name": event.data.get("name"), "input": event.data.get("input")}
            )

    def finish(self, outcome: TurnOutcome) -> None:
        result = result_object(outcome)
        result["tool_calls"] = self.tool_calls
        if self.errors:
            result["errors"] = self.errors
        self.out.write(_dump(result) + "\n")
        self.out.flush()
