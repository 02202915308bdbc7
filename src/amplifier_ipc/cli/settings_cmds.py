"""provider, routing, mcp, allowed-dirs, denied-dirs, reset, version: commands that edit settings."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from .console import console, error_console, home
from .group import EXIT_USAGE, fail

__all__ = ["provider", "routing", "mcp", "allowed_dirs", "denied_dirs", "reset", "version"]

SCOPE_OPTION = click.option(
    "--scope",
    type=click.Choice(["global", "project", "local"]),
    default="global",
    show_default=True,
    help="Which settings file to write.",
)
MCP_SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# A variable reference in an MCP server's args or env, as the mcp service expands it.
MCP_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _edit(scope: str, change: Any) -> Path:
    """Apply ``change(settings)`` to one scope's settings file; returns the file."""
    from ..registry.settings import read_scope, scope_file, write_scope

    path = scope_file(scope, home(), Path.cwd())
    data = read_scope(path)
    change(data)
    write_scope(path, data)
    return path


def _effective() -> dict[str, Any]:
    from ..registry.settings import load_settings

    return load_settings(home(), Path.cwd())


# -- provider -------------------------------------------------------------------------


@click.group()
def provider() -> None:
    """Providers: list them, choose the default, store a key."""


@provider.command("list")
def provider_list() -> None:
    """Known providers, whether their key is set, and which one a run would use."""
    from rich.table import Table

    from ..registry.providers import LOCAL_PROVIDER, PROVIDER_KEYS, select_provider
    from ..registry.settings import read_keys

    keys = read_keys(home())
    variables = {**keys, **os.environ}
    settings = _effective()
    choice = select_provider(
        flag=None, settings=settings.get("provider"), definition=None, variables=variables
    )
    table = Table("provider", "key", "found", "", box=None, header_style="bold")
    rows = [(name, " or ".join(names)) for name, names in PROVIDER_KEYS.items()]
    rows += [
        (LOCAL_PROVIDER, "none (offline model)"),
        ("scripted", "none (a script file: -C scripted.script=FILE)"),
    ]
    for name, key in rows:
        found = [k for k in PROVIDER_KEYS.get(name, ()) if variables.get(k)]
        where = ", ".join(("keys.env" if k in keys and k not in os.environ else "environment") for k in found)
        table.add_row(
            name, key, where, f"[green]← selected ({choice.reason})[/]" if name == choice.provider else ""
        )
    console().print(table)


@provider.command("use")
@click.argument("name")
@click.option("--model", help="Also set the default model.")
@SCOPE_OPTION
def provider_use(name: str, model: str | None, scope: str) -> None:
    """Make NAME the default provider."""

    def change(data: dict[str, Any]) -> None:
        data["provider"] = name
        if model:
            data["model"] = model

    path = _edit(scope, change)
    error_console().print(f"provider {name}{f' (model {model})' if model else ''} written to {path}")


@provider.command("set-key")
@click.argument("name")
@click.argument("key", required=False)
def provider_set_key(name: str, key: str | None) -> None:
    """Store NAME's API key in keys.env (0600). NAME is a provider or a variable name.

    The key is read from the terminal (hidden) or stdin when not given.
    """
    from ..registry.providers import PROVIDER_KEYS
    from ..registry.settings import write_key

    variable = PROVIDER_KEYS[name][0] if name in PROVIDER_KEYS else name
    if not re.match(r"^[A-Z_][A-Z0-9_]*$", variable):
        fail(
            f"'{name}' is neither a provider ({', '.join(PROVIDER_KEYS)}) nor a variable name",
            "for example: amplifier-ipc provider set-key anthropic",
            EXIT_USAGE,
        )
    if key is None:
        key = click.prompt(f"{variable}", hide_input=True) if sys.stdin.isatty() else sys.stdin.readline()
    key = key.strip()
    if not key:
        fail("the key is empty", code=EXIT_USAGE)
    write_key(home(), variable, key)
    error_console().print(
        f"{variable} stored in {home().keys_file} (mode 600); only services that list it see it"
    )


# -- routing --------------------------------------------------------------------------


