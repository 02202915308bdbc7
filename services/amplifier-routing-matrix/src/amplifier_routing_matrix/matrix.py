"""Routing matrices: YAML files mapping a model role to candidate
provider/model pairs, tried in order.

    name: balanced
    description: ...
    roles:
      fast:
        - {provider: anthropic, model: claude-haiku-4-5}
        - {provider: openai, model: gpt-5-mini}
      default:
        - {provider: anthropic, model: claude-sonnet-4-5}

A matrix is named by config ``matrix``: the name of a shipped matrix
(``context/routing/<name>.yaml`` of this service), of one in
``AMPLIFIER_HOME/routing/`` or ``<working dir>/.amplifier/routing/`` (these
win over shipped ones), or a path to a YAML file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_MATRIX",
    "DEFAULT_ROLE",
    "Route",
    "Matrix",
    "MatrixError",
    "find_matrix",
    "load_matrix",
    "matrix_dirs",
]

DEFAULT_MATRIX = "balanced"
DEFAULT_ROLE = "default"
"""The role used when a request names none (only if the matrix defines it)."""


class MatrixError(ValueError):
    """A matrix that cannot be found or read; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Route:
    provider: str
    model: str


@dataclass(slots=True)
class Matrix:
    name: str
    description: str
    roles: dict[str, list[Route]]
    path: str

    def choose(self, role: str, available: list[str] | None) -> Route | None:
        """The first candidate for ``role`` whose provider is available (any, if unknown)."""
        for route in self.roles.get(role, []):
            if available is None or route.provider in available:
                return route
        return None


def matrix_dirs() -> list[Path]:
    """Folders holding named matrices, lowest precedence first."""
    home = Path(os.environ.get("AMPLIFIER_HOME") or Path.home() / ".amplifier")
    return [
        Path(__file__).parent / "context" / "routing",
        home / "routing",
        Path.cwd() / ".amplifier" / "routing",
    ]


def find_matrix(name: str) -> Path:
    if name.endswith((".yaml", ".yml")) or os.sep in name or "/" in name:
        path = Path(name).expanduser()
        if not path.is_file():
            raise MatrixError(f"routing matrix file {path} does not exist")
        return path
    found: Path | None = None
    for directory in matrix_dirs():
        for suffix in (".yaml", ".yml"):
            candidate = directory / f"{name}{suffix}"
            if candidate.is_file():
                found = candidate
    if found is None:
        known = sorted({p.stem for d in matrix_dirs() if d.is_dir() for p in d.glob("*.y*ml")})
        raise MatrixError(f"no routing matrix named {name!r}; available: {', '.join(known) or 'none'}")
    return found


def load_matrix(name: str) -> Matrix:
    import yaml  # lazily: nothing heavy before describe

    path = find_matrix(name)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MatrixError(f"routing matrix {path} cannot be read: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("roles"), dict):
        raise MatrixError(
            f"routing matrix {path} needs a 'roles' mapping of role -> [{{provider, model}}, ...]"
        )
    roles: dict[str, list[Route]] = {}
    for role, candidates in raw["roles"].items():
        if isinstance(candidates, dict):
            candidates = [candidates]
        if not isinstance(candidates, list) or not candidates:
            raise MatrixError(f"routing matrix {path}: role {role!r} needs a list of {{provider, model}}")
        routes: list[Route] = []
        for index, entry in enumerate(candidates):
            if not (
                isinstance(entry, dict)
                and isinstance(entry.get("provider"), str)
                and isinstance(entry.get("model"), str)
            ):
                raise MatrixError(
                    f"routing matrix {path}: role {role!r} entry {index} needs string 'provider' and 'model'"
                )
            routes.append(Route(entry["provider"], entry["model"]))
        roles[str(role)] = routes
    description = raw.get("description", "")
    return Matrix(
        name=str(raw.get("name", path.stem)),
        description=description if isinstance(description, str) else "",
        roles=roles,
        path=str(path),
    )
