"""glob and grep (ripgrep when installed, a Python scan otherwise)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path
from typing import Any

from ..tools._results import fail, ok
from .paths import PathPolicy

__all__ = ["glob_files", "grep"]

# Paths returned by one glob call; the model narrows the pattern for more.
MAX_GLOB_RESULTS = 500
# Lines (or files) returned by one grep call.
DEFAULT_GREP_RESULTS = 200
# Folders nobody wants searched unless asked for by name.
SKIPPED_DIRS = frozenset({".git", "node_modules", "__pycache__", ".venv", ".mypy_cache", ".ruff_cache"})
# A file larger than this is not scanned by the Python fallback.
MAX_SCAN_FILE_BYTES = 5 * 1024 * 1024
# Time allowed for one ripgrep run.
RIPGREP_TIMEOUT_S = 60.0


def _visible(path: Path, base: Path) -> bool:
    return not any(part in SKIPPED_DIRS for part in path.relative_to(base).parts[:-1])


def glob_files(policy: PathPolicy, args: dict[str, Any]) -> dict[str, Any]:
    base = policy.for_read(args.get("path") or ".")
    if not base.is_dir():
        return fail(f"{args.get('path')} is not a directory", "NotADirectory")
    pattern = args["pattern"]
    if pattern.startswith("/") or ".." in Path(pattern).parts:
        return fail("pattern must be relative to path and must not contain '..'; set path instead")
    found = [p for p in base.glob(pattern) if p.is_file() and _visible(p, base)]
    found.sort(key=lambda p: (-p.stat().st_mtime, str(p)))
    shown = [policy.display(p) for p in found[:MAX_GLOB_RESULTS]]
    if not shown:
        return ok(f"no files match {pattern} under {policy.display(base) or '.'}")
    if len(found) > MAX_GLOB_RESULTS:
        shown.append(f"[{len(found) - MAX_GLOB_RESULTS} more; narrow the pattern]")
    return ok("\n".join(shown))


def _python_grep(
    base: Path, regex: re.Pattern[str], file_glob: str | None, mode: str, limit: int
) -> list[str]:
    out: list[str] = []
    files = [base] if base.is_file() else None
    if files is None:
        files = []
        for directory, subdirs, names in os.walk(base):
            subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRS)
            files.extend(Path(directory) / n for n in sorted(names))
    root = base if base.is_dir() else base.parent
    for path in files:
        if file_glob and not (path.match(file_glob) or path.relative_to(root).match(file_glob)):
            continue
        try:
            if path.stat().st_size > MAX_SCAN_FILE_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if b"\x00" in data[:8192]:
            continue
        text = data.decode("utf-8", errors="replace")
        hits = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if regex.search(line)]
        if not hits:
            continue
        name = str(path)
        if mode == "files_with_matches":
            out.append(name)
        elif mode == "count":
            out.append(f"{name}:{len(hits)}")
        else:
            out.extend(f"{name}:{n}:{line}" for n, line in hits)
        if len(out) >= limit:
            break
    return out


async def _ripgrep(rg: str, base: Path, args: dict[str, Any], mode: str) -> list[str]:
    command = [rg, "--no-heading", "--line-number", "--color=never", "--no-messages"]
    if args.get("case_insensitive"):
        command.append("-i")
    if args.get("glob"):
        command += ["--glob", args["glob"]]
    if mode == "files_with_matches":
        command.append("--files-with-matches")
    elif mode == "count":
        command.append("--count")
    command += ["--regexp", args["pattern"], "--", str(base)]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(), RIPGREP_TIMEOUT_S)
    except BaseException:
        process.kill()
        await process.wait()
        raise
    return stdout.decode("utf-8", errors="replace").splitlines()


async def grep(
    policy: PathPolicy, args: dict[str, Any], *, use_ripgrep: bool | None = None
) -> dict[str, Any]:
    """Search file contents; ``use_ripgrep`` None means "when installed"."""
    base = policy.for_read(args.get("path") or ".")
    if not base.exists():
        return fail(f"{args.get('path')} does not exist", "FileNotFound")
    mode = args.get("output_mode") or "content"
    limit = int(args.get("max_results") or DEFAULT_GREP_RESULTS)
    flags = re.IGNORECASE if args.get("case_insensitive") else 0
    try:
        regex = re.compile(args["pattern"], flags)
    except re.error as exc:
        return fail(f"pattern is not a valid regular expression: {exc}", "InvalidPattern")
    rg = shutil.which("rg") if use_ripgrep is not False else None
    if use_ripgrep and rg is None:
        return fail("ripgrep (rg) is not installed", "NotInstalled")
    if rg:
        lines = await _ripgrep(rg, base, args, mode)
    else:
        lines = await asyncio.to_thread(_python_grep, base, regex, args.get("glob"), mode, limit)
    cwd = str(policy.cwd) + os.sep
    lines = [line[len(cwd) :] if line.startswith(cwd) else line for line in lines]
    if not lines:
        return ok(f"no matches for {args['pattern']!r}")
    extra = len(lines) - limit
    lines = lines[:limit]
    if extra > 0:
        lines.append(f"[{extra} more results; narrow the pattern or the path]")
    return ok("\n".join(lines))
