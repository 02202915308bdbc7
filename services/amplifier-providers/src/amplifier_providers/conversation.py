"""Our messages (PROTOCOL §9), made valid for any vendor before conversion.

Every vendor insists that each tool call is answered by exactly one tool result
right after it. A session cancelled mid-tool, or a history cut by a context
manager, can break that; ``prepare`` repairs it with a clear note instead of
sending something the vendor rejects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MISSING_RESULT_NOTE",
    "Conversation",
    "prepare",
    "text_of",
    "tool_result_text",
]

MISSING_RESULT_NOTE = (
    "[No result: this tool call was interrupted before it returned. "
    "The history was repaired by amplifier-providers; the call may not have run.]"
)


@dataclass(slots=True)
class Conversation:
    """A request's messages in a shape every vendor module can convert.

    ``system`` joins the request's system prompt and any system or developer
    messages; ``messages`` hold only user, assistant and tool messages, each
    assistant message with ``blocks`` (text/thinking/redacted_thinking) and
    ``tool_calls``; ``repairs`` says what was fixed.
    """

    system: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or the text blocks of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text"
        )
    return "" if content is None else str(content)


def tool_result_text(content: Any) -> str:
    """A tool result's content as the text a model reads."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(b, dict) and b.get("type") == "text" for b in content):
        return text_of(content)
    return json.dumps(content, ensure_ascii=False, default=str)


def _assistant(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    blocks: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    if isinstance(content, str):
        if content:
            blocks.append({"type": "text", "text": content})
    elif isinstance(content, list):
        for block in content:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind in ("text", "thinking", "redacted_thinking"):
                blocks.append(block)
            elif kind == "tool_call":
                calls.append(
                    {"id": block.get("id"), "name": block.get("name"), "arguments": block.get("input") or {}}
                )
    for call in message.get("tool_calls") or []:
        if not any(c["id"] == call.get("id") for c in calls):
            # Extra fields (a vendor's signature for the call) ride along.
            calls.append({**call, "arguments": call.get("arguments") or {}})
    return {"role": "assistant", "blocks": blocks, "tool_calls": calls}


def _missing_result(call: dict[str, Any]) -> dict[str, Any]:
    return {
        "role": "tool",
        "tool_call_id": call["id"],
        "name": call["name"],
        "content": MISSING_RESULT_NOTE,
        "is_error": True,
    }


def prepare(request: dict[str, Any]) -> Conversation:
    """Split out the system text and repair tool calls without results (and
    results without calls) in the request's messages."""
    system_parts = [request["system"]] if request.get("system") else []
    conversation = Conversation(system="")
    out = conversation.messages
    pending: dict[str, dict[str, Any]] = {}

    def flush() -> None:
        for call in pending.values():
            out.append(_missing_result(call))
            conversation.repairs.append(
                f"tool call {call['id']} ({call['name']}) had no result; a note saying it was interrupted was added"
            )
        pending.clear()

    for message in request.get("messages") or []:
        role = message.get("role")
        if role in ("system", "developer"):
            text = text_of(message.get("content"))
            if text:
                system_parts.append(text)
            continue
        if role == "assistant":
            flush()
            assistant = _assistant(message)
            for call in assistant["tool_calls"]:
                pending[call["id"]] = call
            if assistant["blocks"] or assistant["tool_calls"]:
                out.append(assistant)
            continue
        if role == "tool":
            call_id = message.get("tool_call_id")
            text = tool_result_text(message.get("content"))
            failed = bool((message.get("metadata") or {}).get("success") is False)
            call = pending.pop(call_id, None) if isinstance(call_id, str) else None
            if call is None:
                name = message.get("name") or "a tool"
                out.append(
                    {
                        "role": "user",
                        "content": f"[Result of {name} (call {call_id}), whose call is not in this conversation]\n"
                        + text,
                    }
                )
                conversation.repairs.append(
                    f"tool result {call_id} had no matching call; it was sent as user text"
                )
                continue
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": call_id,
                    "name": message.get("name") or call["name"],
                    "content": text,
                    "is_error": failed,
                }
            )
            continue
        flush()
        out.append({"role": "user", "content": message.get("content") or ""})
    flush()
    conversation.system = "\n\n".join(system_parts)
    return conversation
