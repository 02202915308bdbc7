"""Modes: Markdown files with a YAML header, found in three places.

Later places win over earlier ones for the same name: the modes shipped with
this service, then ``AMPLIFIER_HOME/modes`` (default ``~/.amplifier/modes``),
then any ``dirs`` from the service's config, then ``<working dir>/.amplifier/modes``.
A file that cannot be read is reported with its path, never skipped silently.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amplifier_ipc_protocol.content import parse_front_matter

__all__ = [
    "STATE_KEY",
    "Mode",
    "Catalog",
    "extra_dirs_from",
    "load_catalog",
    "mode_dirs",
    "parse_front_matter",
]

STATE_KEY = "modes.active"
"""Session state key holding the active mode's name (a string), or null for none."""

# Mode files are short instructions; a larger file is almost surely not a mode.
MAX_MODE_FILE_BYTES = 256 * 1024

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# The mode tool stays callable in every mode, so a mode can always be left.
ALWAYS_ALLOWED = ("mode",)


def _patterns(value: Any, *, field_name: str, origin: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{origin}: tools.{field_name} must be a list of tool names or glob patterns")
    return list(value)


@dataclass(slots=True)
class Mode:
    """One mode: which tools it allows or denies and what it tells the model."""

    name: str
    description: str
    instruction: str
    path: str
    allow: list[str] | None = None
    """Only tools matching one of these run (None: no allow list)."""
    deny: list[str] = field(default_factory=list)
    """Tools matching one of these never run; deny wins over allow."""

    def blocks(self, tool: str) -> str | None:
        """Why ``tool`` may not run in this mode, or None if it may."""
        if tool in ALWAYS_ALLOWED:
            return None
        if any(fnmatch.fnmatchcase(tool, p) for p in self.deny):
            return f"tool {tool!r} is denied in mode {self.name!r}"
        if self.allow is not None and not any(fnmatch.fnmatchcase(tool, p) for p in self.allow):
            allowed = ", ".join(self.allow) or "none"
            return f"tool {tool!r} is not allowed in mode {self.name!r} (allowed: {allowed})"
        return None

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "allow": self.allow,
            "deny": self.deny,
            "path": self.path,
        }


def read_mode(path: Path) -> Mode:
    origin = str(path)
    if path.stat().st_size > MAX_MODE_FILE_BYTES:
        raise ValueError(f"{origin}: larger than {MAX_MODE_FILE_BYTES} bytes; a mode is a short instruction")
    header, body = parse_front_matter(path.read_text(encoding="utf-8"), origin=origin)
    name = header.get("name", path.stem)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"{origin}: name {name!r} must be letters, digits, '.', '_' or '-'")
    description = header.get("description", "")
    if not isinstance(description, str):
        raise ValueError(f"{origin}: description must be a string")
    tools = header.get("tools") or {}
    if not isinstance(tools, dict):
        raise ValueError(f"{origin}: tools must be a mapping with 'allow' and/or 'deny' lists")
    unknown = sorted(set(tools) - {"allow", "deny"})
    if unknown:
        raise ValueError(f"{origin}: tools has unknown keys {', '.join(unknown)} (use allow, deny)")
    return Mode(
        name=name,
        description=description,
        instruction=body,
        path=origin,
        allow=_patterns(tools.get("allow"), field_name="allow", origin=origin),
        deny=_patterns(tools.get("deny"), field_name="deny", origin=origin) or [],
    )


def mode_dirs(extra: list[str] | None = None) -> list[Path]:
    """The folders searched for modes, lowest precedence first."""
    home = Path(os.environ.get("AMPLIFIER_HOME") or Path.home() / ".amplifier")
    cwd = Path.cwd()
    dirs = [Path(__file__).parent / "modes", home / "modes"]
    dirs += [cwd / d for d in extra or []]  # absolute entries stay absolute
    dirs.append(cwd / ".amplifier" / "modes")
    return dirs


@dataclass(slots=True)
class Catalog:
    modes: dict[str, Mode]
    problems: list[str]

    def names(self) -> list[str]:
        return sorted(self.modes)


def load_catalog(extra_dirs: list[str] | None = None) -> Catalog:
    modes: dict[str, Mode] = {}
    problems: list[str] = []
    for directory in mode_dirs(extra_dirs):
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.md")):
            try:
                mode = read_mode(path)
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                problems.append(str(exc) if isinstance(exc, ValueError) else f"{path}: {exc}")
                continue
            modes[mode.name] = mode
    return Catalog(modes, problems)


def extra_dirs_from(config: dict[str, Any]) -> list[str]:
    """The ``dirs`` of a component config, checked."""
    dirs = config.get("dirs", [])
    if not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
        raise ValueError("modes config 'dirs' must be a list of folder paths")
    return dirs
