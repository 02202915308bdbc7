"""Skills: folders holding a ``SKILL.md`` whose YAML header names and
describes the skill; the body is what the model reads when it loads it.

Folders searched, later ones winning for the same name: the ``dirs`` of the
service's config (relative to the working directory), ``AMPLIFIER_HOME/skills``
(default ``~/.amplifier/skills``), then ``<working dir>/.amplifier/skills``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amplifier_ipc_protocol.content import parse_front_matter

__all__ = ["LOADED_KEY", "Skill", "Catalog", "load_catalog", "skill_dirs", "dirs_from"]

LOADED_KEY = "skills.loaded"
"""Session state key: the names of skills loaded in this session, in load order."""

SKILL_FILE = "SKILL.md"
# Skills may be grouped in category folders; deeper trees are not skill libraries.
MAX_DEPTH = 4
# A skill is instructions for a model; a larger SKILL.md is a mistake.
MAX_SKILL_BYTES = 512 * 1024
# Companion files listed by 'info'; a folder with more is summarised.
MAX_LISTED_FILES = 50

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


@dataclass(slots=True)
class Skill:
    name: str
    description: str
    folder: Path
    header: dict[str, Any]

    @property
    def path(self) -> Path:
        return self.folder / SKILL_FILE

    def body(self) -> str:
        _, body = parse_front_matter(self.path.read_text(encoding="utf-8"), origin=str(self.path))
        return body

    def files(self) -> list[str]:
        found: list[str] = []
        for directory, subdirs, names in os.walk(self.folder):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
            for name in sorted(names):
                if not name.startswith("."):
                    found.append(os.path.relpath(os.path.join(directory, name), self.folder))
        return found


def read_skill(path: Path) -> Skill:
    origin = str(path)
    if path.stat().st_size > MAX_SKILL_BYTES:
        raise ValueError(f"{origin}: larger than {MAX_SKILL_BYTES} bytes")
    header, _ = parse_front_matter(path.read_text(encoding="utf-8"), origin=origin)
    name = header.get("name", path.parent.name)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"{origin}: name {name!r} must be letters, digits, '.', '_', ':' or '-'")
    description = header.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ValueError(f"{origin}: the header needs a description (one line saying when to use the skill)")
    return Skill(name=name, description=description.strip(), folder=path.parent, header=header)


def dirs_from(config: dict[str, Any]) -> list[str]:
    dirs = config.get("dirs", [])
    if not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
        raise ValueError("skills config 'dirs' must be a list of folder paths")
    return dirs


def skill_dirs(extra: list[str] | None = None) -> list[Path]:
    """The folders searched, lowest precedence first."""
    home = Path(os.environ.get("AMPLIFIER_HOME") or Path.home() / ".amplifier")
    cwd = Path.cwd()
    return [*(cwd / d for d in extra or []), home / "skills", cwd / ".amplifier" / "skills"]


def _skill_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for directory, subdirs, names in os.walk(root):
        depth = len(Path(directory).relative_to(root).parts)
        if SKILL_FILE in names:
            found.append(Path(directory) / SKILL_FILE)
            subdirs[:] = []  # a skill's own subfolders are its companions, not skills
            continue
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".")) if depth < MAX_DEPTH else []
    return sorted(found)


@dataclass(slots=True)
class Catalog:
    skills: dict[str, Skill]
    problems: list[str]

    def search(self, query: str) -> list[Skill]:
        words = query.lower().split()
        return [
            s for s in self.skills.values() if all(w in f"{s.name} {s.description}".lower() for w in words)
        ]


def load_catalog(extra_dirs: list[str] | None = None) -> Catalog:
    skills: dict[str, Skill] = {}
    problems: list[str] = []
    for root in skill_dirs(extra_dirs):
        if not root.is_dir():
            continue
        for path in _skill_files(root):
            try:
                skill = read_skill(path)
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                problems.append(str(exc) if isinstance(exc, ValueError) else f"{path}: {exc}")
                continue
            skills[skill.name] = skill
    return Catalog(dict(sorted(skills.items())), problems)
