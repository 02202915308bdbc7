"""Who offers what: the routing table built from the services' ``describe`` answers.

``check_describe`` validates one answer (PROTOCOL §4) and returns its
capabilities; ``RoutingTable.build`` joins every service's capabilities into
one table of tools, hooks, providers, orchestrators, context managers and
content, by service. Two services offering the same tool name is an error
naming both, unless ``SessionConfig.tool_conflicts`` names the winner: there
is no silent last-one-wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from amplifier_ipc_protocol.methods import PROTOCOL_VERSION

from .errors import RoutingError

__all__ = ["ComponentRef", "HookRoute", "RoutingTable", "ToolRoute", "check_describe"]

_COMPONENT_KINDS = ("orchestrators", "context_managers", "providers")


@dataclass(frozen=True, slots=True)
class ComponentRef:
    """One component of one service (an orchestrator, a provider, ...)."""

    service: str
    name: str

    def __str__(self) -> str:
        return f"{self.service}:{self.name}"


@dataclass(frozen=True, slots=True)
class ToolRoute:
    service: str
    spec: dict[str, Any]
    """``{name, description, input_schema}`` as the service described it."""


@dataclass(frozen=True, slots=True)
class HookRoute:
    service: str
    name: str
    events: tuple[str, ...]
    priority: int
    order: int
    """Registration order across the session: service order, then describe order."""

    def matches(self, event: str) -> bool:
        return event in self.events or "*" in self.events


def _fail(service: str, problem: str) -> ValueError:
    return ValueError(f"service {service} answered describe wrongly: {problem}")


def _names(service: str, capabilities: dict[str, Any], kind: str) -> list[str]:
    entries = capabilities.get(kind, [])
    if not isinstance(entries, list):
        raise _fail(service, f"capabilities.{kind} must be a list")
    names: list[str] = []
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            raise _fail(service, f"an entry of capabilities.{kind} has no name: {entry!r}")
        names.append(name)
    return names


def check_describe(service: str, answer: Any) -> dict[str, Any]:
    """The capabilities of a valid ``describe`` answer; ``ValueError`` says what is wrong."""
    if not isinstance(answer, dict):
        raise _fail(service, f"expected an object, got {type(answer).__name__}")
    version = answer.get("protocol_version")
    if version != PROTOCOL_VERSION:
        raise _fail(service, f"protocol_version is {version!r}, this Host speaks {PROTOCOL_VERSION}")
    capabilities = answer.get("capabilities", {})
    if not isinstance(capabilities, dict):
        raise _fail(service, "capabilities must be an object")
    for kind in _COMPONENT_KINDS:
        _names(service, capabilities, kind)
    for tool in capabilities.get("tools", []) or []:
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not tool["name"]:
            raise _fail(service, f"a tool has no name: {tool!r}")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise _fail(service, f"tool {tool['name']} has no object input_schema (got {schema!r})")
    for hook in capabilities.get("hooks", []) or []:
        if not isinstance(hook, dict) or not isinstance(hook.get("name"), str):
            raise _fail(service, f"a hook has no name: {hook!r}")
        events = hook.get("events")
        if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
            raise _fail(service, f"hook {hook['name']} needs a non-empty list of events")
        priority = hook.get("priority", 0)
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise _fail(service, f"hook {hook['name']} has a priority that is not an integer")
    content = capabilities.get("content", {}) or {}
    paths = content.get("paths", []) if isinstance(content, dict) else None
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise _fail(service, "capabilities.content.paths must be a list of strings")
    return capabilities


@dataclass(slots=True)
class RoutingTable:
    """Every capability of the session, by service, in service order."""

    services: list[str] = field(default_factory=list)
    tools: dict[str, ToolRoute] = field(default_factory=dict)
    hooks: list[HookRoute] = field(default_factory=list)
    providers: list[ComponentRef] = field(default_factory=list)
    orchestrators: list[ComponentRef] = field(default_factory=list)
    context_managers: list[ComponentRef] = field(default_factory=list)
    content: dict[str, list[str]] = field(default_factory=dict)
    _hooks_by_event: dict[str, list[HookRoute]] = field(default_factory=dict)

    @classmethod
    def build(
        cls, described: list[tuple[str, dict[str, Any]]], tool_conflicts: dict[str, str] | None = None
    ) -> RoutingTable:
        """Join ``(service, capabilities)`` pairs; raises ``RoutingError`` on a tool clash."""
        table = cls()
        offers: dict[str, list[ToolRoute]] = {}
        order = 0
        for service, capabilities in described:
            table.services.append(service)
            for tool in capabilities.get("tools", []) or []:
                offers.setdefault(tool["name"], []).append(ToolRoute(service, dict(tool)))
            for hook in capabilities.get("hooks", []) or []:
                table.hooks.append(
                    HookRoute(
                        service, hook["name"], tuple(hook["events"]), int(hook.get("priority", 0)), order
                    )
                )
                order += 1
            for kind in _COMPONENT_KINDS:
                refs: list[ComponentRef] = getattr(table, kind)
                refs.extend(ComponentRef(service, name) for name in _names(service, capabilities, kind))
            content = capabilities.get("content", {}) or {}
            table.content[service] = list(content.get("paths", []) or [])
        rules = tool_conflicts or {}
        for name, routes in offers.items():
            table.tools[name] = _pick_tool(name, routes, rules.get(name))
        return table

    def hooks_for(self, event: str) -> list[HookRoute]:
        """Hooks registered for ``event`` (or ``*``): lower priority first, ties in registration order."""
        cached = self._hooks_by_event.get(event)
        if cached is None:
            cached = sorted((h for h in self.hooks if h.matches(event)), key=lambda h: (h.priority, h.order))
            self._hooks_by_event[event] = cached
        return cached

    def tool_specs(self) -> list[dict[str, Any]]:
        """``{name, description, input_schema}`` of every routed tool, for the model."""
        return [
            {
                "name": name,
                "description": route.spec.get("description", "") or "",
                "input_schema": route.spec["input_schema"],
            }
            for name, route in self.tools.items()
        ]

    def resolve(self, kind: str, ref: str | None) -> ComponentRef:
        """The component ``ref`` names (``service:name`` or a bare name) among ``kind``.

        ``ref=None`` means the only one offered. Raises ``RoutingError`` when
        none or several match.
        """
        label = kind.rstrip("s").replace("_", " ")
        candidates: list[ComponentRef] = getattr(self, kind)
        offered = ", ".join(str(c) for c in candidates) or "none"
        if ref is None:
            if len(candidates) == 1:
                return candidates[0]
            if not candidates:
                article = "an" if label[0] in "aeiou" else "a"
                raise RoutingError(
                    f"no service of this session offers {article} {label}",
                    hint=f"add a service with {article} {label} to the agent definition",
                )
            raise RoutingError(
                f"several {label}s are offered ({offered}) and none is selected",
                hint=f"choose one (for example --{label.replace(' ', '-')} {candidates[0]})",
            )
        service, _, name = ref.rpartition(":")
        matches = [c for c in candidates if c.name == name and (not service or c.service == service)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise RoutingError(
                f"no {label} named {ref} in this session (offered: {offered})",
                hint=f"check the name, or add the service that provides {ref}",
            )
        raise RoutingError(
            f"{label} {ref} is offered by several services ({', '.join(str(c) for c in matches)})",
            hint=f"name it with its service, for example {matches[0]}",
        )


def _pick_tool(name: str, routes: list[ToolRoute], winner: str | None) -> ToolRoute:
    if len(routes) == 1 and winner is None:
        return routes[0]
    services = [r.service for r in routes]
    if winner is not None:
        for route in routes:
            if route.service == winner:
                return route
        raise RoutingError(
            f"tool_conflicts names {winner} for tool {name}, but {name} is offered by {', '.join(services)}",
            hint=f"set tool_conflicts.{name} to one of: {', '.join(services)}",
        )
    raise RoutingError(
        f"tool {name} is offered by both {services[0]} and {', '.join(services[1:])}",
        hint=f"choose one in the agent definition: tool_conflicts: {{{name}: {services[0]}}}",
    )
