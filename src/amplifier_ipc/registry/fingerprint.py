"""Cheap change detection of a source folder: every file's path, size and
modification time, no reads. Used to decide when an environment must be
rebuilt (environments.py), and to check a cached resolution (runcache.py).
Only cheap imports: the CLI checks its cache before importing anything else."""

from __future__ import annotations

import hashlib
import os

__all__ = ["SKIPPED_DIRS", "folder_fingerprint"]

# Folders that never affect what gets installed.
SKIPPED_DIRS = frozenset(
    {
        ".venv",
        "__pycache__",
        ".git",
        "tests",
        "node_modules",
        "build",
        "dist",
        ".pytest_cache",
        ".ruff_cache",
        ".mypy_cache",
    }
)


def folder_fingerprint(folder: str | os.PathLike[str]) -> str:
    """A digest of every file under ``folder`` (its relative path, size and
    modification time), skipping bytecode and ``SKIPPED_DIRS``."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and not d.endswith(".egg-info"))
        for name in sorted(filenames):
            if name.endswith((".pyc", ".pyo")):
                continue
            full = os.path.join(dirpath, name)
            try:
                info = os.stat(full)
            except OSError:
                continue
            digest.update(f"{os.path.relpath(full, folder)}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()
