"""Serving a package's content files without letting a path escape them."""

from __future__ import annotations

import os
import re
from typing import Any

from .discovery import CONTENT_FOLDERS
from .errors import InvalidParams

__all__ = ["resolve_content_path", "read_content", "list_content", "parse_front_matter"]

# A content file is context for a model; anything larger is a mistake.
MAX_CONTENT_BYTES = 4 * 1024 * 1024


def resolve_content_path(root: str, path: object) -> str:
    """The real file for ``path`` under ``root``'s content folders.

    Raises ``InvalidParams`` for a path that is absolute, holds ``..``, lies
    outside the content folders, or resolves (through a symlink) outside them.
    """
    if not isinstance(path, str) or not path:
        raise InvalidParams("content path must be a non-empty string")
    if "\x00" in path:
        raise InvalidParams("content path must not contain NUL bytes")
    normalised = path.replace("\\", "/")
    parts = normalised.split("/")
    if normalised.startswith("/") or os.path.isabs(path):
        raise InvalidParams(f"content path must be relative: {path}")
    if ".." in parts:
        raise InvalidParams(f"content path must not contain '..': {path}")
    if parts[0] not in CONTENT_FOLDERS:
        raise InvalidParams(
            f"content path {path} is outside the content folders ({', '.join(CONTENT_FOLDERS)})"
        )
    real_root = os.path.realpath(root)
    full = os.path.realpath(os.path.join(real_root, *parts))
    allowed = os.path.join(real_root, parts[0]) + os.sep
    if not full.startswith(allowed):
        raise InvalidParams(f"content path {path} resolves outside the service's content")
    return full


def read_content(root: str, path: object) -> str:
    full = resolve_content_path(root, path)
    if not os.path.isfile(full):
        raise InvalidParams(f"no content file {path}")
    if os.path.getsize(full) > MAX_CONTENT_BYTES:
        raise InvalidParams(f"content file {path} is larger than {MAX_CONTENT_BYTES} bytes")
    with open(full, "rb") as handle:
        return handle.read().decode("utf-8", errors="replace")


def list_content(paths: list[str], prefix: object = None) -> list[str]:
    if prefix is None or prefix == "":
        return list(paths)
    if not isinstance(prefix, str):
        raise InvalidParams("prefix must be a string")
    return [p for p in paths if p.startswith(prefix)]


_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def parse_front_matter(text: str, *, origin: str) -> tuple[dict[str, Any], str]:
    """Split a Markdown file's ``---``-fenced YAML header from its body.

    Modes, skills and agent descriptions are all written this way. Raises
    ValueError naming ``origin`` when the header is missing or malformed.
    """
    match = _FRONT.match(text)
    if match is None:
        raise ValueError(f"{origin}: no YAML header (the file must start with a line '---')")
    import yaml  # lazily: nothing heavy before describe

    try:
        header = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise ValueError(f"{origin}: the YAML header does not parse: {exc}") from None
    if header is None:
        header = {}
    if not isinstance(header, dict):
        raise ValueError(f"{origin}: the YAML header must be a mapping of fields")
    return header, text[match.end() :].strip()
