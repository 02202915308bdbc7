"""discover, register, install, update, unregister, uninstall, agents, tool."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import click

from .console import console, error_console, home
from .group import EXIT_USAGE, fail

__all__ = ["discover", "register", "install", "update", "unregister", "uninstall", "agents", "tool"]


def install_definitions(definitions: list[Any], *, force: bool = False) -> None:
    """Install the services of ``definitions`` (with their behaviors), showing progress."""
    from ..registry.environments import install as install_env
    from ..registry.environments import needs_install
    from ..registry.resolver import resolve_agent

    amp = home()
    targets: dict[str, Any] = {}
    for definition in definitions:
        # A behavior resolves like an agent: itself plus everything it includes.
        for item in resolve_agent(definition, amp).service_definitions():
            targets.setdefault(item.id, item)
    out = error_console()
    if definitions and not targets:
        names = ", ".join(d.ref for d in definitions)
        out.print(f"{names}: no service to install (its behaviors bring none either)")
    for definition in targets.values():
        reason = "forced" if force else needs_install(amp, definition)
        if reason is None:
            out.print(f"[green]✓[/] {definition.ref} is installed")
            continue
        started = time.monotonic()
        with out.status(f"installing {definition.ref} ({reason})") as status:
            install_env(amp, definition, force=True, progress=lambda message: status.update(message))
        out.print(f"[green]✓[/] installed {definition.ref} [dim]({time.monotonic() - started:.1f} s)[/]")


@click.command()
@click.argument("location", type=click.Path(path_type=Path))
@click.option("--register", "do_register", is_flag=True, help="Register every valid definition found.")
@click.option("--install", "do_install", is_flag=True, help="Also build the environments of their services.")
def discover(location: Path, do_register: bool, do_install: bool) -> None:
    """Find agent and behavior definitions under LOCATION."""
    from rich.table import Table

    from ..registry.catalog import discover_definitions

    amp = home()
    found = discover_definitions(location)
    table = Table("kind", "name", "service", "file", box=None, header_style="bold")
    registered: list[Any] = []
    for item in found:
        if item.definition is None:
            continue
        d = item.definition
        table.add_row(d.kind, d.ref, d.service.name if d.service else "", str(item.path))
        if do_register and item.fetched is not None:
            amp.register(d, item.fetched)
            registered.append(d)
    if not found:
        error_console().print(f"no agent or behavior definitions under {location}")
    else:
        console().print(table)
    errors = [item for item in found if item.error is not None]
    for item in errors:
        error_console().print(f"[bold red]invalid:[/] {item.error}")
    if registered:
        error_console().print(f"registered {len(registered)} definitions in {amp.root}")
    if do_install:
        if not do_register:
            fail("--install needs --register", "add --register", EXIT_USAGE)
        install_definitions(
            [d for d in registered if d.kind == "behavior" and d.service]
            + [d for d in registered if d.kind == "agent"]
        )
    if errors:
        raise SystemExit(EXIT_USAGE)


@click.command()
@click.argument("source")
@click.option("--alias", help="Register under this name instead of the definition's ref.")
@click.option("--install", "do_install", is_flag=True, help="Also build its services' environments.")
def register(source: str, alias: str | None, do_install: bool) -> None:
    """Register the definition at SOURCE (a path, file://, https:// or git+https:// URL)."""
    from ..registry.catalog import register_location

    definition = register_location(home(), source, alias)
    error_console().print(
        f"registered {definition.kind} [bold]{alias or definition.ref}[/] ({definition.id})"
    )
    if do_install:
        install_definitions([definition])


@click.command()
@click.argument("name")
@click.option("--force", is_flag=True, help="Rebuild even when the environment is current.")
def install(name: str, force: bool) -> None:
    """Build the environments of NAME's services (and its behaviors')."""
    install_definitions([home().load_alias(name)], force=force)


@click.command()
@click.argument("name")
@click.option("--check", is_flag=True, help="Only say whether the source changed.")
def update(name: str, check: bool) -> None:
    """Fetch NAME again from where it was registered; reinstall what changed."""
    from ..registry.catalog import apply_update, check_update

    amp = home()
    if check:
        found = check_update(amp, name)
        state = f"changed: {'; '.join(found.changes)}" if found.changes else "up to date"
        console().print(f"{name}: {state} ({found.source})", soft_wrap=True)
        return
    done = apply_update(amp, name)
    state = f"updated: {'; '.join(done.changes)}" if done.changes else "up to date"
    error_console().print(f"{name}: {state} ({done.source})", soft_wrap=True)
    install_definitions([done.definition])


@click.command()
@click.argument("name")
def unregister(name: str) -> None:
    """Forget the agent or behavior registered as NAME."""
    amp = home()
    removed = amp.unregister(name)
    error_console().print(f"unregistered {name} ({', '.join(removed)})")


@click.command()
@click.argument("name")
def uninstall(name: str) -> None:
    """Delete the environments of NAME's services (they are rebuilt on the next run)."""
    from ..registry.environments import uninstall as remove_env
    from ..registry.resolver import resolve_agent

    amp = home()
    chain = resolve_agent(amp.load_alias(name), amp).service_definitions()
    removed = [d.ref for d in chain if remove_env(amp, d.id)]
    error_console().print(
        f"removed the environments of {', '.join(removed)}" if removed else f"{name} had no environments"
    )


@click.group()
def agents() -> None:
    """List registered agents, or show one."""


@agents.command("list")
def agents_list() -> None:
    """The registered agents."""
    from rich.table import Table

    amp = home()
    aliases = amp.aliases("agent")
    if not aliases:
        error_console().print(
            "no agents registered; run: amplifier-ipc discover ./definitions --register --install"
        )
        return
    table = Table("name", "description", "id", box=None, header_style="bold")
    for alias, definition_id in sorted(aliases.items()):
        try:
            description = amp.load(definition_id).description
        except Exception as exc:  # a broken cache entry is listed, not fatal
            description = f"[red]{exc}[/]"
        table.add_row(alias, description, definition_id)
    console().print(table)


@agents.command("show")
@click.argument("name")
def agents_show(name: str) -> None:
    """NAME resolved: behaviors, services (installed or not), components, config."""
    from rich.tree import Tree

    from ..registry.environments import needs_install
    from ..registry.resolver import resolve_agent

    amp = home()
    agent = amp.load_alias(name, "agent")
    resolved = resolve_agent(agent, amp)
    tree = Tree(f"[bold]{agent.ref}[/] [dim]{agent.id}[/]")
    tree.add(f"description: {agent.description.strip()}")
    tree.add(f"orchestrator: {agent.orchestrator}   context manager: {agent.context_manager}")
    if agent.provider:
        tree.add(f"provider: {agent.provider}")
    behaviors = tree.add("behaviors")
    for behavior in resolved.behaviors:
        behaviors.add(f"{behavior.ref} [dim]{behavior.meta.get('source_url') or behavior.origin}[/]")
    services = tree.add("services")
    for definition in resolved.service_definitions():
        assert definition.service is not None
        state = needs_install(amp, definition)
        mark = "[green]installed[/]" if state is None else f"[yellow]{state}[/]"
        env = f" env: {', '.join(definition.service.env)}" if definition.service.env else ""
        services.add(f"{definition.service.name}: {mark}{env}")
    if agent.config:
        tree.add("config: " + ", ".join(sorted(agent.config)))
    console().print(tree)


@click.group()
def tool() -> None:
    """Tools an agent offers the model."""


@tool.command("list")
@click.option("--agent", help="The agent (default: settings, then foundation).")
def tool_list(agent: str | None) -> None:
    """Every tool the agent offers the model, with the service that offers it.

    A service with config is asked with it (as a run would), so tools that
    depend on config (MCP servers) are listed; what it reports on stderr
    (a server it left out) is shown too.
    """
    from rich.table import Table

    from ..registry.describe import base_environment
    from ..registry.session import RunRequest, build_session
    from ..registry.tools import is_offered

    amp = home()
    notes: list[str] = []
    hidden: list[str] = []
    with error_console().status("resolving") as status:
        built = build_session(amp, RunRequest(agent=agent), progress=lambda message: status.update(message))
        table = Table("tool", "service", "description", box=None, header_style="bold")
        for spec in built.config.services:
            status.update(f"asking {spec.name}")
            if spec.config:
                # The variables a run would give the service: the ones it asks for, then its keys.
                allowed = {name: os.environ[name] for name in spec.env_allow if name in os.environ}
                env = base_environment({**allowed, **spec.env})
                description = _describe_configured(spec, env, notes)
            else:
                description = built.descriptions[spec.name]
            for item in (description.get("capabilities") or {}).get("tools") or []:
                if not is_offered(item["name"], built.config):
                    hidden.append(item["name"])
                    continue
                first_line = (item.get("description") or "").strip().split("\n")[0]
                table.add_row(item["name"], spec.name, first_line[:80])
    console().print(table)
    if hidden:
        error_console().print(
            f"[dim]not offered (the agent's tools: selection): {', '.join(hidden)}[/]", soft_wrap=True
        )
    from rich.markup import escape

    for note in notes:
        error_console().print(f"[yellow]{escape(note)}[/]", soft_wrap=True)


def _describe_configured(spec: Any, env: dict[str, str], notes: list[str]) -> dict[str, Any]:
    """``spec``'s describe answer with its config; a failure names the config it was given."""
    from ..registry.describe import describe_service
    from ..registry.errors import InstallError

    lines: list[str] = []
    try:
        description = describe_service(
            spec.command,
            name=spec.name,
            cwd=spec.working_dir or Path.cwd(),
            env=env,
            config=spec.config,
            stderr_lines=lines,
        )
    except InstallError as exc:
        components = ", ".join(sorted(spec.config))
        raise InstallError(
            f"{exc.message} (asked with its config for {components})",
            hint=f"the tools of {spec.name} depend on that config: check it in the settings "
            "(.amplifier/settings.yaml, settings.local.yaml, AMPLIFIER_HOME/settings.yaml) "
            "or in the definitions that configure it",
        ) from None
    notes += [f"{spec.name}: {line}" for line in lines]
    return description
