"""An agent's ``tools:`` selection: which of its services' tools the model is offered.

The selection (tool names or ``fnmatch`` globs) applies to the tools of the
services the agent's own behaviors bring; behaviors added for a run (settings
``behaviors``, ``--add-behavior``) keep all their tools, so `mcp add` works
with any agent. The session builder turns it into the Host's
``exclude_tools``: the tools of the agent's services that match no entry.
A tool set's tools (such as MCP servers') are known only with config, so the
selection cannot see them and does not filter them.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from .errors import ResolutionError
from .resolver import ResolvedAgent

__all__ = ["excluded_tools", "is_offered"]


def _tool_names(description: dict[str, Any]) -> list[str]:
    tools = (description.get("capabilities") or {}).get("tools") or []
    return [t["name"] for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)]


def _has_tool_set(description: dict[str, Any]) -> bool:
    """A tool component with no tool of its own name lists its tools from config (a tool set)."""
    caps = description.get("capabilities") or {}
    names = set(_tool_names(description))
    return any(
        isinstance(c, dict) and c.get("kind") == "tool" and c.get("name") not in names
        for c in caps.get("components") or []
    )


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def excluded_tools(resolved: ResolvedAgent, descriptions: dict[str, dict[str, Any]]) -> list[str]:
    """The tools of the agent's own services that its ``tools:`` does not select (sorted).

    An entry that matches none of those tools is an error naming it, unless
    one of those services has a tool set (whose tools it may name).
    """
    agent = resolved.agent
    if agent.tools is None:
        return []
    own = {
        d.service.name
        for d in resolved.service_definitions()
        if d.service is not None and d.id not in resolved.added_ids
    }
    offered = sorted({name for service in own for name in _tool_names(descriptions.get(service, {}))})
    if not any(_has_tool_set(descriptions.get(service, {})) for service in own):
        for index, selector in enumerate(agent.tools):
            if not any(fnmatch.fnmatchcase(name, selector) for name in offered):
                raise ResolutionError(
                    f"{agent.origin}: field 'agent.tools[{index}]': '{selector}' matches no tool "
                    "of the agent's services",
                    hint="tools they offer: " + (", ".join(offered) or "none"),
                )
    return [name for name in offered if not _matches(name, agent.tools)]


def is_offered(name: str, config: Any) -> bool:
    """Whether the session ``config`` (a SessionConfig) offers the tool ``name`` to the model."""
    if _matches(name, list(config.exclude_tools)):
        return False
    return config.inherit_tools is None or _matches(name, list(config.inherit_tools))
