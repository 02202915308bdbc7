"""The ``todo`` tool: the model's task list, kept in session state
(``todo.items``) so it survives turns."""

from __future__ import annotations

from typing import Any

from amplifier_ipc_protocol import tool

from ._results import fail, ok

__all__ = ["Todo", "STATE_KEY", "render"]

STATE_KEY = "todo.items"
_MARKS = {"pending": "[ ]", "in_progress": "[~]", "completed": "[x]"}


def render(items: list[dict[str, Any]]) -> str:
    """The list as the model and the user read it."""
    if not items:
        return "(no todos)"
    return "\n".join(f"{_MARKS.get(i.get('status', ''), '[ ]')} {i.get('content', '')}" for i in items)


@tool(name="todo")
class Todo:
    name = "todo"
    description = (
        "Keep a task list for multi-step work. action 'read' shows it; action 'write' replaces it with `todos` "
        "(each {content, status: pending|in_progress|completed}). Keep one item in_progress at a time "
        "and mark items completed as soon as they are done."
    )
    input_schema = {
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": ["read", "write"]},
            "todos": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "content": {"type": "string", "minLength": 1},
                        "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]},
                    },
                    "required": ["content", "status"],
                },
            },
        },
        "required": ["action"],
        "additionalProperties": False,
    }

    host: Any  # the HostClient, set by the Server

    async def execute(self, input: dict[str, Any]) -> dict[str, Any]:
        if input["action"] == "read":
            items = await self.host.state_get(STATE_KEY) or []
            return ok(render(items))
        todos = input.get("todos")
        if todos is None:
            return fail("action 'write' needs todos: the whole new list")
        items = [{"content": t["content"], "status": t["status"]} for t in todos]
        await self.host.state_set(STATE_KEY, items)
        await self.host.notify("stream.todo_update", {"todos": items})
        done = sum(1 for i in items if i["status"] == "completed")
        return ok(f"{done}/{len(items)} done\n{render(items)}")
