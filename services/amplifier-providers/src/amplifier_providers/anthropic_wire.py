"""Our request to Anthropic's Messages API and its answer back.

Thinking blocks keep their signatures both ways, so extended thinking
continues across turns; prompt caching marks the system prompt, the last tool
and the last message as cache breakpoints (three of the four allowed).
"""

from __future__ import annotations

from typing import Any

from .conversation import Conversation

__all__ = ["THINKING_BUDGETS", "to_anthropic", "from_anthropic", "usage_of"]

# reasoning_effort -> thinking budget in tokens. Anthropic's minimum is 1024.
THINKING_BUDGETS = {"minimal": 1_024, "low": 4_096, "medium": 10_000, "high": 32_000}
# Room left for the answer itself when a thinking budget is added to max_tokens.
ANSWER_ROOM_TOKENS = 4_096
_CACHE = {"type": "ephemeral"}
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "refusal": "content_filter",
}


def _user_blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for block in content or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and block.get("text"):
            blocks.append({"type": "text", "text": block["text"]})
        elif block.get("type") == "image":
            blocks.append({"type": "image", "source": block.get("source", {})})
    return blocks


def _assistant_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for block in message["blocks"]:
        kind = block.get("type")
        if kind == "thinking" and block.get("signature"):
            # Unsigned thinking (from another vendor) cannot be replayed to Anthropic.
            blocks.append(
                {"type": "thinking", "thinking": block.get("thinking", ""), "signature": block["signature"]}
            )
        elif kind == "redacted_thinking" and block.get("data"):
            blocks.append({"type": "redacted_thinking", "data": block["data"]})
        elif kind == "text" and block.get("text"):
            blocks.append({"type": "text", "text": block["text"]})
    for call in message["tool_calls"]:
        blocks.append(
            {"type": "tool_use", "id": call["id"], "name": call["name"], "input": call["arguments"]}
        )
    return blocks


def _messages(conversation: Conversation) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in conversation.messages:
        role = message["role"]
        if role == "assistant":
            wire_role, blocks = "assistant", _assistant_blocks(message)
        elif role == "tool":
            result: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": message["tool_call_id"],
                "content": message["content"],
            }
            if message.get("is_error"):
                result["is_error"] = True
            wire_role, blocks = "user", [result]
        else:
            wire_role, blocks = "user", _user_blocks(message.get("content"))
        if not blocks:
            continue
        if out and out[-1]["role"] == wire_role:
            out[-1]["content"].extend(blocks)  # the API wants turns to alternate
        else:
            out.append({"role": wire_role, "content": blocks})
    return out


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice in (None, "auto"):
        return None
    if choice in ("required", "any"):
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, dict) and isinstance(choice.get("name"), str):
        return {"type": "tool", "name": choice["name"]}
    return None


def to_anthropic(
    conversation: Conversation,
    request: dict[str, Any],
    *,
    model: str,
    max_tokens: int,
    caching: bool,
    thinking_budget: int | None,
    temperature: float | None,
) -> dict[str, Any]:
    """The keyword arguments of ``messages.create`` for this request."""
    messages = _messages(conversation)
    kwargs: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": max_tokens}
    if conversation.system:
        system: dict[str, Any] = {"type": "text", "text": conversation.system}
        if caching:
            system["cache_control"] = _CACHE
        kwargs["system"] = [system]
    tools = [
        {
            "name": t["name"],
            "description": t.get("description", ""),
            "input_schema": t.get("parameters") or {"type": "object", "properties": {}},
        }
        for t in request.get("tools") or []
    ]
    if tools:
        if caching:
            tools[-1]["cache_control"] = _CACHE
        kwargs["tools"] = tools
        choice = _tool_choice(request.get("tool_choice"))
        if choice is not None:
            kwargs["tool_choice"] = choice
    if caching and messages:
        last = messages[-1]["content"][-1]
        if last.get("type") not in ("thinking", "redacted_thinking"):
            last["cache_control"] = _CACHE
    if thinking_budget is not None:
        kwargs["max_tokens"] = max(max_tokens, thinking_budget + ANSWER_ROOM_TOKENS)
        kwargs["thinking"] = {"type": "enabled", "budget_tokens": thinking_budget}
    elif temperature is not None:
        kwargs["temperature"] = temperature  # the API refuses a temperature with thinking
    return kwargs


def usage_of(usage: Any) -> dict[str, Any]:
    """Anthropic's usage in our shape: ``input_tokens`` counts cached tokens too."""
    fresh = getattr(usage, "input_tokens", 0) or 0
    read = getattr(usage, "cache_read_input_tokens", 0) or 0
    written = getattr(usage, "cache_creation_input_tokens", 0) or 0
    output = getattr(usage, "output_tokens", 0) or 0
    total_input = fresh + read + written
    return {
        "input_tokens": total_input,
        "output_tokens": output,
        "total_tokens": total_input + output,
        "cache_read_tokens": read,
        "cache_write_tokens": written,
    }


def from_anthropic(message: Any) -> dict[str, Any]:
    """Our ChatResponse for an Anthropic ``Message``."""
    content: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for block in message.content:
        kind = block.type
        if kind == "text":
            content.append({"type": "text", "text": block.text})
        elif kind == "thinking":
            content.append({"type": "thinking", "thinking": block.thinking, "signature": block.signature})
        elif kind == "redacted_thinking":
            content.append({"type": "redacted_thinking", "data": block.data})
        elif kind == "tool_use":
            calls.append({"id": block.id, "name": block.name, "arguments": dict(block.input or {})})
    response: dict[str, Any] = {
        "content": content,
        "usage": usage_of(message.usage),
        "finish_reason": _FINISH.get(message.stop_reason or "", message.stop_reason),
        "metadata": {"model": message.model, "id": message.id, "stop_reason": message.stop_reason},
    }
    if calls:
        response["tool_calls"] = calls
    return response
