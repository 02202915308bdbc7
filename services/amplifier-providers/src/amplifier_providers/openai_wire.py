"""Our request to OpenAI's Chat Completions format and its answer back.

The same format serves OpenAI, Azure OpenAI and the OpenAI-compatible servers
(vLLM, llama.cpp server, LM Studio). Thinking from other vendors cannot be
replayed in this format and is left out; reasoning text that a compatible
server streams as ``reasoning_content`` comes back as a thinking block.
"""

from __future__ import annotations

import json
from typing import Any

from .conversation import Conversation

__all__ = ["to_openai", "from_openai", "ChatStreamAccumulator", "usage_of", "parse_arguments"]

_FINISH = {"stop": "stop", "tool_calls": "tool_calls", "function_call": "tool_calls", "length": "length"}


def parse_arguments(raw: str | None) -> dict[str, Any]:
    """A tool call's JSON arguments; text that is not a JSON object is kept
    under ``_unparsed_arguments`` so the tool's schema check reports it."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"_unparsed_arguments": raw}
    return value if isinstance(value, dict) else {"_unparsed_arguments": raw}


def _image_url(source: dict[str, Any]) -> str:
    if source.get("type") == "url":
        return str(source.get("url", ""))
    return f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"


def _user_content(content: Any) -> Any:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for block in content or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            parts.append({"type": "text", "text": block.get("text", "")})
        elif block.get("type") == "image":
            parts.append({"type": "image_url", "image_url": {"url": _image_url(block.get("source") or {})}})
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def _messages(conversation: Conversation, system_role: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if conversation.system:
        out.append({"role": system_role, "content": conversation.system})
    for message in conversation.messages:
        role = message["role"]
        if role == "assistant":
            text = "".join(b.get("text", "") for b in message["blocks"] if b.get("type") == "text")
            wire: dict[str, Any] = {"role": "assistant", "content": text or None}
            if message["tool_calls"]:
                wire["tool_calls"] = [
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])},
                    }
                    for call in message["tool_calls"]
                ]
            elif not text:
                continue
            out.append(wire)
        elif role == "tool":
            out.append(
                {"role": "tool", "tool_call_id": message["tool_call_id"], "content": message["content"]}
            )
        else:
            out.append({"role": "user", "content": _user_content(message.get("content"))})
    return out


def _tool_choice(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if choice == "any":
        return "required"
    if isinstance(choice, dict) and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    return None


def to_openai(
    conversation: Conversation,
    request: dict[str, Any],
    *,
    model: str,
    max_tokens: int,
    max_tokens_field: str,
    reasoning_effort: str | None,
    temperature: float | None,
    stream: bool,
    system_role: str = "system",
) -> dict[str, Any]:
    """The keyword arguments of ``chat.completions.create`` for this request."""
    kwargs: dict[str, Any] = {
        "model": model,
        "messages": _messages(conversation, system_role),
        max_tokens_field: max_tokens,
    }
    tools = [
        {
            "type": "function",
            "function": {
                "name": t["name"],
                "description": t.get("description", ""),
                "parameters": t.get("parameters") or {"type": "object", "properties": {}},
            },
        }
        for t in request.get("tools") or []
    ]
    if tools:
        kwargs["tools"] = tools
        choice = _tool_choice(request.get("tool_choice"))
        if choice is not None:
            kwargs["tool_choice"] = choice
    if reasoning_effort:
        kwargs["reasoning_effort"] = reasoning_effort
    if temperature is not None:
        kwargs["temperature"] = temperature
    if stream:
        kwargs["stream"] = True
        kwargs["stream_options"] = {"include_usage": True}
    return kwargs


def usage_of(usage: Any) -> dict[str, Any]:
    """Chat Completions usage in our shape."""
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
    prompt = getattr(usage, "prompt_tokens", 0) or 0
    completion = getattr(usage, "completion_tokens", 0) or 0
    result: dict[str, Any] = {
        "input_tokens": prompt,
        "output_tokens": completion,
        "total_tokens": getattr(usage, "total_tokens", None) or prompt + completion,
    }
    details = getattr(usage, "completion_tokens_details", None)
    reasoning = getattr(details, "reasoning_tokens", None) if details is not None else None
    if reasoning:
        result["reasoning_tokens"] = reasoning
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(prompt_details, "cached_tokens", None) if prompt_details is not None else None
    if cached:
        result["cache_read_tokens"] = cached
    return result


def _response(
    text: str, reasoning: str, calls: list[dict[str, Any]], finish: str | None, usage: Any, model: str | None
) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reasoning:
        content.append({"type": "thinking", "thinking": reasoning})
    if text:
        content.append({"type": "text", "text": text})
    response: dict[str, Any] = {
        "content": content,
        "usage": usage_of(usage),
        "finish_reason": _FINISH.get(finish or "", finish),
        "metadata": {"model": model},
    }
    if calls:
        response["tool_calls"] = calls
    return response


def from_openai(completion: Any) -> dict[str, Any]:
    """Our ChatResponse for a non-streamed ``ChatCompletion``."""
    choice = completion.choices[0]
    message = choice.message
    calls = [
        {"id": c.id, "name": c.function.name, "arguments": parse_arguments(c.function.arguments)}
        for c in message.tool_calls or []
    ]
    reasoning = getattr(message, "reasoning_content", None) or ""
    return _response(
        message.content or "", reasoning, calls, choice.finish_reason, completion.usage, completion.model
    )


class ChatStreamAccumulator:
    """Builds the final answer out of streamed ``ChatCompletionChunk`` objects."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish: str | None = None
        self.usage: Any = None
        self.model: str | None = None

    def add(self, chunk: Any) -> tuple[str, str, list[dict[str, Any]]]:
        """Take one chunk; returns its (text, reasoning, newly started tool calls)."""
        self.model = getattr(chunk, "model", None) or self.model
        if getattr(chunk, "usage", None) is not None:
            self.usage = chunk.usage
        if not chunk.choices:
            return "", "", []
        choice = chunk.choices[0]
        if choice.finish_reason:
            self.finish = choice.finish_reason
        delta = choice.delta
        text = getattr(delta, "content", None) or ""
        reasoning = getattr(delta, "reasoning_content", None) or ""
        started = []
        for piece in getattr(delta, "tool_calls", None) or []:
            call = self.calls.get(piece.index)
            if call is None:
                call = self.calls[piece.index] = {
                    "id": piece.id or f"call_{piece.index}",
                    "name": "",
                    "arguments": "",
                }
                started.append(call)
            function = piece.function
            if function is not None:
                call["name"] += function.name or ""
                call["arguments"] += function.arguments or ""
        if text:
            self.text.append(text)
        if reasoning:
            self.reasoning.append(reasoning)
        return text, reasoning, started

    def response(self) -> dict[str, Any]:
        calls = [
            {"id": c["id"], "name": c["name"], "arguments": parse_arguments(c["arguments"])}
            for _, c in sorted(self.calls.items())
        ]
        return _response(
            "".join(self.text), "".join(self.reasoning), calls, self.finish, self.usage, self.model
        )
