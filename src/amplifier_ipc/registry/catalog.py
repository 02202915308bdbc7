"""Find definitions under a folder and register them (the `discover` and `register` commands)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .definitions import Definition, parse_definition
from .errors import RegistryError
from .home import AmplifierHome
from .locations import Fetched, fetch_definition, join_location

__all__ = ["Found", "discover_definitions", "register_location"]

SKIPPED_DIRS = {".venv", "node_modules", ".git", "__pycache__", "build", "dist", "tests", ".amplifier"}


@dataclass(slots=True)
class Found:
    """A definition file found by ``discover``: parsed, or the error that stopped it."""

    path: Path
    definition: Definition | None
    fetched: Fetched | None
    error: RegistryError | None = None


def _looks_like_definition(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return any(line.startswith((b"agent:", b"behavior:")) for line in head.splitlines())


def discover_definitions(folder: Path) -> list[Found]:
    """Every agent or behavior YAML under ``folder`` (tests and venvs skipped), sorted by path."""
    if not folder.exists():
        raise RegistryError(f"{folder}: no such folder", hint="give the folder that holds the definitions")
    found: list[Found] = []
    paths: list[Path] = []
    if folder.is_file():
        paths = [folder]
    else:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith("."))
            paths += [Path(dirpath) / f for f in sorted(filenames) if f.endswith((".yaml", ".yml"))]
    for path in paths:
        if not _looks_like_definition(path):
            continue
        try:
            fetched = fetch_definition(str(path.resolve()), Path(os.devnull))
            definition = parse_definition(fetched.raw, str(path))
            definition.origin = fetched.base
            found.append(Found(path, definition, fetched))
        except RegistryError as exc:
            found.append(Found(path, None, None, exc))
    return found


def register_location(
    home: AmplifierHome, location: str, alias: str | None = None, *, refresh: bool = False
) -> Definition:
    """Fetch, validate and cache the definition at ``location`` (a path or URL)."""
    absolute = join_location(str(Path.cwd() / "x"), location) if "://" not in location else location
    fetched = fetch_definition(absolute, home.cache_dir, refresh=refresh)
    definition = parse_definition(fetched.raw, fetched.source_url)
    definition.origin = fetched.base
    home.register(definition, fetched, alias)
    return definition
