"""Our request to Ollama's ``/api/chat`` and its answer back.

Ollama gives tool calls no ids, so we make them (prefixed ``ollama-gen-``);
tool results go back by tool name, in order, which is how Ollama matches them.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from .conversation import Conversation

__all__ = ["GENERATED_ID_PREFIX", "to_ollama", "OllamaAccumulator"]

GENERATED_ID_PREFIX = "ollama-gen-"
_FINISH = {"stop": "stop", "length": "length"}


def _messages(conversation: Conversation) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if conversation.system:
        out.append({"role": "system", "content": conversation.system})
    for message in conversation.messages:
        role = message["role"]
        if role == "assistant":
            wire: dict[str, Any] = {
                "role": "assistant",
                "content": "".join(b.get("text", "") for b in message["blocks"] if b.get("type") == "text"),
            }
            thinking = "".join(
                b.get("thinking", "") for b in message["blocks"] if b.get("type") == "thinking"
            )
            if thinking:
                wire["thinking"] = thinking
            if message["tool_calls"]:
                wire["tool_calls"] = [
                    {"function": {"name": c["name"], "arguments": c["arguments"]}}
                    for c in message["tool_calls"]
                ]
            out.append(wire)
        elif role == "tool":
            out.append({"role": "tool", "content": message["content"], "tool_name": message["name"]})
        else:
            content = message.get("content")
            if isinstance(content, str):
                out.append({"role": "user", "content": content})
                continue
            text = "".join(b.get("text", "") for b in content or [] if b.get("type") == "text")
            images = [
                b["source"]["data"]
                for b in content or []
                if b.get("type") == "image" and (b.get("source") or {}).get("type") == "base64"
            ]
            user: dict[str, Any] = {"role": "user", "content": text}
            if images:
                user["images"] = images
            out.append(user)
    return out


def to_ollama(
    conversation: Conversation,
    request: dict[str, Any],
    *,
    model: str,
    max_tokens: int,
    context_window: int,
    think: bool | str | None,
    temperature: float | None,
    stream: bool,
) -> dict[str, Any]:
    """The keyword arguments of ``AsyncClient.chat`` for this request."""
    options: dict[str, Any] = {"num_predict": max_tokens, "num_ctx": context_window}
    if temperature is not None:
        options["temperature"] = temperature
    kwargs: dict[str, Any] = {
        "model": model,
        "messages": _messages(conversation),
        "options": options,
        "stream": stream,
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
    if tools and request.get("tool_choice") != "none":
        kwargs["tools"] = tools
    if think is not None:
        kwargs["think"] = think
    return kwargs


class OllamaAccumulator:
    """Builds our ChatResponse from Ollama ``ChatResponse`` objects (one, or one per streamed line)."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.thinking: list[str] = []
        self.calls: list[dict[str, Any]] = []
        self.finish: str | None = None
        self.input_tokens = 0
        self.output_tokens = 0
        self.model: str | None = None

    def add(self, chunk: Any) -> tuple[str, str, list[dict[str, Any]]]:
        """Take one response; returns its (text, thinking, new tool calls)."""
        self.model = getattr(chunk, "model", None) or self.model
        message = chunk.message
        text = message.content or ""
        thinking = getattr(message, "thinking", None) or ""
        started = []
        for call in message.tool_calls or []:
            arguments = call.function.arguments
            if isinstance(arguments, str):
                try:
                    arguments = json.loads(arguments)
                except ValueError:
                    arguments = {"_unparsed_arguments": arguments}
            entry = {
                "id": f"{GENERATED_ID_PREFIX}{uuid.uuid4().hex[:12]}",
                "name": call.function.name,
                "arguments": dict(arguments or {}),
            }
            self.calls.append(entry)
            started.append(entry)
        if text:
            self.text.append(text)
        if thinking:
            self.thinking.append(thinking)
        if chunk.done:
            self.finish = chunk.done_reason or "stop"
            self.input_tokens = chunk.prompt_eval_count or 0
            self.output_tokens = chunk.eval_count or 0
        return text, thinking, started

    def response(self) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if self.thinking:
            content.append({"type": "thinking", "thinking": "".join(self.thinking)})
        if self.text:
            content.append({"type": "text", "text": "".join(self.text)})
        finish = _FINISH.get(self.finish or "", self.finish)
        if self.calls and finish in (None, "stop"):
            finish = "tool_calls"
        response: dict[str, Any] = {
            "content": content,
            "usage": {
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "total_tokens": self.input_tokens + self.output_tokens,
            },
            "finish_reason": finish,
            "metadata": {"model": self.model},
        }
        if self.calls:
            response["tool_calls"] = self.calls
        return response
