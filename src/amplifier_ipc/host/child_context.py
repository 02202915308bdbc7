"""What a child session starts from: its parent's context, and the rules that shape its turn.

- ``parent_context_message`` formats the parent's transcript, cut to a
  depth (``none``, ``recent`` = the last ``turns`` turns, ``all``) and a
  scope (``conversation`` = user and assistant text, ``agents`` = plus
  earlier delegations, ``full`` = plus every tool call and result), as one
  clearly labelled user message.
- ``apply_session_rules`` applies a session's tool and hook filters to its
  routing table (what the model is offered and may call, which hooks run)
  and picks its provider from ``provider_preferences``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

import orjson

from .config import SessionConfig
from .routing import HookRoute, RoutingTable

__all__ = [
    "CONTEXT_DEPTHS",
    "CONTEXT_SCOPES",
    "PARENT_CONTEXT_SOURCE",
    "apply_session_rules",
    "parent_context_message",
]

CONTEXT_DEPTHS = ("none", "recent", "all")
CONTEXT_SCOPES = ("conversation", "agents", "full")
# Marks the message in the child's transcript (metadata.source).
PARENT_CONTEXT_SOURCE = "parent_context"
# One tool result or call input quoted in the parent context is cut to this:
# a file dump would crowd out the task itself.
MAX_QUOTED_CHARS = 2000
DELEGATE_TOOL = "delegate"


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        return "".join(p for p in parts if isinstance(p, str))
    return ""


def _quote(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    if len(text) > MAX_QUOTED_CHARS:
        return text[:MAX_QUOTED_CHARS] + f" [... {len(text) - MAX_QUOTED_CHARS} more characters]"
    return text


def _is_turn_start(message: dict[str, Any]) -> bool:
    source = (message.get("metadata") or {}).get("source")
    return message.get("role") == "user" and source not in ("hook", PARENT_CONTEXT_SOURCE)


def _turns(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    turns: list[list[dict[str, Any]]] = []
    for message in messages:
        if _is_turn_start(message) or not turns:
            turns.append([])
        turns[-1].append(message)
    return turns


def _lines(messages: list[dict[str, Any]], scope: str) -> list[str]:
    results = {m.get("tool_call_id"): m for m in messages if m.get("role") == "tool"}
    lines: list[str] = []
    for message in messages:
        role = message.get("role")
        if role == "user" and _is_turn_start(message):
            text = _text(message.get("content")).strip()
            if text:
                lines.append(f"User: {text}")
        elif role == "assistant":
            text = _text(message.get("content")).strip()
            if text:
                lines.append(f"Assistant: {text}")
            for call in message.get("tool_calls") or []:
                if not isinstance(call, dict):
                    continue
                wanted = scope == "full" or (scope == "agents" and call.get("name") == DELEGATE_TOOL)
                result = results.get(call.get("id"))
                if not wanted or result is None:  # unanswered: the call in flight, this delegation itself
                    continue
                ok = (result.get("metadata") or {}).get("success", True)
                lines.append(
                    f"Tool call {call.get('name')} {_quote(call.get('arguments') or {})}\n"
                    f"Result ({'success' if ok else 'failed'}): {_quote(_text(result.get('content')))}"
                )
    return lines


def parent_context_message(
    messages: list[dict[str, Any]], *, parent_id: str, depth: str, scope: str, turns: int
) -> dict[str, Any] | None:
    """The labelled message holding the parent's context, or None when there is none to give."""
    if depth == "none":
        return None
    chosen = _turns(messages)
    if depth == "recent":
        chosen = chosen[-turns:] if turns > 0 else []
    lines = [line for turn in chosen for line in _lines(turn, scope)]
    if not lines:
        return None
    extent = "the whole conversation" if depth == "all" else f"the last {turns} turn(s)"
    kept = {
        "conversation": "user and assistant text only",
        "agents": "user and assistant text, and earlier delegations with their results",
        "full": "user and assistant text, and every tool call with its result",
    }[scope]
    header = (
        f"[Context from the parent session {parent_id}: {extent}, {kept}. "
        "It is background for the task that follows, which is yours to do.]"
    )
    body = "\n\n".join(lines)
    return {
        "role": "user",
        "content": f"{header}\n\n{body}\n\n[End of the parent session's context]",
        "metadata": {"source": PARENT_CONTEXT_SOURCE, "parent_id": parent_id, "depth": depth, "scope": scope},
    }


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _hook_matches(route: HookRoute, patterns: list[str]) -> bool:
    return _matches(route.name, patterns) or _matches(f"{route.service}:{route.name}", patterns)


def apply_session_rules(table: RoutingTable, config: SessionConfig, warn: Callable[[str], None]) -> None:
    """Filter ``table``'s tools and hooks by ``config``; set its provider from its preferences."""
    if config.inherit_tools is not None or config.exclude_tools:
        keep = {
            name: route
            for name, route in table.tools.items()
            if (config.inherit_tools is None or _matches(name, config.inherit_tools))
            and not _matches(name, config.exclude_tools)
        }
        table.tools.clear()
        table.tools.update(keep)
    if config.inherit_hooks is not None or config.exclude_hooks:
        inherit = config.inherit_hooks
        table.hooks[:] = [
            h
            for h in table.hooks
            if (inherit is None or _hook_matches(h, inherit)) and not _hook_matches(h, config.exclude_hooks)
        ]
    if config.provider_preferences:
        offered = {ref.name: ref for ref in table.providers} | {str(ref): ref for ref in table.providers}
        for preference in config.provider_preferences:
            ref = offered.get(str(preference.get("provider")))
            if ref is not None:
                config.provider = str(ref)
                config.model = preference.get("model") or None
                return
        wanted = ", ".join(str(p.get("provider")) for p in config.provider_preferences)
        warn(
            f"none of the preferred providers ({wanted}) is offered in this session "
            f"(offered: {', '.join(str(r) for r in table.providers) or 'none'}); "
            "keeping the session's own provider"
        )
