"""apply_patch: unified diffs (as ``diff -u`` and ``git diff`` write them).

All files are checked before any is written, so a patch applies entirely or
not at all. A hunk whose context is not at the stated line is searched for
nearby; one that matches nowhere is an error naming the hunk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..tools._results import fail, ok
from .file_ops import atomic_write
from .paths import PathPolicy, PathRefused

__all__ = ["PatchError", "parse_patch", "apply_patch"]

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_DEV_NULL = "/dev/null"


class PatchError(Exception):
    """A patch that cannot be parsed or applied; the message says where."""


@dataclass
class Hunk:
    old_start: int
    lines: list[str] = field(default_factory=list)  # each starts with ' ', '-' or '+'

    def old(self) -> list[str]:
        return [line[1:] for line in self.lines if line[0] in " -"]

    def new(self) -> list[str]:
        return [line[1:] for line in self.lines if line[0] in " +"]


@dataclass
class FilePatch:
    old_path: str
    new_path: str
    hunks: list[Hunk] = field(default_factory=list)


def _strip_prefix(name: str) -> str:
    name = name.split("\t")[0].strip()
    if name != _DEV_NULL and (name.startswith("a/") or name.startswith("b/")):
        return name[2:]
    return name


def parse_patch(text: str) -> list[FilePatch]:
    """The file patches of a unified diff."""
    patches: list[FilePatch] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("--- ") and index + 1 < len(lines) and lines[index + 1].startswith("+++ "):
            patches.append(FilePatch(_strip_prefix(line[4:]), _strip_prefix(lines[index + 1][4:])))
            index += 2
            continue
        match = _HUNK.match(line)
        if match:
            if not patches:
                raise PatchError(f"line {index + 1}: hunk before any '--- a/file' / '+++ b/file' header")
            hunk = Hunk(int(match.group(1)))
            old_count = int(match.group(2)) if match.group(2) is not None else 1
            new_count = int(match.group(4)) if match.group(4) is not None else 1
            index += 1
            seen_old = seen_new = 0
            while index < len(lines) and (seen_old < old_count or seen_new < new_count):
                body = lines[index]
                if body.startswith("\\"):  # "\ No newline at end of file"
                    index += 1
                    continue
                body = body or " "  # some tools drop the space of an empty context line
                if body[0] not in " -+":
                    raise PatchError(
                        f"line {index + 1}: hunk line must start with ' ', '-' or '+': {body[:60]!r}"
                    )
                hunk.lines.append(body)
                seen_old += body[0] in " -"
                seen_new += body[0] in " +"
                index += 1
            if seen_old != old_count or seen_new != new_count:
                raise PatchError(
                    f"hunk at line {hunk.old_start} of {patches[-1].new_path} is shorter than its header says "
                    f"({seen_old}/{old_count} old lines, {seen_new}/{new_count} new lines)"
                )
            patches[-1].hunks.append(hunk)
            continue
        index += 1
    if not patches:
        raise PatchError(
            "no file headers found; give a unified diff with '--- a/path' and '+++ b/path' lines"
        )
    return patches


def _find(lines: list[str], block: list[str], start: int) -> int | None:
    """Index where ``block`` occurs, nearest to ``start`` first."""
    if not block:
        return min(max(start, 0), len(lines))
    last = len(lines) - len(block)
    for distance in range(0, len(lines) + 1):
        for candidate in (start - distance, start + distance):
            if 0 <= candidate <= last and lines[candidate : candidate + len(block)] == block:
                return candidate
        if start - distance < 0 and start + distance > last:
            break
    return None


def _apply_hunks(original: list[str], patch: FilePatch) -> list[str]:
    result = list(original)
    shift = 0
    for number, hunk in enumerate(patch.hunks, start=1):
        old = hunk.old()
        at = _find(result, old, hunk.old_start - 1 + shift)
        if at is None:
            preview = "\n".join(old[:3])
            raise PatchError(
                f"hunk {number} of {patch.new_path} (at line {hunk.old_start}) does not match the file; "
                f"read the file again and rebuild the patch. Expected lines:\n{preview}"
            )
        result[at : at + len(old)] = hunk.new()
        shift = at + len(hunk.new()) - (hunk.old_start - 1) - len(old)
    return result


def apply_patch(policy: PathPolicy, args: dict[str, Any]) -> dict[str, Any]:
    try:
        patches = parse_patch(args["patch"])
        planned: list[tuple[Path, bytes | None, str]] = []
        for patch in patches:
            deleting = patch.new_path == _DEV_NULL
            creating = patch.old_path == _DEV_NULL
            target = policy.for_write(patch.old_path if deleting else patch.new_path)
            if creating:
                if target.exists():
                    raise PatchError(f"{patch.new_path} already exists; the patch creates it from /dev/null")
                original: list[str] = []
            else:
                source = policy.for_write(patch.old_path)
                if not source.is_file():
                    raise PatchError(f"{patch.old_path} does not exist")
                original = source.read_text(encoding="utf-8").splitlines()
            if deleting:
                planned.append((target, None, f"deleted {patch.old_path}"))
                continue
            new_lines = _apply_hunks(original, patch)
            body = "\n".join(new_lines) + ("\n" if new_lines else "")
            verb = "created" if creating else "patched"
            planned.append(
                (target, body.encode("utf-8"), f"{verb} {patch.new_path} ({len(patch.hunks)} hunks)")
            )
    except (PatchError, PathRefused) as exc:
        return fail(f"patch not applied (no file was changed): {exc}", "PatchError")
    except UnicodeDecodeError as exc:
        return fail(f"patch not applied: a target is not UTF-8 text ({exc})", "PatchError")
    for target, data, _ in planned:
        if data is None:
            target.unlink()
        else:
            atomic_write(target, data)
    return ok("\n".join(summary for _, _, summary in planned))
