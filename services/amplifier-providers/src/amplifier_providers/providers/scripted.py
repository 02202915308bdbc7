"""A deterministic provider for demos and tests: it follows a script file.

Config: ``script`` (path to a YAML list, one entry per model call, relative
to the working directory) and ``record`` (path of a JSON-lines file that gets
every request it receives). The position in the script is kept in session
state under ``scripted.position``, so it survives across turns. Past the end
of the script, a call fails with a clear, non-retryable ProviderError.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from amplifier_ipc_protocol import provider

from ..script import ScriptEntry, ScriptError, is_typed_user_message, load_script, unmet_expectations
from ..streaming import BlockStream, split_tokens

POSITION_KEY = "scripted.position"
# Scripted answers pretend to have a large window so context managers never compact them.
CONTEXT_WINDOW = 200_000
MAX_OUTPUT_TOKENS = 8_192
# A rough, stable token estimate for the usage of requests: four characters a token.
CHARS_PER_TOKEN = 4


@provider(raw_request=True)
class Scripted:
    """Answers from a script, or with a fixed sentence when it has none."""

    name = "scripted"

    def __init__(self) -> None:
        self.config: dict[str, Any] = {}
        self.host: Any = None
        self._entries: list[ScriptEntry] | None = None
        self._script_path: str | None = None
        self._lock = asyncio.Lock()

    def configure(self, config: dict[str, Any]) -> None:
        from amplifier_ipc_protocol import InvalidParams

        unknown = sorted(set(config) - {"script", "record"})
        if unknown:
            raise InvalidParams(f"scripted has no config keys {unknown}; it knows script and record")
        script = config.get("script")
        record = config.get("record")
        if record is not None and not isinstance(record, str):
            raise InvalidParams("scripted: record must be a file path")
        if script is None:
            self._entries, self._script_path = None, None
            return
        if not isinstance(script, str) or not script:
            raise InvalidParams("scripted: script must be the path of a YAML file")
        try:
            self._entries = load_script(script)
        except ScriptError as exc:
            raise InvalidParams(str(exc)) from None
        self._script_path = script

    def info(self) -> dict[str, Any]:
        model = {
            "id": "scripted",
            "display_name": "Scripted replies",
            "context_window": CONTEXT_WINDOW,
            "max_output_tokens": MAX_OUTPUT_TOKENS,
            "capabilities": ["streaming", "tools", "thinking"],
        }
        return {
            "id": "scripted",
            "display_name": "Scripted (deterministic, for demos and tests)",
            "models": [model],
            "capabilities": ["streaming", "tools", "thinking"],
            "defaults": {
                "model": "scripted",
                "context_window": CONTEXT_WINDOW,
                "max_output_tokens": MAX_OUTPUT_TOKENS,
            },
        }

    async def complete(self, request: Any) -> dict[str, Any]:
        wire: dict[str, Any] = request.to_wire() if hasattr(request, "to_wire") else dict(request)
        if self._entries is None:
            self._record(None, wire)
            return await self._respond(ScriptEntry(number=0, text=_fixed_reply(wire)), wire)
        async with self._lock:
            position = await self._position()
            if position >= len(self._entries):
                self._record(position + 1, wire)
                raise _error(
                    f"scripted: the script {self._script_path} has {len(self._entries)} entries and all "
                    f"were used; this is model call {position + 1}. Add entries to the script, or start "
                    f"a new session (the position is kept in session state {POSITION_KEY!r})",
                    status=None,
                    retryable=False,
                    script_exhausted=True,
                )
            entry = self._entries[position]
            await self.host.state_set(POSITION_KEY, position + 1)
        self._record(entry.number, wire)
        problems = unmet_expectations(entry.expect, wire)
        if problems:
            raise _error(
                f"scripted: entry {entry.number} of {self._script_path} expected a different request: "
                + "; ".join(problems),
                status=None,
                retryable=False,
                expectation_failed=True,
            )
        if entry.error is not None:
            error = entry.error
            status = error["code"]
            retryable = error["retryable"]
            if retryable is None:
                from ..errors import is_retryable_status

                retryable = is_retryable_status(status)
            raise _error(
                error["message"], status=status, retryable=retryable, retry_after=error["retry_after"]
            )
        return await self._respond(entry, wire)

    async def _position(self) -> int:
        value = await self.host.state_get(POSITION_KEY)
        return value if isinstance(value, int) and value >= 0 else 0

    def _record(self, call: int | None, wire: dict[str, Any]) -> None:
        path = self.config.get("record")
        if not path:
            return
        line = json.dumps({"call": call, "request": wire}, ensure_ascii=False)
        with open(os.path.abspath(path), "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    async def _respond(self, entry: ScriptEntry, wire: dict[str, Any]) -> dict[str, Any]:
        stream = BlockStream(self.host)
        content: list[dict[str, Any]] = []
        output_tokens = 0
        if entry.thinking:
            for piece in split_tokens(entry.thinking):
                await stream.thinking(piece)
                output_tokens += 1
            content.append(
                {"type": "thinking", "thinking": entry.thinking, "signature": f"scripted:{entry.number}"}
            )
        if entry.text:
            for piece in split_tokens(entry.text):
                await stream.text(piece)
                output_tokens += 1
            content.append({"type": "text", "text": entry.text})
        await stream.close()
        for call in entry.tool_calls:
            await stream.tool_call_start(call["id"], call["name"])
        input_tokens = len(json.dumps(wire, ensure_ascii=False)) // CHARS_PER_TOKEN
        usage = {"input_tokens": input_tokens, "output_tokens": output_tokens, **(entry.usage or {})}
        if "total_tokens" not in (entry.usage or {}):
            usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        response: dict[str, Any] = {
            "content": content,
            "usage": usage,
            "finish_reason": "tool_calls" if entry.tool_calls else "stop",
            "metadata": {"scripted_entry": entry.number},
        }
        if entry.tool_calls:
            response["tool_calls"] = [dict(call) for call in entry.tool_calls]
        return response


def _fixed_reply(wire: dict[str, Any]) -> str:
    last = ""
    for message in reversed(wire.get("messages") or []):
        if is_typed_user_message(message):
            content = message.get("content")
            if isinstance(content, list):
                content = "".join(b.get("text", "") for b in content if isinstance(b, dict))
            last = str(content or "")
            break
    tools = [t.get("name", "?") for t in wire.get("tools") or []]
    offered = ", ".join(tools) if tools else "none"
    return f'Scripted reply to "{last}". Tools offered: {offered}.'


def _error(message: str, **data: Any) -> Exception:
    from ..errors import provider_error

    return provider_error(message, **data)
