"""Resolved session configs of single-shot runs, kept for the next run with the same flags.

Resolving a run's config is quick, but importing what resolves it (the
registry, PyYAML's cache, click to parse the flags) costs about a fifth of a
single-shot run. A run whose flags, folder and environment match an entry
here, and none of whose inputs changed, takes its config from the entry
instead (cli/fastrun.py), so its services are forked before anything else
is imported.

An entry is keyed by everything the resolution reads that is not a file:
the run's flags (not its prompt), its working folder, the whole process
environment, the Python, and this code's own files. It lists the files the
resolution read, each with its size, modification time, inode and mode, or
its absence: AMPLIFIER_HOME's alias files, settings and keys.env, the
settings of the project and the folders that decide where the project is,
every definition file, and for each service its install record, command and
describe cache, and the fingerprint of its source and protocol folders (the
same as the install check). Any difference and the entry is not used.
A run whose config depends on something else (a service command from the
settings, a definition fetched from a URL that AMPLIFIER_HOME does not keep)
is never kept. Only cheap imports: this runs before the CLI imports anything.

An entry holds the config as the Host gets it, so the keys.env values its
services are given too: it is written with keys.env's own mode (0600). The
environment is kept only as a digest.
"""

from __future__ import annotations

import json
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..host.config import SessionConfig
    from .home import AmplifierHome
    from .session import BuiltSession

__all__ = ["ENV_SWITCH", "enabled", "home_root", "load", "store"]

# Set to 0 (or false/no/off) to resolve every run from the registry.
ENV_SWITCH = "AMPLIFIER_IPC_RUN_CACHE"
# Bumped when what an entry holds changes shape.
FORMAT = 1
# Entries kept (one per distinct flags, folder and environment); the oldest go first.
MAX_ENTRIES = 32
FOLDER = ("cache", "runs")
# The modules whose code decides what a resolution gives.
_CODE_DIRS = ("registry",)
_CODE_FILES = (("host", "config.py"), ("host", "service_env.py"))


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def home_root() -> str:
    """AMPLIFIER_HOME's folder (``$AMPLIFIER_HOME``, default ``~/.amplifier``)."""
    value = os.environ.get("AMPLIFIER_HOME")
    return os.path.expanduser(value) if value else os.path.join(os.path.expanduser("~"), ".amplifier")


def _key(options: list[list[str]], cwd: str) -> dict[str, Any]:
    import hashlib

    # A digest: the environment may hold API keys, which are never written out here.
    environ = hashlib.sha256(json.dumps(sorted(os.environ.items())).encode()).hexdigest()
    return {
        "format": FORMAT,
        "python": [sys.executable, sys.version],
        "code": [[path, _signature(path)] for path in _code_files()],
        "options": options,
        "cwd": cwd,
        "environ": environ,
    }


def _code_files() -> list[str]:
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = [os.path.join(package, *parts) for parts in _CODE_FILES]
    for folder in _CODE_DIRS:
        base = os.path.join(package, folder)
        files += sorted(os.path.join(base, n) for n in os.listdir(base) if n.endswith(".py"))
    return files


