"""Our request to Gemini's ``generateContent`` (google-genai types) and back.

Gemini may return function calls without ids; we give them ids (prefixed
``gemini-gen-``) and leave those out when the results go back, so ids that
Gemini issued are preserved and ours are never sent as if they were its own.
Thought signatures (bytes) travel base64-encoded in the ``signature`` of our
text/thinking blocks and tool calls, and are returned to Gemini next turn.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from .conversation import Conversation

__all__ = ["GENERATED_ID_PREFIX", "to_gemini", "GeminiAccumulator"]

GENERATED_ID_PREFIX = "gemini-gen-"
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter"}
# reasoning_effort -> thinking budget in tokens.
THINKING_BUDGETS = {"minimal": 512, "low": 2_048, "medium": 8_192, "high": 24_576}


def _signature(value: Any) -> bytes | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.b64decode(value)
    except ValueError:
        return None


def _contents(conversation: Conversation) -> list[Any]:
    from google.genai import types

    contents: list[Any] = []
    for message in conversation.messages:
        role = message["role"]
        parts: list[Any] = []
        if role == "assistant":
            for block in message["blocks"]:
                if block.get("type") == "text" and block.get("text"):
                    parts.append(
                        types.Part(text=block["text"], thought_signature=_signature(block.get("signature")))
                    )
            for call in message["tool_calls"]:
                call_id = None if str(call["id"]).startswith(GENERATED_ID_PREFIX) else call["id"]
                parts.append(
                    types.Part(
                        function_call=types.FunctionCall(
                            id=call_id, name=call["name"], args=call["arguments"]
                        ),
                        thought_signature=_signature(call.get("signature")),
                    )
                )
            wire_role = "model"
        elif role == "tool":
            call_id = (
                None
                if str(message["tool_call_id"]).startswith(GENERATED_ID_PREFIX)
                else message["tool_call_id"]
            )
            key = "error" if message.get("is_error") else "output"
            parts.append(
                types.Part(
                    function_response=types.FunctionResponse(
                        id=call_id, name=message["name"], response={key: message["content"]}
                    )
                )
            )
            wire_role = "user"
        else:
            content = message.get("content")
            if isinstance(content, str):
                if content:
                    parts.append(types.Part(text=content))
            else:
                for block in content or []:
                    if block.get("type") == "text" and block.get("text"):
                        parts.append(types.Part(text=block["text"]))
                    elif block.get("type") == "image" and (block.get("source") or {}).get("type") == "base64":
                        source = block["source"]
                        parts.append(
                            types.Part.from_bytes(
                                data=base64.b64decode(source["data"]), mime_type=source["media_type"]
                            )
                        )
            wire_role = "user"
        if not parts:
            continue
        if contents and contents[-1].role == wire_role:
            contents[-1].parts.extend(parts)
        else:
            contents.append(types.Content(role=wire_role, parts=parts))
    return contents


def _tool_config(choice: Any) -> Any:
    from google.genai import types

    mode: Any
    if choice in ("required", "any"):
        mode, names = types.FunctionCallingConfigMode.ANY, None
    elif choice == "none":
        mode, names = types.FunctionCallingConfigMode.NONE, None
    elif isinstance(choice, dict) and isinstance(choice.get("name"), str):
        mode, names = types.FunctionCallingConfigMode.ANY, [choice["name"]]
    else:
        return None
    return types.ToolConfig(
        function_calling_config=types.FunctionCallingConfig(mode=mode, allowed_function_names=names)
    )


def to_gemini(
    conversation: Conversation,
    request: dict[str, Any],
    *,
    model: str,
    max_tokens: int,
    thinking_budget: int | None,
    temperature: float | None,
) -> dict[str, Any]:
    """The keyword arguments of ``models.generate_content`` for this request."""
    from google.genai import types

    config = types.GenerateContentConfig(max_output_tokens=max_tokens)
    if conversation.system:
        config.system_instruction = conversation.system
    tools = request.get("tools") or []
    if tools:
        config.tools = [
            types.Tool(
                function_declarations=[
                    types.FunctionDeclaration(
                        name=t["name"],
                        description=t.get("description", ""),
                        parameters_json_schema=t.get("parameters") or {"type": "object", "properties": {}},
                    )
                    for t in tools
                ]
            )
        ]
        config.tool_config = _tool_config(request.get("tool_choice"))
    if thinking_budget is not None:
        config.thinking_config = types.ThinkingConfig(include_thoughts=True, thinking_budget=thinking_budget)
    if temperature is not None:
        config.temperature = temperature
    return {"model": model, "contents": _contents(conversation), "config": config}


class GeminiAccumulator:
    """Builds our ChatResponse from one or more ``GenerateContentResponse``
    objects (one when not streaming, one per event when streaming)."""

    def __init__(self) -> None:
        self.content: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.finish: str | None = None
        self.usage: Any = None
        self.model: str | None = None

    def _append(self, kind: str, text: str, signature: str | None) -> None:
        key = "thinking" if kind == "thinking" else "text"
        last = self.content[-1] if self.content else None
        if last is not None and last["type"] == kind and not last.get("signature"):
            last[key] += text
        else:
            self.content.append({"type": kind, key: text})
            last = self.content[-1]
        if signature:
            last["signature"] = signature

    def add(self, response: Any) -> list[tuple[str, Any]]:
        """Take one response; returns what to stream: ("text"|"thinking", str) or ("call", dict)."""
        events: list[tuple[str, Any]] = []
        self.model = getattr(response, "model_version", None) or self.model
        if getattr(response, "usage_metadata", None) is not None:
            self.usage = response.usage_metadata
        for candidate in (response.candidates or [])[:1]:
            if candidate.finish_reason is not None:
                reason = getattr(candidate.finish_reason, "value", candidate.finish_reason)
                self.finish = _FINISH.get(str(reason), str(reason).lower())
            parts = candidate.content.parts if candidate.content is not None else None
            for part in parts or []:
                signature = (
                    base64.b64encode(part.thought_signature).decode() if part.thought_signature else None
                )
                if part.function_call is not None:
                    call = {
                        "id": part.function_call.id or f"{GENERATED_ID_PREFIX}{uuid.uuid4().hex[:12]}",
                        "name": part.function_call.name or "",
                        "arguments": dict(part.function_call.args or {}),
                    }
                    if signature:
                        call["signature"] = signature
                    self.calls.append(call)
                    events.append(("call", call))
                elif part.text is not None and (part.text or signature):
                    kind = "thinking" if part.thought else "text"
                    self._append(kind, part.text, signature)
                    events.append((kind, part.text))
        return events

    def response(self) -> dict[str, Any]:
        usage = self.usage
        prompt = getattr(usage, "prompt_token_count", 0) or 0
        answer = getattr(usage, "candidates_token_count", 0) or 0
        thoughts = getattr(usage, "thoughts_token_count", 0) or 0
        cached = getattr(usage, "cached_content_token_count", 0) or 0
        result_usage: dict[str, Any] = {
            "input_tokens": prompt,
            "output_tokens": answer + thoughts,
            "total_tokens": getattr(usage, "total_token_count", None) or prompt + answer + thoughts,
        }
        if thoughts:
            result_usage["reasoning_tokens"] = thoughts
        if cached:
            result_usage["cache_read_tokens"] = cached
        finish = "tool_calls" if self.calls and self.finish in (None, "stop") else self.finish
        response: dict[str, Any] = {
            "content": self.content,
            "usage": result_usage,
            "finish_reason": finish,
            "metadata": {"model": self.model},
        }
        if self.calls:
            response["tool_calls"] = self.calls
        return response
