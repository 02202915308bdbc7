"""Where file tools may read and write.

Config keys (of the ``files`` tool set): ``allowed_write_paths`` (default:
the working directory), ``denied_write_paths`` (checked first; default none),
``read_outside_working_dir`` (default true). Relative entries are relative
to the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["PathPolicy", "PathRefused"]


class PathRefused(Exception):
    """A path the session's policy does not allow; the message says why and what to do."""


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


class PathPolicy:
    def __init__(self, config: dict[str, Any], cwd: str | None = None) -> None:
        self.cwd = Path(cwd or os.getcwd()).resolve()
        self.allowed = [self._root(p) for p in config.get("allowed_write_paths") or ["."]]
        self.denied = [self._root(p) for p in config.get("denied_write_paths") or []]
        self.read_outside = bool(config.get("read_outside_working_dir", True))

    def _root(self, entry: str) -> Path:
        return (self.cwd / os.path.expanduser(entry)).resolve()

    def resolve(self, path: str) -> Path:
        """``path`` made absolute against the working directory, symlinks resolved."""
        if not isinstance(path, str) or not path.strip():
            raise PathRefused("path is empty; give a file path relative to the working directory")
        if "\x00" in path:
            raise PathRefused("path contains a NUL byte")
        return (self.cwd / os.path.expanduser(path)).resolve()

    def for_read(self, path: str) -> Path:
        resolved = self.resolve(path)
        if not self.read_outside and not _inside(resolved, self.cwd):
            raise PathRefused(
                f"{path} is outside the working directory {self.cwd}, and this session does not allow "
                "reading outside it (files config read_outside_working_dir: false)"
            )
        return resolved

    def for_write(self, path: str) -> Path:
        resolved = self.resolve(path)
        for root in self.denied:
            if _inside(resolved, root):
                raise PathRefused(
                    f"writing {path} is denied: it is under {root} (files config denied_write_paths)"
                )
        if not any(_inside(resolved, root) for root in self.allowed):
            allowed = ", ".join(str(r) for r in self.allowed)
            raise PathRefused(
                f"writing {path} is not allowed: it is outside the allowed write paths ({allowed}); "
                "write inside them, or add the folder to files config allowed_write_paths"
            )
        return resolved

    def display(self, path: Path) -> str:
        """``path`` relative to the working directory when inside it."""
        return str(path.relative_to(self.cwd)) if _inside(path, self.cwd) and path != self.cwd else str(path)
