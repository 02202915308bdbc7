"""Our messages (PROTOCOL §9) as the plain ``{role, content}`` list a chat template takes.

Small local models know only system, user and assistant turns. So all system
text goes into one leading system message, an assistant's tool calls are
written as the JSON the model is asked to produce, and a tool's result
becomes a user turn that names the tool.
"""

from __future__ import annotations

import json
from typing import Any

from amplifier_ipc_protocol.models import ChatRequest, Message, TextBlock, ToolResultBlock

__all__ = ["chat_messages"]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, TextBlock):
            parts.append(block.text)
        elif isinstance(block, ToolResultBlock):
            parts.append(_as_text(block.output))
    return "".join(parts)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _assistant(message: Message) -> str:
    parts = [_text_of(message.content)] if _text_of(message.content) else []
    for call in message.tool_calls or []:
        parts.append(json.dumps({"name": call.name, "arguments": call.arguments}, ensure_ascii=False))
    return "\n".join(parts)


def _tool_result(message: Message) -> str:
    name = message.name or "a tool"
    return f"Result of {name}:\n{_text_of(message.content)}"


def chat_messages(request: ChatRequest, tool_instructions: str = "") -> list[dict[str, str]]:
    """The conversation of ``request`` for the model's chat template."""
    system_parts = [request.system] if request.system else []
    turns: list[dict[str, str]] = []
    for message in request.messages:
        if message.role in ("system", "developer"):
            system_parts.append(_text_of(message.content))
        elif message.role == "assistant":
            turns.append({"role": "assistant", "content": _assistant(message)})
        elif message.role == "tool":
            turns.append({"role": "user", "content": _tool_result(message)})
        else:
            turns.append({"role": "user", "content": _text_of(message.content)})
    if tool_instructions:
        system_parts.append(tool_instructions)
    system = "\n\n".join(part for part in system_parts if part)
    return ([{"role": "system", "content": system}] if system else []) + turns
