"""Message shapes the orchestrator builds (PROTOCOL §9, lead's conventions)."""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "text_of",
    "tool_result_text",
    "tool_message",
    "failed_result",
    "apply_injections",
    "add_usage",
]

# What a tool call that never ran is answered with, so every call has a result.
CANCELLED_RESULT_TEXT = "cancelled: the user stopped the turn before this tool call finished"


def text_of(content: Any) -> str:
    """The text blocks of a message or response content, joined."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "".join(
        str(block.get("text", ""))
        for block in content
        if isinstance(block, dict) and block.get("type") == "text"
    )


def failed_result(message: str, type_: str = "ToolError") -> dict[str, Any]:
    """A ToolResult that failed with ``message``."""
    return {"success": False, "output": None, "error": {"message": message, "type": type_}}


def tool_result_text(result: dict[str, Any]) -> str:
    """The text the model reads for a ToolResult."""
    output = result.get("output")
    if output is None:
        text = ""
    elif isinstance(output, str):
        text = output
    else:
        text = json.dumps(output, ensure_ascii=False, default=str)
    if result.get("success", True):
        return text
    error = result.get("error") or {}
    message = error.get("message") if isinstance(error, dict) else str(error)
    detail = f"Error: {message or 'the tool failed'}"
    return f"{detail}\n{text}" if text else detail


def tool_message(call: dict[str, Any], result: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    """The tool-role message that answers ``call``."""
    return {
        "role": "tool",
        "tool_call_id": call["id"],
        "name": call["name"],
        "content": tool_result_text(result),
        "metadata": {"success": bool(result.get("success", True)), **metadata},
    }


def apply_injections(
    messages: list[dict[str, Any]], injections: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A copy of ``messages`` with hook injections added for one provider call.

    An injection marked ``append_to_last_tool_result`` is appended to the
    newest message when it is a tool result (so the model reads it with that
    result); otherwise each injection becomes a message of its role.
    """
    view = list(messages)
    for injection in injections:
        text = injection["text"]
        if injection.get("append_to_last_tool_result") and view and view[-1].get("role") == "tool":
            last = dict(view[-1])
            last["content"] = f"{text_of(last.get('content'))}\n\n{text}"
            view[-1] = last
            continue
        # Marked, so a reader of the request can tell hook context from what the user typed.
        view.append(
            {"role": injection.get("role") or "user", "content": text, "metadata": {"injected": True}}
        )
    return view


def add_usage(total: dict[str, int], usage: Any) -> None:
    """Add a response's usage numbers into ``total``."""
    if not isinstance(usage, dict):
        return
    for key, value in usage.items():
        if isinstance(value, int) and not isinstance(value, bool):
            total[key] = total.get(key, 0) + value
