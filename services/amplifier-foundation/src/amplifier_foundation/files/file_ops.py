"""read_file, write_file and edit_file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..tools._results import fail, ok
from .paths import PathPolicy

__all__ = ["read_file", "write_file", "edit_file", "atomic_write"]

# Lines returned by one read_file call unless the caller asks for fewer; a
# model pages through longer files with offset.
MAX_READ_LINES = 2_000
# Longer lines are cut, so one minified file cannot fill the context.
MAX_LINE_CHARS = 2_000
# Bytes inspected for a NUL byte to decide that a file is binary.
BINARY_SNIFF_BYTES = 8_192
# Files above this size are refused by read_file: page a log with bash instead.
MAX_READ_FILE_BYTES = 50 * 1024 * 1024


def _is_binary(path: Path) -> bool:
    with path.open("rb") as handle:
        return b"\x00" in handle.read(BINARY_SNIFF_BYTES)


def read_file(policy: PathPolicy, args: dict[str, Any]) -> dict[str, Any]:
    path = policy.for_read(args["path"])
    if not path.exists():
        return fail(f"{args['path']} does not exist; check the path with glob", "FileNotFound")
    if path.is_dir():
        return fail(f"{args['path']} is a directory; list it with glob or bash ls", "IsADirectory")
    if path.stat().st_size > MAX_READ_FILE_BYTES:
        return fail(
            f"{args['path']} is larger than {MAX_READ_FILE_BYTES} bytes; inspect it with bash (head, grep)"
        )
    if _is_binary(path):
        return fail(f"{args['path']} is a binary file; read_file only reads text", "BinaryFile")
    offset = max(int(args.get("offset") or 1), 1)
    limit = min(int(args.get("limit") or MAX_READ_LINES), MAX_READ_LINES)
    out: list[str] = []
    total = 0
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            total = number
            if number < offset or len(out) >= limit:
                continue
            line = line.rstrip("\n").rstrip("\r")
            if len(line) > MAX_LINE_CHARS:
                line = line[:MAX_LINE_CHARS] + f" [... line cut at {MAX_LINE_CHARS} characters]"
            out.append(f"{number:6}\t{line}")
    if total == 0:
        return ok("(empty file)")
    if offset > total:
        return fail(f"offset {offset} is past the end: {args['path']} has {total} lines", "InvalidOffset")
    last = offset + len(out) - 1
    if last < total:
        out.append(f"[showing lines {offset}-{last} of {total}; read on with offset={last + 1}]")
    return ok("\n".join(out))


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so a
    reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def write_file(policy: PathPolicy, args: dict[str, Any]) -> dict[str, Any]:
    path = policy.for_write(args["path"])
    if path.is_dir():
        return fail(f"{args['path']} is a directory; give a file path", "IsADirectory")
    existed = path.exists()
    atomic_write(path, args["content"].encode("utf-8"))
    lines = args["content"].count("\n") + (0 if args["content"].endswith("\n") or not args["content"] else 1)
    verb = "Overwrote" if existed else "Created"
    return ok(f"{verb} {policy.display(path)} ({lines} lines)")


def edit_file(policy: PathPolicy, args: dict[str, Any]) -> dict[str, Any]:
    path = policy.for_write(args["path"])
    old, new = args["old_string"], args["new_string"]
    if not path.is_file():
        return fail(f"{args['path']} does not exist; create it with write_file", "FileNotFound")
    if old == "":
        return fail("old_string is empty; give the exact text to replace (or use write_file)")
    if old == new:
        return fail("old_string and new_string are the same; nothing would change")
    if _is_binary(path):
        return fail(f"{args['path']} is a binary file; edit_file only edits text", "BinaryFile")
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    count = text.count(old)
    if count == 0:
        return fail(
            f"old_string was not found in {args['path']}; read the file again and copy the text exactly "
            "(whitespace and indentation included)",
            "NoMatch",
        )
    if count > 1 and not args.get("replace_all"):
        return fail(
            f"old_string occurs {count} times in {args['path']}; add surrounding lines to make it unique, "
            "or set replace_all to true",
            "NotUnique",
        )
    updated = text.replace(old, new) if args.get("replace_all") else text.replace(old, new, 1)
    atomic_write(path, updated.encode("utf-8", errors="surrogateescape"))
    return ok(f"Edited {policy.display(path)}: {count if args.get('replace_all') else 1} replacement(s)")
