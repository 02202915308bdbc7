"""Find definitions under a folder and register them (the `discover` and `register` commands)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .definitions import Definition, parse_definition
from .errors import NotRegisteredError, RegistryError
from .home import AmplifierHome
from .locations import (
    Fetched,
    GitLocation,
    checkout_commit,
    checkout_dir,
    fetch_definition,
    git_checkout,
    join_location,
    parse_git_url,
    remote_commit,
)
from .resolver import resolve_agent

__all__ = ["Found", "Update", "discover_definitions", "register_location", "check_update", "apply_update"]

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


@dataclass(slots=True)
class Update:
    """What changed at the source of a registered definition (nothing: it is up to date)."""

    name: str
    source: str
    definition: Definition
    """The registered definition: the new one after ``apply_update``, the current one after a check."""
    changes: list[str] = field(default_factory=list)


def _recorded_source(home: AmplifierHome, name: str) -> tuple[Definition, str]:
    current = home.load_alias(name)
    source = str(current.meta.get("source_url") or "")
    if not source:
        raise NotRegisteredError(
            f"{name} has no recorded source", hint="register it again from its file or URL"
        )
    return current, source


def _git_locations(
    home: AmplifierHome, source: str, definition: Definition
) -> dict[Path, tuple[str, GitLocation]]:
    """Checkout folder -> (what, location) for every git checkout ``definition`` depends on.

    Its own repository (when ``source`` is a git URL), the repositories of the
    behaviors it includes by git URL, and its services' git sources.
    """
    found: dict[Path, tuple[str, GitLocation]] = {}

    def add(what: str, location: str) -> None:
        git = parse_git_url(location)
        found.setdefault(checkout_dir(git, home.cache_dir), (what, git))

    if source.startswith("git+"):
        add("the definition's repository", source)
    try:
        resolved = resolve_agent(definition, home)
    except RegistryError:  # a broken include is what an update may fix
        return found
    for behavior in resolved.behaviors:
        url = resolved.fetched.get(behavior.id, "")
        if url.startswith("git+"):
            add(f"the behavior {behavior.ref}'s repository", url)
    for item in resolved.service_definitions():
        assert item.service is not None
        if item.service.source.startswith("git+"):
            add(f"{item.ref}'s service", item.service.source)
    return found


def _new_commit(what: str, git: GitLocation, old: str | None, new: str | None) -> str | None:
    # No commit to compare with (never fetched, or pinned to a commit id): nothing to report.
    if new is None or old is None or old == new:
        return None
    return f"new commit {new[:12]} of {what} ({git.url}@{git.ref or 'HEAD'})"


def check_update(home: AmplifierHome, name: str) -> Update:
    """Whether ``name``'s source changed (its text, or a new commit of a git source), changing nothing.

    The definition and the behaviors it includes by URL are fetched into a
    temporary folder; git remotes are asked for their commit without fetching;
    AMPLIFIER_HOME is not written (except to cache a behavior never fetched before).
    """
    current, source = _recorded_source(home, name)
    update = Update(name, source, current)
    with tempfile.TemporaryDirectory(prefix="amplifier-check-") as scratch:
        fresh = parse_definition(fetch_definition(source, Path(scratch), refresh=True).raw, source)
    if fresh.sha256 != current.sha256:
        update.changes.append("the definition changed")
    for folder, (what, git) in _git_locations(home, source, current).items():
        note = _new_commit(what, git, checkout_commit(folder), remote_commit(git))
        update.changes += [note] if note else []
    resolved = resolve_agent(current, home)
    for behavior in resolved.behaviors:
        url = resolved.fetched.get(behavior.id)
        if url is None:
            continue
        with tempfile.TemporaryDirectory(prefix="amplifier-check-") as scratch:
            raw = fetch_definition(url, Path(scratch), refresh=True).raw
        if parse_definition(raw, url).sha256 != behavior.sha256:
            update.changes.append(f"the behavior {behavior.ref} changed ({url})")
    return update


def _fetched_behaviors(home: AmplifierHome, definition: Definition) -> dict[str, str]:
    """Behavior id -> sha256, for the behaviors ``definition`` includes by an https or git URL."""
    try:
        resolved = resolve_agent(definition, home)
    except RegistryError:  # a broken include is what the update may fix
        return {}
    return {b.id: b.sha256 for b in resolved.behaviors if b.id in resolved.fetched}


def apply_update(home: AmplifierHome, name: str) -> Update:
    """Fetch ``name`` again from its recorded source and register it; fetch again the behaviors it
    includes by URL and its services' git sources.

    Environments are not touched here: a new commit replaces the checkout they
    were installed from, so the install that follows sees them as stale.
    """
    current, source = _recorded_source(home, name)
    commits = {folder: checkout_commit(folder) for folder in _git_locations(home, source, current)}
    before = _fetched_behaviors(home, current)
    fresh = register_location(home, source, name, refresh=True)
    update = Update(name, source, fresh)
    if fresh.sha256 != current.sha256:
        update.changes.append("the definition changed")
    resolved = resolve_agent(fresh, home, refresh=True)
    for behavior in resolved.behaviors:
        url = resolved.fetched.get(behavior.id)
        old_sha = before.get(behavior.id)
        if url and old_sha is not None and old_sha != behavior.sha256:
            update.changes.append(f"the behavior {behavior.ref} changed ({url})")
    for folder, (what, git) in _git_locations(home, source, fresh).items():
        if what.endswith("'s service"):  # the definition and behaviors were fetched above
            git_checkout(git, home.cache_dir, refresh=True)
        note = _new_commit(what, git, commits.get(folder), checkout_commit(folder))
        update.changes += [note] if note else []
    return update
