"""One uv virtualenv per service definition, under AMPLIFIER_HOME/environments/<id>/.

The protocol package comes from this checkout (offline), the service from its
definition's source; bytecode is compiled at install, because an uncompiled
venv pays the compile on every spawn. Services are started with the venv's own
script, never ``uv run``. An environment is rebuilt when a fingerprint of its
sources changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .definitions import Definition
from .errors import InstallError
from .fingerprint import folder_fingerprint
from .home import AmplifierHome, atomic_write
from .locations import git_checkout, join_location, parse_git_url

__all__ = [
    "Environment",
    "ServiceSource",
    "find_uv",
    "locate_protocol",
    "service_source",
    "environment",
    "install",
    "needs_install",
    "uninstall",
]

RECORD = "amplifier-install.json"
# Resolving and building a service with SDK dependencies from an empty cache can take minutes.
UV_TIMEOUT_S = 900.0
PACKAGE_SPEC = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9_,.-]+\])?([<>=!~].*)?$")

Progress = Callable[[str], None]


@dataclass(slots=True)
class ServiceSource:
    """Where a service installs from: a local folder (path or git checkout) or a package spec."""

    kind: str  # path, git, package
    spec: str
    path: Path | None = None


@dataclass(slots=True)
class Environment:
    """A service's virtualenv."""

    definition_id: str
    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def script(self, name: str) -> Path:
        return self.root / "bin" / name

    @property
    def record_path(self) -> Path:
        return self.root / RECORD

    def fingerprint(self) -> str | None:
        """Identifies this installation: its install record, which every install rewrites (so its
        modification time changes even when two installs write the same text)."""
        try:
            stamp = self.record_path.stat().st_mtime_ns
            return f"{hashlib.sha256(self.record_path.read_bytes()).hexdigest()[:32]}-{stamp}"
        except OSError:
            return None

    def record(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.record_path.read_bytes())
        except (FileNotFoundError, ValueError):
            return None
        return data if isinstance(data, dict) else None


def find_uv() -> str:
    """The uv binary: ``uv`` on PATH, else the one the ``uv`` PyPI package ships."""
    found = shutil.which("uv")
    if found:
        return found
    try:
        import uv

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        raise InstallError(
            "uv is not installed", hint="install it: `pip install uv` (or see https://docs.astral.sh/uv/)"
        ) from None


def locate_protocol(near: Path | None = None) -> Path | None:
    """The protocol package of this checkout, or None to take it from the package index."""
    override = os.environ.get("AMPLIFIER_IPC_PROTOCOL_SOURCE")
    if override:
        return Path(override).resolve()
    import amplifier_ipc

    candidates = [Path(amplifier_ipc.__file__).resolve().parents[2] / "protocol"]
    if near is not None:
        candidates += [folder / "protocol" for folder in (near, *near.parents)]
    for candidate in candidates:
        if (candidate / "pyproject.toml").is_file() and (
            candidate / "src" / "amplifier_ipc_protocol"
        ).is_dir():
            return candidate
    return None


def environment(home: AmplifierHome, definition_id: str) -> Environment:
    return Environment(definition_id, home.environments_dir / definition_id)


def service_source(definition: Definition, home: AmplifierHome) -> ServiceSource:
    """Where ``definition``'s service installs from, with git sources checked out."""
    assert definition.service is not None
    source = definition.service.source
    if source.startswith("git+"):
        git = parse_git_url(source)
        root = git_checkout(git, home.cache_dir)
        return ServiceSource("git", source, root / git.subdirectory if git.subdirectory else root)
    is_path = source.startswith((".", "/", "~", "file://")) or "/" in source
    if is_path:
        if definition.origin.startswith(("https://", "http://")) and not source.startswith(("/", "file://")):
            raise InstallError(
                f"{definition.origin}: service.source '{source}' is relative to a web URL",
                hint="a definition fetched over https must name a git URL or a package as its source",
            )
        location = source[len("file://") :] if source.startswith("file://") else os.path.expanduser(source)
        # An absolute path stays as it is, even in a definition fetched over https.
        path = Path(location) if os.path.isabs(location) else Path(join_location(definition.origin, location))
        if not (path / "pyproject.toml").is_file():
            raise InstallError(
                f"{definition.origin}: service.source {path} has no pyproject.toml",
                hint="point service.source at the service's folder",
            )
        return ServiceSource("path", source, path)
    if not PACKAGE_SPEC.match(source):
        raise InstallError(
            f"{definition.origin}: service.source '{source}' is neither a path, a git URL nor a package"
        )
    return ServiceSource("package", source)


