"""The script file of the ``scripted`` provider: loading, checking, expectations.

A script is a YAML list with one entry per model call (docs/scripted-provider.md)::

    - text: "Let me look."
      tool_calls: [{name: read_file, arguments: {path: README.md}}]
      expect: {system_contains: "You are", tools_include: [read_file]}
    - error: {code: 429, retryable: true, retry_after: 0}
    - text: "Done."

Any mistake in the file is reported with the entry number and what to fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ENTRY_KEYS", "EXPECT_KEYS", "ScriptError", "ScriptEntry", "load_script", "unmet_expectations"]

ENTRY_KEYS = frozenset({"text", "thinking", "tool_calls", "error", "usage", "expect"})
EXPECT_KEYS = frozenset(
    {
        "system_contains",
        "system_not_contains",
        "tools",
        "tools_include",
        "tools_exclude",
        "last_user_contains",
        "messages_contain",
        "message_count",
        "model",
    }
)
USAGE_KEYS = frozenset(
    {
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "reasoning_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
    }
)


class ScriptError(ValueError):
    """The script file is missing, is not YAML, or has a malformed entry."""


@dataclass(slots=True)
class ScriptEntry:
    """One model call of a script."""

    number: int
    text: str = ""
    thinking: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    usage: dict[str, int] | None = None
    expect: dict[str, Any] = field(default_factory=dict)


def load_script(path: str) -> list[ScriptEntry]:
    """Read and check the script at ``path`` (relative to the working directory)."""
    from amplifier_ipc_protocol.yamlcache import YAMLError, load_yaml

    full = os.path.abspath(path)
    try:
        with open(full, "rb") as handle:
            raw = load_yaml(handle.read())  # parsed once per content, then read as JSON
    except FileNotFoundError:
        raise ScriptError(
            f"scripted: the script {path} does not exist (looked in {full}); "
            "give a YAML file path relative to the working directory"
        ) from None
    except OSError as exc:
        raise ScriptError(f"scripted: cannot read the script {path}: {exc}") from None
    except YAMLError as exc:
        raise ScriptError(f"scripted: the script {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, list) or not raw:
        raise ScriptError(
            f"scripted: the script {path} must be a non-empty YAML list with one entry per model call, "
            f"got {type(raw).__name__ if raw is not None else 'an empty file'}"
        )
    return [_entry(path, number, item) for number, item in enumerate(raw, start=1)]


def _entry(path: str, number: int, item: Any) -> ScriptEntry:
    where = f"scripted: {path} entry {number}"
    if isinstance(item, str):
        item = {"text": item}
    if not isinstance(item, dict):
        raise ScriptError(f"{where} must be a mapping like {{text: ...}}, got {type(item).__name__}")
    unknown = sorted(set(item) - ENTRY_KEYS)
    if unknown:
        raise ScriptError(f"{where} has unknown keys {unknown}; allowed: {sorted(ENTRY_KEYS)}")
    entry = ScriptEntry(number=number)
    text = item.get("text", "")
    if not isinstance(text, str):
        raise ScriptError(f"{where}: text must be a string")
    entry.text = text
    thinking = item.get("thinking")
    if thinking is not None and not isinstance(thinking, str):
        raise ScriptError(f"{where}: thinking must be a string")
    entry.thinking = thinking
    entry.tool_calls = _tool_calls(where, number, item.get("tool_calls"))
    entry.error = _error(where, item.get("error"))
    if entry.error is not None and (entry.text or entry.thinking or entry.tool_calls):
        raise ScriptError(f"{where}: an entry with error cannot also have text, thinking or tool_calls")
    entry.usage = _usage(where, item.get("usage"))
    expect = item.get("expect") or {}
    if not isinstance(expect, dict):
        raise ScriptError(f"{where}: expect must be a mapping")
    unknown = sorted(set(expect) - EXPECT_KEYS)
    if unknown:
        raise ScriptError(f"{where}: expect has unknown keys {unknown}; allowed: {sorted(EXPECT_KEYS)}")
    entry.expect = expect
    return entry


def _tool_calls(where: str, number: int, raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ScriptError(f"{where}: tool_calls must be a list of {{name, arguments}}")
    calls = []
    for index, call in enumerate(raw, start=1):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise ScriptError(f"{where}: tool call {index} needs a name")
        arguments = call.get("arguments", {})
        if not isinstance(arguments, dict):
            raise ScriptError(f"{where}: tool call {index} ({call['name']}) arguments must be a mapping")
        call_id = call.get("id", f"call_{number}_{index}")
        if not isinstance(call_id, str) or not call_id:
            raise ScriptError(f"{where}: tool call {index} id must be a non-empty string")
        calls.append({"id": call_id, "name": call["name"], "arguments": arguments})
    return calls


def _error(where: str, raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or "code" not in raw:
        raise ScriptError(f"{where}: error must be a mapping with a code (an HTTP status such as 429)")
    code = raw["code"]
    if not isinstance(code, int) or isinstance(code, bool):
        raise ScriptError(f"{where}: error code must be an integer HTTP status, got {code!r}")
    retryable = raw.get("retryable")
    if retryable is not None and not isinstance(retryable, bool):
        raise ScriptError(f"{where}: error retryable must be true or false")
    retry_after = raw.get("retry_after")
    if retry_after is not None and (not isinstance(retry_after, (int, float)) or retry_after < 0):
        raise ScriptError(f"{where}: error retry_after must be a number of seconds >= 0")
    message = raw.get("message", f"scripted error {code}")
    if not isinstance(message, str):
        raise ScriptError(f"{where}: error message must be a string")
    return {"code": code, "retryable": retryable, "retry_after": retry_after, "message": message}


def _usage(where: str, raw: Any) -> dict[str, int] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - USAGE_KEYS:
        raise ScriptError(f"{where}: usage must be a mapping with keys among {sorted(USAGE_KEYS)}")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in raw.values()):
        raise ScriptError(f"{where}: usage values must be whole numbers >= 0")
    return dict(raw)


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text"
        )
    return ""


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


def unmet_expectations(expect: dict[str, Any], request: dict[str, Any]) -> list[str]:
    """What the request fails of ``expect``, one sentence each (empty when all hold)."""
    problems: list[str] = []
    system = request.get("system") or ""
    messages = request.get("messages") or []
    tools = [t.get("name") for t in request.get("tools") or []]
    short_system = system if len(system) <= 200 else system[:200] + "..."
    for needle in _as_list(expect.get("system_contains")):
        if needle not in system:
            problems.append(f"the system prompt should contain {needle!r}; it was {short_system!r}")
    for needle in _as_list(expect.get("system_not_contains")):
        if needle in system:
            problems.append(f"the system prompt should not contain {needle!r}")
    if "tools" in expect and sorted(tools) != sorted(_as_list(expect["tools"])):
        problems.append(
            f"the tools offered should be {sorted(_as_list(expect['tools']))}; they were {sorted(tools)}"
        )
    missing = [n for n in _as_list(expect.get("tools_include")) if n not in tools]
    if missing:
        problems.append(f"the tools offered should include {missing}; they were {sorted(tools)}")
    present = [n for n in _as_list(expect.get("tools_exclude")) if n in tools]
    if present:
        problems.append(f"the tools offered should not include {present}")
    if "last_user_contains" in expect:
        users = [m for m in messages if is_typed_user_message(m)]
        last = _text_of(users[-1]) if users else ""
        for needle in _as_list(expect["last_user_contains"]):
            if needle not in last:
                problems.append(f"the last user message should contain {needle!r}; it was {last[:200]!r}")
    for needle in _as_list(expect.get("messages_contain")):
        if not any(needle in _text_of(m) for m in messages):
            problems.append(f"some message should contain {needle!r}")
    if "message_count" in expect and len(messages) != expect["message_count"]:
        problems.append(f"there should be {expect['message_count']} messages; there were {len(messages)}")
    if "model" in expect and request.get("model") != expect["model"]:
        problems.append(f"the model should be {expect['model']!r}; it was {request.get('model')!r}")
    return problems


def is_typed_user_message(message: dict[str, Any]) -> bool:
    """A user message the user wrote, not context a hook injected for one call
    (the foundation orchestrator marks those ``metadata.injected``)."""
    metadata = message.get("metadata")
    return message.get("role") == "user" and not (isinstance(metadata, dict) and metadata.get("injected"))
