"""Build the Host's SessionConfig from an agent, its behaviors, settings and flags."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..host.config import ServiceSpec, SessionConfig
from .definitions import Definition, parse_definition
from .describe import base_environment, component_names, describe_service
from .environments import environment, install, needs_install
from .errors import RegistryError, ResolutionError
from .home import AmplifierHome
from .locations import fetch_definition
from .providers import ProviderChoice, select_provider
from .resolver import ResolvedAgent, resolve_agent
from .settings import deep_merge, load_settings, read_keys
from .tools import excluded_tools

__all__ = [
    "RunRequest",
    "BuiltSession",
    "DEFAULT_AGENT",
    "build_session",
    "load_agent",
    "parse_component_flags",
]

DEFAULT_AGENT = "foundation"


@dataclass(slots=True)
class RunRequest:
    """What the user asked for on the command line (None means: not given)."""

    agent: str | None = None
    add_behaviors: list[str] = field(default_factory=list)
    provider: str | None = None
    model: str | None = None
    working_dir: Path = field(default_factory=Path.cwd)
    component_config: dict[str, dict[str, Any]] = field(default_factory=dict)
    approval: str | None = None
    session_id: str | None = None


@dataclass(slots=True)
class BuiltSession:
    config: SessionConfig
    resolved: ResolvedAgent
    provider: ProviderChoice
    settings: dict[str, Any]
    descriptions: dict[str, dict[str, Any]]


def parse_component_flags(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """``COMPONENT.KEY=VALUE`` flags; values are read as YAML scalars (120 -> int, true -> bool)."""
    from amplifier_ipc_protocol.yamlcache import YAMLError, load_yaml

    out: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        target, sep, raw = pair.partition("=")
        component, dot, key = target.rpartition(".")
        if not sep or not dot or not component or not key:
            raise RegistryError(
                f"-C {pair}: expected COMPONENT.KEY=VALUE", hint="for example -C bash.timeout=120"
            )
        try:
            value = load_yaml(raw) if raw else ""
        except YAMLError:
            value = raw
        out.setdefault(component, {})[key] = value
    return out


def load_agent(name: str, home: AmplifierHome) -> Definition:
    """A registered agent by alias, or an agent file given by path."""
    if name.endswith((".yaml", ".yml")) or "/" in name:
        fetched = fetch_definition(str(Path(name).resolve()) if "://" not in name else name, home.cache_dir)
        definition = parse_definition(fetched.raw, fetched.source_url)
        definition.origin = fetched.base
        if definition.kind != "agent":
            raise RegistryError(
                f"{name} is a behavior, not an agent", hint="use --add-behavior for a behavior"
            )
        return definition
    return home.load_alias(name, "agent")


def build_session(
    home: AmplifierHome,
    request: RunRequest,
    *,
    progress: Callable[[str], None] | None = None,
    install_missing: bool = True,
) -> BuiltSession:
    """Resolve everything a run needs; installs missing or stale environments when allowed."""
    flags = {"provider": request.provider, "model": request.model, "approval": request.approval}
    settings = load_settings(home, request.working_dir, flags)
    agent = load_agent(request.agent or settings.get("agent") or DEFAULT_AGENT, home)
    extra = [b for b in settings.get("behaviors") or [] if b not in request.add_behaviors]
    resolved = resolve_agent(agent, home, [*extra, *request.add_behaviors])
    overrides: dict[str, Any] = settings.get("services") or {}
    keys = read_keys(home)
    specs: list[ServiceSpec] = []
    descriptions: dict[str, dict[str, Any]] = {}
    fingerprints: dict[Path, str] = {}
    for definition in resolved.service_definitions():
        assert definition.service is not None
        service = definition.service
        override = overrides.get(service.name) or {}
        command = override.get("command")
        cache_dir = fingerprint = None
        if command:
            argv = command.split() if isinstance(command, str) else [str(c) for c in command]
        else:
            stale = needs_install(home, definition, fingerprints)
            if stale is not None:
                if not install_missing:
                    raise RegistryError(
                        f"the service {service.name} is not ready ({stale})",
                        hint=f"run: amplifier-ipc install {definition.ref}",
                    )
                install(home, definition, progress=progress, force=True)
            env = environment(home, definition.id)
            argv = [str(env.script(service.command[0])), *service.command[1:]]
            cache_dir = env.root
            fingerprint = env.fingerprint()
        private = {name: keys[name] for name in service.env if name in keys and name not in os.environ}
        working_dir = override.get("working_dir")
        specs.append(
            ServiceSpec(
                name=service.name,
                command=argv,
                env_allow=list(service.env),
                env=private,
                definition_id=definition.id,
                working_dir=Path(working_dir).expanduser() if working_dir else None,
                # The Host keeps describe answers (by config) beside the registry's own cache.
                describe_cache=cache_dir,
                fingerprint=fingerprint,
            )
        )
        descriptions[service.name] = describe_service(
            argv, name=service.name, cwd=request.working_dir, env=base_environment(), cache_dir=cache_dir
        )
    config = _merged_config(resolved, settings, request)
    if any("files" in component_names(d) for d in descriptions.values()):
        # The settings' write paths are the file tools' own lists (the foundation `files` component).
        for key in ("allowed_write_paths", "denied_write_paths"):
            if settings.get(key):
                config.setdefault("files", {})[key] = list(settings[key])
    _route_config(config, specs, descriptions)
    _check_singletons(agent, specs)
    offered = [
        p["name"] for d in descriptions.values() for p in (d.get("capabilities") or {}).get("providers") or []
    ]
    choice = select_provider(
        flag=request.provider,
        settings=settings.get("provider") if not request.provider else None,
        definition=agent.provider,
        variables={**keys, **os.environ},
        offered=offered,
    )
    assert agent.orchestrator is not None and agent.context_manager is not None
    orchestrator_name = agent.orchestrator.rpartition(":")[2]
    session = SessionConfig(
        services=specs,
        orchestrator=agent.orchestrator,
        context_manager=agent.context_manager,
        provider=choice.provider,
        model=settings.get("model") or agent.model,
        agent=agent.ref,
        agent_description=agent.description,
        system_prompt="\n\n".join(
            d.instructions.strip() for d in [agent, *resolved.behaviors] if d.instructions.strip()
        ),
        content=[c for d in resolved.definitions() for c in d.context],
        orchestrator_config=dict(config.get(orchestrator_name, {})),
        working_dir=request.working_dir,
        session_id=request.session_id,
        sessions_dir=home.sessions_dir,
        approval_mode=settings.get("approval") or "ask",
        metadata={
            "allowed_write_paths": settings.get("allowed_write_paths") or [],
            "denied_write_paths": settings.get("denied_write_paths") or [],
        },
        # The agent's `tools:` selection (registry/tools.py).
        exclude_tools=excluded_tools(resolved, descriptions),
    )
    return BuiltSession(session, resolved, choice, settings, descriptions)


def _merged_config(
    resolved: ResolvedAgent, settings: dict[str, Any], request: RunRequest
) -> dict[str, dict[str, Any]]:
    merged: dict[str, Any] = {}
    for definition in resolved.definitions():
        merged = deep_merge(merged, definition.config)
    routing = settings.get("routing") or {}
    if routing.get("matrix"):
        merged = deep_merge(merged, {"routing": {"matrix": routing["matrix"]}})
    merged = deep_merge(merged, settings.get("config") or {})
    return deep_merge(merged, request.component_config)


def _route_config(
    config: dict[str, dict[str, Any]], specs: list[ServiceSpec], descriptions: dict[str, dict[str, Any]]
) -> None:
    """Give each component's config to the service(s) that have that component."""
    by_service = {spec.name: spec for spec in specs}
    names = {name: component_names(d) for name, d in descriptions.items()}
    for key, value in config.items():
        if not isinstance(value, dict):
            raise RegistryError(
                f"config for '{key}' must be a mapping of settings, not {type(value).__name__}"
            )
        service, _, component = key.rpartition(":")
        if service:
            if service not in by_service:
                raise RegistryError(
                    f"config names the service '{service}', which is not in this session",
                    hint="services: " + ", ".join(by_service),
                )
            by_service[service].config[component] = value
            continue
        owners = [s for s in specs if component in names.get(s.name, set())]
        if not owners:
            known = sorted({n for ns in names.values() for n in ns})
            raise RegistryError(
                f"config for '{component}' matches no component of this session",
                hint="components: " + (", ".join(known) or "none"),
            )
        for owner in owners:
            owner.config[component] = value


def _check_singletons(agent: Definition, specs: list[ServiceSpec]) -> None:
    services = {s.name for s in specs}
    for key in ("orchestrator", "context_manager", "provider"):
        value = getattr(agent, key)
        if value and ":" in value and value.split(":", 1)[0] not in services:
            raise ResolutionError(
                f"{agent.origin}: field 'agent.{key}': '{value}' names the service "
                f"'{value.split(':', 1)[0]}', which none of its behaviors brings",
                hint="services in this session: " + (", ".join(sorted(services)) or "none"),
            )
