"""AMPLIFIER_HOME: aliases, cached definitions, environments, sessions, settings.

agents.yaml, behaviors.yaml          alias -> definition id
definitions/<id>.yaml                cached definitions with a _meta block
environments/<id>/                   one uv virtualenv per service definition
sessions/<session id>/               written by the Host
cache/                               fetched URLs and git checkouts
settings.yaml, keys.env (0600)       user scope
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amplifier_ipc_protocol.yamlcache import load_yaml

from .definitions import Definition, parse_definition
from .errors import NotRegisteredError, RegistryError
from .locations import Fetched

__all__ = ["AmplifierHome", "atomic_write"]


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    tmp.replace(path)


@dataclass(frozen=True, slots=True)
class AmplifierHome:
    """The user's AMPLIFIER_HOME directory (``$AMPLIFIER_HOME``, default ``~/.amplifier``)."""

    root: Path

    @classmethod
    def from_env(cls) -> AmplifierHome:
        from .runcache import home_root

        return cls(Path(home_root()))

    @property
    def definitions_dir(self) -> Path:
        return self.root / "definitions"

    @property
    def environments_dir(self) -> Path:
        return self.root / "environments"

    @property
    def sessions_dir(self) -> Path:
        return self.root / "sessions"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def settings_file(self) -> Path:
        return self.root / "settings.yaml"

    @property
    def keys_file(self) -> Path:
        return self.root / "keys.env"

    def alias_file(self, kind: str) -> Path:
        return self.root / f"{kind}s.yaml"

    def aliases(self, kind: str) -> dict[str, str]:
        """Alias -> definition id for ``kind`` (agent or behavior)."""
        path = self.alias_file(kind)
        if not path.is_file():
            return {}
        data = load_yaml(path.read_bytes()) or {}
        if not isinstance(data, dict):
            raise RegistryError(
                f"{path} is not a mapping of alias -> id", hint=f"delete {path} and register again"
            )
        return {str(k): str(v) for k, v in data.items()}

    def _write_aliases(self, kind: str, aliases: dict[str, str]) -> None:
        import yaml

        atomic_write(self.alias_file(kind), yaml.safe_dump(dict(sorted(aliases.items()))).encode())

    def cached_path(self, definition_id: str) -> Path:
        return self.definitions_dir / f"{definition_id}.yaml"

    def register(self, definition: Definition, fetched: Fetched, alias: str | None = None) -> Path:
        """Cache ``definition`` with its ``_meta`` and point its alias at it."""
        import yaml

        meta: dict[str, Any] = {
            "source_url": fetched.source_url,
            "sha256": definition.sha256,
            "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if fetched.local_path and fetched.local_path != fetched.source_url:
            meta["local_path"] = fetched.local_path
        body = fetched.raw.rstrip(b"\n") + b"\n\n" + yaml.safe_dump({"_meta": meta}, sort_keys=False).encode()
        path = self.cached_path(definition.id)
        atomic_write(path, body)
        aliases = self.aliases(definition.kind)
        aliases[alias or definition.ref] = definition.id
        self._write_aliases(definition.kind, aliases)
        return path

    def unregister(self, name: str) -> list[str]:
        """Drop the alias ``name`` (agent or behavior); returns the ids it pointed at."""
        removed: list[str] = []
        for kind in ("agent", "behavior"):
            aliases = self.aliases(kind)
            if name in aliases:
                removed.append(aliases.pop(name))
                self._write_aliases(kind, aliases)
        for definition_id in removed:
            still_named = any(definition_id in self.aliases(k).values() for k in ("agent", "behavior"))
            if not still_named:
                self.cached_path(definition_id).unlink(missing_ok=True)
        if not removed:
            raise NotRegisteredError(
                f"nothing is registered as '{name}'", hint="see `amplifier-ipc agents list`"
            )
        return removed

    def lookup(self, name: str, kind: str | None = None) -> str:
        """The definition id registered as ``name`` (agents first, then behaviors)."""
        kinds = (kind,) if kind else ("agent", "behavior")
        for k in kinds:
            found = self.aliases(k).get(name)
            if found:
                return found
        what = kind or "agent or behavior"
        raise NotRegisteredError(
            f"no {what} is registered as '{name}'",
            hint="register it first: `amplifier-ipc discover ./definitions --register` or `amplifier-ipc register FILE`",
        )

    def load(self, definition_id: str) -> Definition:
        """Read a cached definition; its origin is where it was fetched from."""
        path = self.cached_path(definition_id)
        if not path.is_file():
            raise NotRegisteredError(
                f"definition {definition_id} is registered but its cached file is missing",
                hint="register it again",
            )
        definition = parse_definition(path.read_bytes(), str(path))
        meta = definition.meta
        definition.origin = str(meta.get("local_path") or meta.get("source_url") or path)
        if meta.get("sha256"):
            definition.sha256 = str(meta["sha256"])
        return definition

    def load_alias(self, name: str, kind: str | None = None) -> Definition:
        return self.load(self.lookup(name, kind))