def routing_matrices() -> dict[str, str]:
    """Matrix name -> where it comes from: the routing service, AMPLIFIER_HOME/routing, the project."""
    from ..registry.describe import describe_service
    from ..registry.environments import environment, needs_install
    from ..registry.errors import RegistryError
    from ..registry.settings import project_root

    amp = home()
    found: dict[str, str] = {}
    try:
        definition = amp.load_alias("routing-matrix", "behavior")
    except RegistryError:
        definition = None
    if definition is not None and definition.service is not None and needs_install(amp, definition) is None:
        env = environment(amp, definition.id)
        argv = [str(env.script(definition.service.command[0])), *definition.service.command[1:]]
        description = describe_service(argv, name="routing-matrix", cache_dir=env.root)
        for path in (description.get("capabilities") or {}).get("content", {}).get("paths", []):
            match = re.match(r"^context/routing/([^/]+)\.ya?ml$", path)
            if match:
                found[match.group(1)] = "shipped"
    for folder, label in (
        (amp.root / "routing", str(amp.root / "routing")),
        (project_root(Path.cwd()) / ".amplifier" / "routing", "project"),
    ):
        if folder.is_dir():
            for file in sorted(folder.glob("*.y*ml")):
                found[file.stem] = label
    return found


@click.group()
def routing() -> None:
    """Routing matrices: map model roles to providers and models."""


@routing.command("list")
def routing_list() -> None:
    """Matrices shipped by the routing service, in AMPLIFIER_HOME/routing/ and .amplifier/routing/."""
    from rich.table import Table

    matrices = routing_matrices()
    active = (_effective().get("routing") or {}).get("matrix")
    if not matrices:
        error_console().print(
            "no routing matrices found; install the routing service: "
            "amplifier-ipc discover ./services --register --install"
        )
        return
    table = Table("matrix", "from", "", box=None, header_style="bold")
    for name, origin in sorted(matrices.items()):
        table.add_row(name, origin, "[green]← active[/]" if name == active else "")
    console().print(table)


@routing.command("use")
@click.argument("name")
@SCOPE_OPTION
def routing_use(name: str, scope: str) -> None:
    """Make NAME (a listed matrix or a YAML file) the active routing matrix."""
    matrices = routing_matrices()
    if name not in matrices and not (name.endswith((".yaml", ".yml")) and Path(name).is_file()):
        fail(
            f"no routing matrix named '{name}'",
            "available: " + (", ".join(sorted(matrices)) or "none (install the routing service)"),
            EXIT_USAGE,
        )
    value = str(Path(name).resolve()) if name not in matrices else name
    path = _edit(scope, lambda data: data.setdefault("routing", {}).update(matrix=value))
    error_console().print(f"routing matrix {value} written to {path}")


# -- mcp --------------------------------------------------------------------------------


@click.group()
def mcp() -> None:
    """MCP servers mounted as tools (through the mcp behavior)."""


