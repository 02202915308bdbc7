"""The ``todo_reminder`` hook: while the todo list has open items, reminds the
model of them on each provider call (ephemeral: never stored)."""

from __future__ import annotations

from typing import Any

from amplifier_ipc_protocol import hook

from ..tools.todo import STATE_KEY, render

__all__ = ["TodoReminder"]


@hook(events=["provider:request"], priority=60, name="todo_reminder")
class TodoReminder:
    host: Any  # the HostClient, set by the Server

    def __init__(self) -> None:
        self.config: dict[str, Any] = {}

    async def handle(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        items = await self.host.state_get(STATE_KEY) or []
        if not any(isinstance(i, dict) and i.get("status") != "completed" for i in items):
            return {"action": "CONTINUE"}
        return {
            "action": "INJECT_CONTEXT",
            "context_injection": (
                "<todo-reminder>\nYour todo list (update it with the todo tool as you go):\n"
                f"{render(items)}\n</todo-reminder>"
            ),
            "ephemeral": True,
            "suppress_output": True,
        }
