"""Resolve an agent's behaviors recursively into one ordered, de-duplicated set.

Behaviors are visited depth first in the order they are listed; a behavior
reached twice (a diamond) is kept once, at its first place. A behavior that
includes itself, directly or through others, is an error naming the chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .definitions import BehaviorRef, Definition, parse_definition
from .errors import DefinitionError, RegistryError, ResolutionError
from .home import AmplifierHome
from .locations import fetch_definition, is_alias, join_location

__all__ = ["ResolvedAgent", "resolve_agent", "load_location"]


@dataclass(slots=True)
class ResolvedAgent:
    """An agent with every behavior it reaches, each once, in resolution order."""

    agent: Definition
    behaviors: list[Definition] = field(default_factory=list)
    added_ids: set[str] = field(default_factory=set)
    """Behaviors reached only through the extra behaviors (settings, ``--add-behavior``)."""
    fetched: dict[str, str] = field(default_factory=dict)
    """Definition id -> https or git URL, for the behaviors included by such a URL."""

    def definitions(self) -> list[Definition]:
        """Behaviors first (deepest first), then the agent: the order config merges in."""
        return [*self.behaviors, self.agent]

    def service_definitions(self) -> list[Definition]:
        """Definitions that bring a service, de-duplicated by definition id."""
        seen: set[str] = set()
        out: list[Definition] = []
        for definition in [self.agent, *self.behaviors]:
            if definition.service is not None and definition.id not in seen:
                seen.add(definition.id)
                out.append(definition)
        names: dict[str, Definition] = {}
        for definition in out:
            assert definition.service is not None
            other = names.get(definition.service.name)
            if other is not None:
                raise ResolutionError(
                    f"two definitions bring a service named '{definition.service.name}': "
                    f"{other.origin} and {definition.origin}",
                    hint="give one of them a distinct service.name",
                )
            names[definition.service.name] = definition
        return out


def load_location(location: str, base: str, home: AmplifierHome, *, refresh: bool = False) -> Definition:
    """Parse the definition at ``location`` (an alias, or relative to ``base``)."""
    if is_alias(location):
        return home.load_alias(location, "behavior")
    fetched = fetch_definition(join_location(base, location), home.cache_dir, refresh=refresh)
    definition = parse_definition(fetched.raw, fetched.source_url)
    definition.origin = fetched.base
    definition.meta = {"source_url": fetched.source_url}
    return definition


def resolve_agent(
    agent: Definition,
    home: AmplifierHome,
    extra_behaviors: list[str] | None = None,
    *,
    refresh: bool = False,
) -> ResolvedAgent:
    """Follow ``agent``'s behaviors (and ``extra_behaviors``, aliases or paths from cwd).

    ``refresh`` fetches https and git behaviors again instead of reading the cache.
    """
    resolved = ResolvedAgent(agent=agent)
    done: set[str] = {agent.id}
    refs = list(agent.behaviors)
    extra = [BehaviorRef(alias=loc, location=_absolute_extra(loc)) for loc in extra_behaviors or []]
    _visit(agent, refs, [agent], resolved, done, home, refresh)
    own = {d.id for d in resolved.behaviors}
    for ref in extra:
        _visit_one(ref, "<command line>", str(Path.cwd() / "x"), [agent], resolved, done, home, refresh)
    resolved.added_ids = {d.id for d in resolved.behaviors} - own
    return resolved


def _absolute_extra(location: str) -> str:
    if is_alias(location) or "://" in location or location.startswith("git+"):
        return location
    return str(Path(location).resolve())


def _visit(
    parent: Definition,
    refs: list[BehaviorRef],
    stack: list[Definition],
    resolved: ResolvedAgent,
    done: set[str],
    home: AmplifierHome,
    refresh: bool,
) -> None:
    for ref in refs:
        _visit_one(ref, parent.origin, parent.origin, stack, resolved, done, home, refresh)


def _visit_one(
    ref: BehaviorRef,
    named_in: str,
    base: str,
    stack: list[Definition],
    resolved: ResolvedAgent,
    done: set[str],
    home: AmplifierHome,
    refresh: bool,
) -> None:
    try:
        child = load_location(ref.location, base, home, refresh=refresh)
    except DefinitionError:
        raise
    except RegistryError as exc:
        raise ResolutionError(
            f"behavior '{ref.alias}' named in {named_in} cannot be resolved: {exc.message}",
            hint=exc.hint,
        ) from None
    if child.kind != "behavior":
        raise ResolutionError(
            f"'{ref.alias}' named in {named_in} is an {child.kind}, not a behavior ({child.origin})",
            hint="list only behavior definitions under behaviors:",
        )
    if any(child.id == s.id for s in stack):
        chain = " -> ".join([s.ref for s in stack] + [child.ref])
        raise ResolutionError(
            f"behaviors form a cycle: {chain}", hint=f"remove '{ref.alias}' from the behaviors of {named_in}"
        )
    if child.id in done:
        return
    done.add(child.id)
    source = str(child.meta.get("source_url") or "") if not is_alias(ref.location) else ""
    if source.startswith(("https://", "http://", "git+")):
        resolved.fetched[child.id] = source
    _visit(child, child.behaviors, [*stack, child], resolved, done, home, refresh)
    resolved.behaviors.append(child)
