"""Settings in three scopes merged global < project < local < flags, and keys.env.

    global   $AMPLIFIER_HOME/settings.yaml
    project  <project>/.amplifier/settings.yaml
    local    <project>/.amplifier/settings.local.yaml   (not meant for version control)

Mappings merge key by key; lists and scalars of a later scope replace earlier ones.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

from amplifier_ipc_protocol.yamlcache import YAMLError, load_yaml

from .errors import SettingsError
from .home import AmplifierHome, atomic_write

__all__ = [
    "SETTINGS_FIELDS",
    "SCOPES",
    "APPROVAL_MODES",
    "project_root",
    "scope_file",
    "load_settings",
    "read_scope",
    "write_scope",
    "deep_merge",
    "read_keys",
    "write_key",
]

SETTINGS_FIELDS = {
    "agent": "the default agent",
    "provider": "the default provider (for example anthropic)",
    "model": "the default model",
    "config": "component name -> settings",
    "allowed_write_paths": "directories the agent may write",
    "denied_write_paths": "directories the agent may never write",
    "approval": "ask, auto or deny",
    "services": "service name -> {command, working_dir} overrides for local development",
    "routing": "{matrix: NAME}: the active routing matrix",
    "behaviors": "behaviors (aliases) added to every run, for example mcp",
}
SCOPES = ("global", "project", "local")
APPROVAL_MODES = ("ask", "auto", "deny")
KEY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def project_markers(start: Path) -> list[Path]:
    """The ``.amplifier/`` folders that would make a project of ``start``, nearest first
    (up to the home folder, which holds the user's own)."""
    start = start.resolve()
    home = Path.home().resolve()
    markers = []
    for folder in (start, *start.parents):
        if folder == home:
            break
        markers.append(folder / ".amplifier")
    return markers


def project_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` holding ``.amplifier/``, else ``start``."""
    for marker in project_markers(start):
        if marker.is_dir():
            return marker.parent
    return start.resolve()


def scope_file(scope: str, home: AmplifierHome, cwd: Path) -> Path:
    if scope == "global":
        return home.settings_file
    if scope == "project":
        return project_root(cwd) / ".amplifier" / "settings.yaml"
    if scope == "local":
        return project_root(cwd) / ".amplifier" / "settings.local.yaml"
    raise SettingsError(f"unknown settings scope '{scope}'", hint="use global, project or local")


def read_scope(path: Path) -> dict[str, Any]:
    """One settings file, validated; a missing file is empty."""
    if not path.is_file():
        return {}
    try:
        data = load_yaml(path.read_bytes())
    except YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML: {exc}", hint="fix or delete the file") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a mapping of settings", hint="fix or delete the file")
    for key, value in data.items():
        if key not in SETTINGS_FIELDS:
            raise SettingsError(
                f"{path}: unknown setting '{key}'",
                hint="known settings: " + ", ".join(SETTINGS_FIELDS),
            )
        if key in ("config", "services", "routing") and not isinstance(value, dict):
            raise SettingsError(f"{path}: setting '{key}' must be a mapping ({SETTINGS_FIELDS[key]})")
        if key in ("allowed_write_paths", "denied_write_paths", "behaviors") and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise SettingsError(f"{path}: setting '{key}' must be a list of strings ({SETTINGS_FIELDS[key]})")
        if key == "approval" and value not in APPROVAL_MODES:
            raise SettingsError(
                f"{path}: setting 'approval' must be one of {', '.join(APPROVAL_MODES)}, not {value!r}"
            )
        if key in ("agent", "provider", "model") and not isinstance(value, str):
            raise SettingsError(f"{path}: setting '{key}' must be a string")
    return data


def write_scope(path: Path, data: dict[str, Any]) -> None:
    import yaml

    atomic_write(path, yaml.safe_dump(data, sort_keys=False).encode())


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid on ``base``: mappings merge recursively, anything else replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(home: AmplifierHome, cwd: Path, flags: dict[str, Any] | None = None) -> dict[str, Any]:
    """The effective settings: global < project < local < flags."""
    merged: dict[str, Any] = {}
    for scope in SCOPES:
        merged = deep_merge(merged, read_scope(scope_file(scope, home, cwd)))
    return deep_merge(merged, {k: v for k, v in (flags or {}).items() if v is not None})


def read_keys(home: AmplifierHome) -> dict[str, str]:
    """The variables of keys.env; refuses a file others can read."""
    path = home.keys_file
    if not path.is_file():
        return {}
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SettingsError(
            f"{path} is readable by others (mode {mode:o}); it holds API keys",
            hint=f"run: chmod 600 {path}",
        )
    keys: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not KEY_NAME.match(name):
            raise SettingsError(f"{path}:{number}: expected NAME=value", hint="fix the line")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        keys[name] = value
    return keys


def write_key(home: AmplifierHome, name: str, value: str) -> None:
    """Set ``name`` in keys.env (created 0600)."""
    if not KEY_NAME.match(name):
        raise SettingsError(f"'{name}' is not a valid variable name")
    if "\n" in value:
        raise SettingsError("a key must be one line")
    keys = read_keys(home)
    keys[name] = value
    text = "".join(f"{k}={v}\n" for k, v in keys.items())
    atomic_write(home.keys_file, text.encode(), mode=0o600)
    os.chmod(home.keys_file, 0o600)
