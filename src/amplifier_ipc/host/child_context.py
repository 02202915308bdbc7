"""What a child session starts from: its parent's context, and the rules that shape its turn.

- ``parent_context_message`` formats the parent's transcript, cut to a
  depth (``none``, ``recent`` = the last ``turns`` turns, ``all``) and a
  scope (``conversation`` = user and assistant text, ``agents`` = plus
  earlier delegations, ``full`` = plus every tool call and result), as one
  clearly labelled user message.
- ``apply_session_rules`` applies a session's tool and hook filters to its
  routing table (what the model is offered and may call, which hooks run)
  and picks its provider from ``provider_preferences``.
- ``child_config`` derives a child's ``SessionConfig`` from its parent's
  (``ParentSide``), the spawn's options (``Delegation``) and its agent: the
  Host uses it at every spawn and resume, the CLI when it continues a child
  (``cli/agents.py``), so both build the same child.
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from amplifier_ipc_protocol.errors import InvalidParams

from .child_spare import SELF_AGENT
from .config import SessionConfig
from .routing import HookRoute, RoutingTable

__all__ = [
    "CONTEXT_DEPTHS",
    "CONTEXT_SCOPES",
    "PARENT_CONTEXT_SOURCE",
    "Delegation",
    "MarkdownAgent",
    "ParentSide",
    "apply_session_rules",
    "child_config",
    "parent_context_message",
    "parse_agent_markdown",
]

CONTEXT_DEPTHS = ("none", "recent", "all")
CONTEXT_SCOPES = ("conversation", "agents", "full")
# Marks the message in the child's transcript (metadata.source).
PARENT_CONTEXT_SOURCE = "parent_context"
# One tool result or call input quoted in the parent context is cut to this:
# a file dump would crowd out the task itself.
MAX_QUOTED_CHARS = 2000
DELEGATE_TOOL = "delegate"
DEFAULT_CONTEXT_TURNS = 3
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n?(.*)\Z", re.DOTALL)


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


# -- the child's config -----------------------------------------------------------


def _strings(params: dict[str, Any], key: str) -> list[str] | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidParams(f'{key} must be a list of names (for example ["bash", "web_*"])')
    return list(value)


@dataclass(slots=True)
class Delegation:
    """The validated parameters of a spawn, kept in the child's metadata for its resumes."""

    agent: str
    context_depth: str = "none"
    context_scope: str = "conversation"
    context_turns: int = DEFAULT_CONTEXT_TURNS
    exclude_tools: list[str] = field(default_factory=list)
    inherit_tools: list[str] | None = None
    exclude_hooks: list[str] = field(default_factory=list)
    inherit_hooks: list[str] | None = None
    provider_preferences: list[dict[str, str]] = field(default_factory=list)
    model_role: str | None = None

    @classmethod
    def parse(cls, params: dict[str, Any]) -> Delegation:
        agent = params.get("agent")
        if not isinstance(agent, str) or not agent.strip():
            raise InvalidParams('session_spawn needs an agent name ("self" for a copy of this agent)')
        depth = params.get("context_depth") or "none"
        if depth not in CONTEXT_DEPTHS:
            raise InvalidParams(f"context_depth must be one of {', '.join(CONTEXT_DEPTHS)}, not {depth!r}")
        scope = params.get("context_scope") or "conversation"
        if scope not in CONTEXT_SCOPES:
            raise InvalidParams(f"context_scope must be one of {', '.join(CONTEXT_SCOPES)}, not {scope!r}")
        turns = params.get("context_turns", DEFAULT_CONTEXT_TURNS)
        if not isinstance(turns, int) or isinstance(turns, bool) or turns < 1:
            raise InvalidParams(f"context_turns must be a whole number of turns, 1 or more, not {turns!r}")
        preferences = params.get("provider_preferences") or []
        if not isinstance(preferences, list) or not all(
            isinstance(p, dict) and isinstance(p.get("provider"), str) and isinstance(p.get("model", ""), str)
            for p in preferences
        ):
            raise InvalidParams(
                'provider_preferences must be a list of {"provider": name, "model": id} objects, '
                "most preferred first"
            )
        role = params.get("model_role")
        if role is not None and (not isinstance(role, str) or not role):
            raise InvalidParams("model_role must be a role name such as fast, coding or reasoning")
        return cls(
            agent=agent.strip(),
            context_depth=depth,
            context_scope=scope,
            context_turns=turns,
            exclude_tools=_strings(params, "exclude_tools") or [],
            inherit_tools=_strings(params, "inherit_tools"),
            exclude_hooks=_strings(params, "exclude_hooks") or [],
            inherit_hooks=_strings(params, "inherit_hooks"),
            provider_preferences=[dict(p) for p in preferences],
            model_role=role,
        )

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def parse_agent_markdown(text: str, source: str) -> tuple[dict[str, Any], str]:
    """(front matter, body) of an agent's Markdown; ``InvalidParams`` naming ``source`` if malformed."""
    import yaml  # only when a Markdown agent is used

    found = _FRONT_MATTER.match(text)
    if found is None:
        raise InvalidParams(f"{source} has no YAML front matter (a block between two --- lines at the top)")
    try:
        meta = yaml.safe_load(found.group(1)) or {}
    except yaml.YAMLError as exc:
        raise InvalidParams(f"{source}: its front matter is not valid YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise InvalidParams(f"{source}: its front matter must be a mapping")
    tools = meta.get("tools")
    if tools is not None and not (isinstance(tools, list) and all(isinstance(t, str) for t in tools)):
        raise InvalidParams(f"{source}: tools must be a list of tool names")
    if not isinstance(meta.get("config") or {}, dict):
        raise InvalidParams(f"{source}: config must be a mapping of component name to settings")
    return meta, found.group(2).strip()


@dataclass(slots=True)
class MarkdownAgent:
    """A Markdown agent's file as a service shipped it when its child was spawned.

    Kept in the child's metadata (``agent_markdown``): the child's resumes, by
    its parent's ``delegate`` or from the CLI, run the agent it was spawned with.
    """

    source: str
    """``<service>:agents/<name>.md``."""
    text: str

    def to_json(self) -> dict[str, str]:
        return {"source": self.source, "text": self.text}

    @classmethod
    def from_json(cls, value: Any) -> MarkdownAgent | None:
        if (
            isinstance(value, dict)
            and isinstance(value.get("source"), str)
            and isinstance(value.get("text"), str)
        ):
            return cls(value["source"], value["text"])
        return None


@dataclass(slots=True)
class ParentSide:
    """What a child's config is derived from: its parent session as it runs."""

    config: SessionConfig
    session_id: str
    depth: int
    """The parent's delegation depth (0: the user's session)."""
    sessions_dir: Path | None
    provider_service: str | None = None
    """The service of the parent's provider: a named agent without a provider runs it too."""
    capabilities: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Service name -> its described capabilities, to route a Markdown agent's ``config``."""


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _intersect(first: list[str] | None, second: list[str] | None) -> list[str] | None:
    """What both allow (None allows everything); a pattern of one keeps the names of the other it matches."""
    if first is None:
        return None if second is None else list(second)
    if second is None:
        return list(first)
    kept = [name for name in first if _matches(name, second)]
    kept += [name for name in second if _matches(name, first)]
    return _unique(kept)


def _clone(parent: SessionConfig) -> SessionConfig:
    """The parent's resolved definition: its services, provider, prompt; none of its session rules."""
    config = copy.deepcopy(parent)
    config.initial_messages, config.metadata = [], {}
    config.exclude_tools, config.inherit_tools = [], None
    config.exclude_hooks, config.inherit_hooks = [], None
    config.provider_preferences = []
    return config


def _merge(child: SessionConfig, parent: ParentSide) -> tuple[SessionConfig, bool]:
    """``child`` over the parent (what it leaves out comes from the parent); True if it takes the provider."""
    config = copy.deepcopy(child)
    own = {spec.name: spec for spec in config.services}
    for spec in parent.config.services:
        mine = own.get(spec.name)
        if mine is not None:
            mine.config = {**copy.deepcopy(spec.config), **mine.config}
    takes_provider = config.provider is None
    if takes_provider:
        config.provider, config.model = parent.config.provider, config.model or parent.config.model
        service = parent.provider_service
        if service is not None and service not in own:
            config.services += [copy.deepcopy(s) for s in parent.config.services if s.name == service]
    config.exclude_hooks, config.inherit_hooks = [], None
    return config, takes_provider


def _component_names(capabilities: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for kind in ("tools", "hooks", "providers", "orchestrators", "context_managers"):
        for entry in capabilities.get(kind) or []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                names.add(entry["name"])
    return names


def _from_markdown(agent: MarkdownAgent, parent: ParentSide) -> SessionConfig:
    meta, body = parse_agent_markdown(agent.text, agent.source)
    config = _clone(parent.config)
    config.system_prompt = body
    config.agent_description = str(meta.get("description") or "").strip()
    config.orchestrator = str(meta.get("orchestrator") or config.orchestrator)
    config.context_manager = str(meta.get("context_manager") or config.context_manager)
    tools = meta.get("tools")
    config.inherit_tools = list(tools) if tools is not None else None
    for component, settings in (meta.get("config") or {}).items():
        if not isinstance(settings, dict):
            raise InvalidParams(f"{agent.source}: the config for {component} must be a mapping of settings")
        owners = {
            name for name, caps in parent.capabilities.items() if str(component) in _component_names(caps)
        }
        for spec in config.services:
            if spec.name in owners:
                spec.config[str(component)] = {**spec.config.get(str(component), {}), **settings}
    return config


def child_config(
    parent: ParentSide,
    delegation: Delegation,
    *,
    resolved: SessionConfig | None = None,
    markdown: MarkdownAgent | None = None,
) -> SessionConfig:
    """The child's SessionConfig (its ``session_id`` is left to the caller).

    The agent: ``self`` is a copy of the parent's resolved definition;
    ``resolved`` (a registered agent) is merged over the parent; ``markdown``
    runs on the parent's services with its own prompt and tools. Then:

    - tools: the parent's tool filters bound every session below it (a
      child is never offered a tool its parent may not use), the agent's and
      the request's are added; ``delegate`` only when the request names it;
    - hooks, ``provider_preferences``, ``model_role``: the request's, for this
      child only. A child that runs on its parent's provider (``self``, a
      Markdown agent, a named agent without a provider) keeps the parent's
      preferences when the request has none, so it gets the same provider.
    """
    p = parent.config
    if delegation.agent == SELF_AGENT:
        config, takes_provider = _clone(p), True
    elif resolved is not None:
        config, takes_provider = _merge(resolved, parent)
    elif markdown is not None:
        config, takes_provider = _from_markdown(markdown, parent), True
    else:
        raise ValueError(f"agent {delegation.agent!r} needs its resolved config or its Markdown")
    config.agent = p.agent if delegation.agent == SELF_AGENT else delegation.agent
    config.parent_id = parent.session_id
    config.depth = parent.depth + 1
    config.sessions_dir = parent.sessions_dir
    config.working_dir = p.working_dir
    config.approval_mode = p.approval_mode
    config.exclude_tools = _unique([*p.exclude_tools, *config.exclude_tools, *delegation.exclude_tools])
    config.inherit_tools = _intersect(
        _intersect(p.inherit_tools, config.inherit_tools), delegation.inherit_tools
    )
    if DELEGATE_TOOL not in (delegation.inherit_tools or []) and DELEGATE_TOOL not in config.exclude_tools:
        config.exclude_tools.append(DELEGATE_TOOL)
    config.exclude_hooks = list(delegation.exclude_hooks)
    config.inherit_hooks = None if delegation.inherit_hooks is None else list(delegation.inherit_hooks)
    preferences = delegation.provider_preferences or (p.provider_preferences if takes_provider else [])
    config.provider_preferences = [dict(x) for x in preferences]
    config.model_role = delegation.model_role or config.model_role
    config.initial_messages, config.metadata = [], {}
    return config