def _signature(path: str) -> list[int] | None:
    """What changes when a file is written, replaced, or has its mode changed; None if absent."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_mtime_ns, info.st_size, info.st_ino, info.st_mode]


def _entry_path(root: str, key: dict[str, Any]) -> str:
    import hashlib

    name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]
    return os.path.join(root, *FOLDER, f"{name}.json")


def load(options: list[list[str]], cwd: str) -> SessionConfig | None:
    """The config kept for a run with these flags in ``cwd``, if nothing it depends on changed."""
    if not enabled():
        return None
    key = _key(options, cwd)
    try:
        with open(_entry_path(home_root(), key), "rb") as handle:
            entry = json.loads(handle.read())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != json.loads(json.dumps(key)):
        return None
    if not _current(entry.get("files"), entry.get("folders")):
        return None
    try:
        return _config_from_json(entry["config"])
    except (KeyError, TypeError, ValueError):
        return None


def _current(files: object, folders: object) -> bool:
    if not isinstance(files, list) or not isinstance(folders, list):
        return False
    if any(_signature(path) != signature for path, signature in files):
        return False
    if folders:
        from .fingerprint import folder_fingerprint

        return all(folder_fingerprint(path) == digest for path, digest in folders)
    return True


def store(options: list[list[str]], cwd: str, home: AmplifierHome, built: BuiltSession) -> bool:
    """Keep ``built``'s config for the next run with these flags in ``cwd``; whether it was
    (a config that depends on more than this module can check is not). Best effort."""
    if not enabled():
        return False
    inputs = _inputs(home, built)
    if inputs is None:
        return False
    files, folders = inputs
    try:
        config = json.loads(json.dumps(_config_to_json(built.config)))
        # JSON has no dates, tuples or non-string keys (YAML has): only a config
        # that reads back exactly as it is may be kept.
        if _config_from_json(config) != built.config:
            return False
    except (TypeError, ValueError):
        return False
    key = _key(options, cwd)
    entry = {"key": key, "files": files, "folders": folders, "config": config}
    path = _entry_path(str(home.root), key)
    try:
        from pathlib import Path

        from .home import atomic_write

        atomic_write(Path(path), json.dumps(entry).encode(), mode=0o600)
        _prune(os.path.dirname(path))
    except OSError:
        return False
    return True


def _inputs(home: AmplifierHome, built: BuiltSession) -> tuple[list[Any], list[Any]] | None:
    """The files (with their signatures) and folders (with their fingerprints) the resolution read."""
    from .describe import CACHE_FILE
    from .environments import RECORD
    from .settings import project_markers, scope_file

    config = built.config
    cwd = config.working_dir
    paths: list[str | os.PathLike[str]] = [
        home.alias_file("agent"),
        home.alias_file("behavior"),
        home.keys_file,
    ]
    paths += [scope_file(scope, home, cwd) for scope in ("global", "project", "local")]
    paths += project_markers(cwd)
    for definition in built.resolved.definitions():
        cached = home.cached_path(definition.id)
        if cached.is_file():
            paths.append(cached)
        elif "://" not in definition.origin and os.path.isfile(definition.origin):
            paths.append(definition.origin)
        else:
            return None  # fetched from a URL AMPLIFIER_HOME does not keep: not checkable here
    folders: list[list[str]] = []
    for spec in config.services:
        if spec.describe_cache is None:
            return None  # a command from the settings: its describe answer is never cached
        record_path = os.path.join(spec.describe_cache, RECORD)
        try:
            with open(record_path, "rb") as handle:
                record = json.loads(handle.read())
        except (OSError, ValueError):
            return None
        paths += [record_path, spec.command[0], os.path.join(spec.describe_cache, CACHE_FILE)]
        for folder, digest in (
            (record.get("source_path"), record.get("source_fingerprint")),
            (record.get("protocol"), record.get("protocol_fingerprint")),
        ):
            if folder and digest:
                folders.append([str(folder), str(digest)])
    files = [[str(p), _signature(str(p))] for p in dict.fromkeys(str(p) for p in paths)]
    return files, folders


def _prune(folder: str) -> None:
    entries = [os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".json")]
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort(key=lambda p: os.stat(p).st_mtime_ns)
    for path in entries[: len(entries) - MAX_ENTRIES]:
        try:
            os.unlink(path)
        except OSError:
            pass


# SessionConfig and ServiceSpec fields that hold paths (JSON has no Path).
_PATH_FIELDS = frozenset({"working_dir", "sessions_dir", "describe_cache"})


def _config_to_json(config: SessionConfig) -> dict[str, Any]:
    import dataclasses

    def plain(obj: Any) -> dict[str, Any]:
        out = {}
        for field in dataclasses.fields(obj):
            value = getattr(obj, field.name)
            out[field.name] = str(value) if field.name in _PATH_FIELDS and value is not None else value
        return out

    data = plain(config)
    data["services"] = [plain(spec) for spec in config.services]
    return data


def _config_from_json(data: dict[str, Any]) -> SessionConfig:
    from pathlib import Path

    from ..host.config import ServiceSpec, SessionConfig

    def paths(fields: dict[str, Any]) -> dict[str, Any]:
        return {k: Path(v) if k in _PATH_FIELDS and v is not None else v for k, v in fields.items()}

    services = [ServiceSpec(**paths(spec)) for spec in data["services"]]
    return SessionConfig(**{**paths(data), "services": services})
