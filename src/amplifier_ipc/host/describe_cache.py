"""The describe cache: a service's ``describe`` answer (and its content), kept between turns.

A ``describe`` answer depends only on the installed environment and the
service's config (ARCHITECTURE, spawn cost), so it is stored in the folder
``ServiceSpec.describe_cache`` names (the registry gives the environment's
own folder, deleted on reinstall), under a key made of
``ServiceSpec.fingerprint`` (which changes on reinstall), the command and the
config. With it the Host knows what a service offers without starting it:
a service that only serves content is never started (its content is cached
too), and one that offers only tools (or providers the session does not
select) is started when first needed. A spec without ``describe_cache`` or
``fingerprint`` is always started and described, as before.

A damaged or unreadable entry is a miss, never an error: the service is then
started and described, and the entry written again.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import ServiceSpec

__all__ = ["CachedDescribe", "cache_path", "load", "store", "is_deferrable", "CONTENT_CACHE_MAX_BYTES"]

# Entry file names start with this; the registry's own config-less cache is another file.
ENTRY_PREFIX = "amplifier-host-describe-"
# Entries kept per folder: one per config a service was run with; older ones are removed.
MAX_ENTRIES = 16
# Content cached per service at most; beyond it the service is started to serve its content.
CONTENT_CACHE_MAX_BYTES = 1024 * 1024
# Capability kinds whose components must be in the process from the first moment of a turn.
_ALWAYS_RUNNING = ("hooks", "orchestrators", "context_managers")


@dataclass(slots=True)
class CachedDescribe:
    """A cached ``describe`` answer, and the content files read when it was stored."""

    describe: dict[str, Any]
    content: dict[str, str] | None = None
    """Every content path's text, or None when it was not cached (too big, or unread)."""

    @property
    def capabilities(self) -> dict[str, Any]:
        caps = self.describe.get("capabilities")
        return caps if isinstance(caps, dict) else {}


def cache_path(spec: ServiceSpec) -> Path | None:
    """Where ``spec``'s entry lives, or None when the spec does not allow caching."""
    if spec.describe_cache is None or not spec.fingerprint:
        return None
    key = json.dumps(
        {"fingerprint": spec.fingerprint, "command": spec.command, "config": spec.config},
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return spec.describe_cache / f"{ENTRY_PREFIX}{digest}.json"


def load(spec: ServiceSpec) -> CachedDescribe | None:
    """The cached answer for ``spec``, or None (no entry, caching off, or a damaged entry)."""
    path = cache_path(spec)
    if path is None:
        return None
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("describe"), dict):
        return None
    content = data.get("content")
    if content is not None and not (
        isinstance(content, dict) and all(isinstance(v, str) for v in content.values())
    ):
        content = None
    return CachedDescribe(data["describe"], content)


def store(spec: ServiceSpec, entry: CachedDescribe) -> None:
    """Write ``spec``'s entry (atomically: a reader sees the old entry or the new one)."""
    path = cache_path(spec)
    if path is None:
        return
    payload = json.dumps({"describe": entry.describe, "content": entry.content}).encode()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(payload)
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
        return
    _prune(path.parent)


def forget(spec: ServiceSpec) -> None:
    """Drop ``spec``'s entry: its service must be started and described again next turn."""
    path = cache_path(spec)
    if path is not None:
        path.unlink(missing_ok=True)


def _prune(folder: Path) -> None:
    try:
        entries = sorted(folder.glob(f"{ENTRY_PREFIX}*.json"), key=lambda p: p.stat().st_mtime)
    except OSError:
        return
    for old in entries[:-MAX_ENTRIES]:
        old.unlink(missing_ok=True)


def is_deferrable(capabilities: dict[str, Any], selected_provider: str | None) -> bool:
    """Whether a service with these capabilities may start only when first needed.

    Hooks, orchestrators and context managers are needed from the first moment
    of a turn; so is the provider the session selects (``None``: the only one
    offered, which may be any provider at all).
    """
    if any(capabilities.get(kind) for kind in _ALWAYS_RUNNING):
        return False
    providers = [p.get("name") for p in capabilities.get("providers") or [] if isinstance(p, dict)]
    if not providers:
        return True
    if selected_provider is None:
        return False
    return selected_provider.rpartition(":")[2] not in providers