def _wanted(
    source: ServiceSource, protocol: Path | None, memo: dict[Path, str] | None = None
) -> dict[str, Any]:
    def fingerprint(folder: Path) -> str:
        if memo is None:
            return folder_fingerprint(folder)
        if folder not in memo:
            memo[folder] = folder_fingerprint(folder)
        return memo[folder]

    return {
        "source": source.spec,
        "source_path": str(source.path) if source.path else None,
        "source_fingerprint": fingerprint(source.path) if source.path else source.spec,
        "protocol": str(protocol) if protocol else None,
        "protocol_fingerprint": fingerprint(protocol) if protocol else None,
        "python": sys.version.split()[0],
    }


def needs_install(
    home: AmplifierHome, definition: Definition, memo: dict[Path, str] | None = None
) -> str | None:
    """Why ``definition``'s environment must be (re)built, or None when it is current.

    ``memo`` shares folder fingerprints between the checks of one resolution
    (every service of a checkout installs the same protocol folder).
    """
    if definition.service is None:
        return None
    env = environment(home, definition.id)
    record = env.record()
    if record is None:
        return "not installed"
    source = service_source(definition, home)
    wanted = _wanted(source, locate_protocol(source.path), memo)
    for key in ("source", "source_fingerprint", "protocol_fingerprint", "python"):
        if record.get(key) != wanted[key]:
            return f"{key.replace('_', ' ')} changed"
    if not env.script(definition.service.command[0]).exists():
        return "its command is missing"
    return None


def install(
    home: AmplifierHome,
    definition: Definition,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> Environment:
    """Build (or rebuild when stale or ``force``) the virtualenv of ``definition``'s service."""
    if definition.service is None:
        raise InstallError(f"{definition.ref} brings no service, so there is nothing to install")
    say = progress or (lambda _message: None)
    env = environment(home, definition.id)
    if not force and needs_install(home, definition) is None:
        return env
    source = service_source(definition, home)
    protocol = locate_protocol(source.path)
    wanted = _wanted(source, protocol)
    uv = find_uv()
    started = time.monotonic()
    if env.root.exists():
        shutil.rmtree(env.root)
    env.root.parent.mkdir(parents=True, exist_ok=True)
    say(f"creating the environment of {definition.ref}")
    _uv(uv, ["venv", "--quiet", "--python", sys.executable, str(env.root)], definition, offline=True)
    requirements = [str(protocol)] if protocol else []
    requirements.append(str(source.path) if source.path else source.spec)
    say(f"installing {definition.ref} ({source.path or source.spec})")
    args = ["pip", "install", "--quiet", "--compile-bytecode", "--python", str(env.python)]
    # The services' pyprojects point the protocol at the workspace; outside it the path above stands in.
    if source.path is not None:
        args.append("--no-sources")
    try:
        _uv(uv, [*args, *requirements], definition, offline=True)
    except InstallError:
        say(f"installing {definition.ref}: not all packages are in the uv cache, using the network")
        _uv(uv, [*args, *requirements], definition, offline=False)
    command = definition.service.command[0]
    if not env.script(command).exists():
        raise InstallError(
            f"{definition.ref} installed, but it has no command '{command}'",
            hint="service.command must name a script from the service's [project.scripts]",
        )
    record = {
        **wanted,
        "definition_id": definition.id,
        "command": definition.service.command,
        "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.monotonic() - started, 2),
    }
    atomic_write(env.record_path, json.dumps(record, indent=2).encode())
    return env


def _uv(uv: str, args: list[str], definition: Definition, *, offline: bool) -> None:
    env = {**os.environ, "UV_NO_PROGRESS": "1"}
    env.pop("VIRTUAL_ENV", None)
    if offline:
        env["UV_OFFLINE"] = "1"
    else:
        env.pop("UV_OFFLINE", None)
    try:
        done = subprocess.run([uv, *args], capture_output=True, text=True, timeout=UV_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        raise InstallError(f"installing {definition.ref} took longer than {UV_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise InstallError(
            f"installing {definition.ref} failed:\n{tail}",
            hint="check service.source in " + definition.origin,
        )


def uninstall(home: AmplifierHome, definition_id: str) -> bool:
    """Delete the environment; False when there was none."""
    env = environment(home, definition_id)
    if not env.root.exists():
        return False
    shutil.rmtree(env.root)
    return True
