"""The bridge's configuration: which MCP servers to start, and how.

    config:
      mcp:
        call_timeout: 60          # seconds per tools/call (a server may override)
        startup_timeout: 30       # seconds to spawn, initialize and list tools
        servers:
          - name: git
            command: mcp-server-git
            args: [--repository, .]
            env: {GIT_AUTHOR_NAME: bot, TOKEN: "${MY_TOKEN}"}
            cwd: .
            timeout: 120

Every failure a user can cause here is a ``ConfigError`` whose message names
the server and the field.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_CALL_TIMEOUT_S",
    "DEFAULT_STARTUP_TIMEOUT_S",
    "ConfigError",
    "ServerSpec",
    "BridgeSettings",
    "parse_settings",
]

# Long enough for a slow git or network tool, short enough that a hung server
# does not hold the turn for longer than a user would wait.
DEFAULT_CALL_TIMEOUT_S = 60.0
# Servers started through uvx/npx may resolve packages on first start.
DEFAULT_STARTUP_TIMEOUT_S = 30.0

_SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(ValueError):
    """The bridge's config is wrong; the message says where and what to write instead."""


@dataclass(frozen=True, slots=True)
class ServerSpec:
    name: str
    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None
    call_timeout: float = DEFAULT_CALL_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    servers: tuple[ServerSpec, ...] = ()
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT_S
    problems: tuple[str, ...] = field(default=())
    """Servers left out because their entry is wrong (each message names the server)."""


def _seconds(value: Any, where: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{where} must be a positive number of seconds, got {value!r}")
    return float(value)


def _expand(value: str, where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(
                f"{where} refers to ${{{name}}}, which is not set for the mcp service; "
                f"add {name} to the behavior's service.env list and set it"
            )
        return os.environ[name]

    return _VARIABLE.sub(replace, value)


def _server(entry: Any, index: int, default_timeout: float) -> ServerSpec:
    if not isinstance(entry, dict):
        raise ConfigError(f"mcp servers[{index}] must be a mapping with name and command")
    name = entry.get("name")
    if not isinstance(name, str) or not _SERVER_NAME.match(name):
        raise ConfigError(
            f"mcp servers[{index}].name must be 1-32 letters, digits, '_' or '-' (it prefixes tool names), "
            f"got {name!r}"
        )
    where = f"mcp server {name!r}"
    unknown = sorted(set(entry) - {"name", "command", "args", "env", "cwd", "timeout"})
    if unknown:
        raise ConfigError(
            f"{where}: unknown fields {', '.join(unknown)} (known: name, command, args, env, cwd, timeout)"
        )
    command = entry.get("command")
    if not isinstance(command, str) or not command:
        raise ConfigError(f"{where}: command must be the program to run, for example 'uvx'")
    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ConfigError(f"{where}: args must be a list of strings")
    env = entry.get("env", {})
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise ConfigError(f"{where}: env must map variable names to string values")
    cwd = entry.get("cwd")
    if cwd is not None and not isinstance(cwd, str):
        raise ConfigError(f"{where}: cwd must be a folder path")
    if cwd is not None:
        cwd = str(Path.cwd() / cwd)  # relative to the session's working directory
        if not Path(cwd).is_dir():
            raise ConfigError(f"{where}: cwd {cwd} is not a folder")
    return ServerSpec(
        name=name,
        command=command,
        args=tuple(_expand(a, f"{where} args") for a in args),
        env=tuple((k, _expand(v, f"{where} env {k}")) for k, v in env.items()),
        cwd=cwd,
        call_timeout=_seconds(entry.get("timeout"), f"{where}: timeout", default_timeout),
    )


def parse_settings(config: dict[str, Any]) -> BridgeSettings:
    """Check the whole config; a wrong server entry is left out and reported, a
    wrong top-level field is an error."""
    unknown = sorted(set(config) - {"servers", "call_timeout", "startup_timeout"})
    if unknown:
        raise ConfigError(
            f"mcp config: unknown fields {', '.join(unknown)} (known: servers, call_timeout, startup_timeout)"
        )
    servers = config.get("servers", [])
    if not isinstance(servers, list):
        raise ConfigError("mcp config: servers must be a list of {name, command, args, env, cwd}")
    call_timeout = _seconds(config.get("call_timeout"), "mcp call_timeout", DEFAULT_CALL_TIMEOUT_S)
    startup = _seconds(config.get("startup_timeout"), "mcp startup_timeout", DEFAULT_STARTUP_TIMEOUT_S)
    specs: list[ServerSpec] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, entry in enumerate(servers):
        try:
            spec = _server(entry, index, call_timeout)
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        if spec.name in seen:
            problems.append(f"mcp server {spec.name!r} is listed twice; names must be unique")
            continue
        seen.add(spec.name)
        specs.append(spec)
    return BridgeSettings(servers=tuple(specs), startup_timeout=startup, problems=tuple(problems))