@mcp.command("add", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option(
    "--env", "env_pairs", multiple=True, metavar="KEY=VALUE", help="A variable for the server; repeatable."
)
@click.option("--cwd", help="The server's working folder (relative to the session's).")
@click.option(
    "--scope", type=click.Choice(["project", "local", "global"]), default="project", show_default=True
)
def mcp_add(
    name: str, command: tuple[str, ...], env_pairs: tuple[str, ...], cwd: str | None, scope: str
) -> None:
    """Add the MCP server NAME, started as COMMAND (after --), to the settings.

    Example: amplifier-ipc mcp add time -- uvx mcp-server-time
    """
    if not MCP_SERVER_NAME.match(name):
        fail(
            f"'{name}' is not a valid server name",
            "use 1-32 letters, digits, '_' or '-' (it prefixes tool names)",
            EXIT_USAGE,
        )
    env: dict[str, str] = {}
    for pair in env_pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--env {pair}: expected KEY=VALUE", code=EXIT_USAGE)
        env[key] = value
    server: dict[str, Any] = {"name": name, "command": command[0], "args": list(command[1:])}
    if env:
        server["env"] = env
    if cwd:
        server["cwd"] = cwd

    def change(data: dict[str, Any]) -> None:
        config = data.setdefault("config", {}).setdefault("mcp", {})
        servers = [s for s in config.get("servers") or [] if s.get("name") != name]
        config["servers"] = [*servers, server]
        behaviors = data.setdefault("behaviors", [])
        if "mcp" not in behaviors:
            behaviors.append("mcp")

    path = _edit(scope, change)
    error_console().print(
        f"MCP server {name} ({' '.join(command)}) written to {path}; its tools are named {name}__<tool>"
    )
    _warn_unlisted_variables(name, [*command[1:], *env.values()])


def _warn_unlisted_variables(name: str, values: list[str]) -> None:
    """``${VAR}`` in a server's args or env reaches it only if the mcp behavior lists VAR in service.env."""
    from rich.markup import escape

    from ..registry.errors import RegistryError

    wanted = sorted({m.group(1) for value in values for m in MCP_VARIABLE.finditer(value)})
    if not wanted:
        return
    try:
        behavior = home().load_alias("mcp", "behavior")
        listed = list(behavior.service.env) if behavior.service else []
    except RegistryError:
        listed = []
    missing = [v for v in wanted if v not in listed]
    if missing:
        error_console().print(
            f"[yellow]warning:[/] {escape(name)} refers to "
            f"{escape(', '.join('${' + v + '}' for v in missing))}, but the mcp service sees only the "
            f"variables its behavior lists in service.env ({escape(', '.join(listed) or 'none')}), "
            "so the server will be left out; list them there (edit a copy of the mcp behavior, then "
            "`amplifier-ipc register COPY --alias mcp`) and set them",
            soft_wrap=True,
        )


# -- allowed-dirs / denied-dirs -----------------------------------------------------------


def _dirs_group(key: str, what: str) -> click.Group:
    @click.group(name=key.replace("_write_paths", "-dirs"), help=f"Directories the agent {what}.")
    def group() -> None:
        pass

    @group.command("list")
    def list_dirs() -> None:
        """The effective list (all settings scopes merged)."""
        for path in _effective().get(key) or []:
            console().print(path)

    @group.command("add")
    @click.argument("path", type=click.Path(path_type=Path))
    @SCOPE_OPTION
    def add_dir(path: Path, scope: str) -> None:
        """Add PATH (made absolute)."""
        value = str(path.expanduser().resolve())
        written = _edit(
            scope,
            lambda data: data.setdefault(key, []).append(value) if value not in data.get(key, []) else None,
        )
        error_console().print(f"{value} added to {key} in {written}")

    @group.command("remove")
    @click.argument("path", type=click.Path(path_type=Path))
    @SCOPE_OPTION
    def remove_dir(path: Path, scope: str) -> None:
        """Remove PATH."""
        value = str(path.expanduser().resolve())
        removed: list[bool] = []

        def change(data: dict[str, Any]) -> None:
            paths = data.get(key) or []
            removed.append(value in paths or str(path) in paths)
            data[key] = [p for p in paths if p not in (value, str(path))]

        written = _edit(scope, change)
        if not removed[0]:
            fail(f"{value} is not in {key} of {written}", f"see: amplifier-ipc {group.name} list", EXIT_USAGE)
        error_console().print(f"{value} removed from {key} in {written}")

    return group


allowed_dirs = _dirs_group("allowed_write_paths", "may write")
denied_dirs = _dirs_group("denied_write_paths", "may never write")


# -- reset, version ----------------------------------------------------------------------


@click.command()
@click.option("--all", "everything", is_flag=True, help="Also delete sessions, settings and keys.")
@click.option("--yes", is_flag=True, help="Do not ask.")
def reset(everything: bool, yes: bool) -> None:
    """Delete registrations, cached definitions, environments and caches (sessions and keys kept)."""
    amp = home()
    targets = [
        amp.alias_file("agent"),
        amp.alias_file("behavior"),
        amp.definitions_dir,
        amp.environments_dir,
        amp.cache_dir,
    ]
    if everything:
        targets += [amp.sessions_dir, amp.settings_file, amp.keys_file]
    existing = [t for t in targets if t.exists()]
    if not existing:
        error_console().print(f"nothing to reset in {amp.root}")
        return
    if not yes:
        if not sys.stdin.isatty():
            fail("reset needs confirmation", "add --yes", EXIT_USAGE)
        click.confirm("delete " + ", ".join(str(t) for t in existing) + "?", abort=True)
    for target in existing:
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
    error_console().print(f"reset {amp.root}")


@click.command()
def version() -> None:
    """The version of amplifier-ipc."""
    from importlib.metadata import version as package_version

    console().print(f"amplifier-ipc {package_version('amplifier-ipc')}")
