"""YAML reading, with parsed documents kept as JSON: parsing YAML is on every run's path.

A run reads the agent's definition, its behaviors and the settings files;
the scripted provider reads its script every turn.
Importing PyYAML alone costs about 25 ms on a 2-core machine, so each parsed
document that is plain JSON data (mappings with string keys, lists, strings,
numbers, booleans, null) is kept in ``AMPLIFIER_HOME/cache/yaml/`` under the
SHA-256 of its bytes: the same bytes parse to the same value, so the entry
can never be stale. Documents with YAML-only values (dates, non-string keys)
are parsed every time. The cache is best effort: an unreadable or unwritable
entry is a miss, never an error.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import orjson

__all__ = ["YAMLError", "load_yaml"]

# Entries kept before the oldest half is removed (each is one parsed document).
MAX_CACHE_ENTRIES = 512


class YAMLError(ValueError):
    """A document that is not valid YAML; ``problem`` and ``problem_mark`` as PyYAML gives them."""

    def __init__(self, original: Exception) -> None:
        super().__init__(str(original))
        self.problem = getattr(original, "problem", None)
        self.problem_mark = getattr(original, "problem_mark", None)


def _cache_dir() -> Path:
    home = os.environ.get("AMPLIFIER_HOME") or str(Path.home() / ".amplifier")
    return Path(home) / "cache" / "yaml"


def _plain(value: Any) -> bool:
    """Whether ``value`` survives a JSON round trip unchanged."""
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    return False


def _store(entry: Path, value: Any) -> None:
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        partial = entry.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(orjson.dumps(value))
        os.replace(partial, entry)
        entries = list(entry.parent.glob("*.json"))
        if len(entries) > MAX_CACHE_ENTRIES:
            entries.sort(key=lambda path: path.stat().st_mtime)
            for old in entries[: len(entries) // 2]:
                old.unlink(missing_ok=True)
    except OSError:
        pass  # a cache: a full disk or a read-only home costs only the parse


def load_yaml(data: bytes | str) -> Any:
    """``yaml.safe_load`` semantics (through libyaml when available), cached by content."""
    raw = data.encode() if isinstance(data, str) else data
    entry = _cache_dir() / f"{hashlib.sha256(raw).hexdigest()}.json"
    try:
        return orjson.loads(entry.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        pass
    import yaml

    # The C loader parses the agent's definitions about five times faster than the pure-Python one.
    try:
        value = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise YAMLError(exc) from exc
    if _plain(value):
        _store(entry, value)
    return value
