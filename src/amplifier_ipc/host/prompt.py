"""The system prompt: the agent's instructions, then the content it selects.

Content comes from ``SessionConfig.content`` (``service:path`` entries or
``@mentions``) and from ``@mentions`` in the instructions and in the files
themselves: ``@service:path`` reads a service's content file
(``content.read``), ``@path`` a file relative to the working directory (or
``~``). Mentions are followed ``max_mention_depth`` levels deep, each file is
included once, and content beyond ``max_system_prompt_bytes`` is dropped with
a warning. Only what the agent selects is included, never every content file
of every service.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from amplifier_ipc_protocol.errors import ProtocolError

__all__ = ["ContentRef", "build_system_prompt", "find_mentions"]

# A file bigger than this is not context, it is a mistake (a log, a dataset).
MAX_FILE_BYTES = 1024 * 1024

# '@' not preceded by a word character (so e-mail addresses are not mentions),
# then an optional 'service:' and a path.
_MENTION = re.compile(r"(?<![\w@`])@((?:[A-Za-z0-9_-]+:)?[~A-Za-z0-9_./-][^\s`'\"()<>\[\]{},;]*)")

ReadContent = Callable[[str, str], Awaitable[str]]
"""Reads ``path`` of ``service`` (``content.read``)."""


@dataclass(frozen=True, slots=True)
class ContentRef:
    """One content file: a service's (``service`` set) or the file system's."""

    source: str
    service: str | None
    path: str

    @property
    def label(self) -> str:
        return f"{self.service}:{self.path}" if self.service else self.path


def find_mentions(text: str) -> list[str]:
    """The ``@mentions`` of ``text``, in order, without the ``@``."""
    return [m.rstrip(".:") for m in _MENTION.findall(text)]


def _looks_like_file(mention: str) -> bool:
    return "/" in mention or "." in mention or ":" in mention


class _Assembler:
    def __init__(
        self,
        *,
        content: dict[str, list[str]],
        read: ReadContent,
        working_dir: Path,
        max_bytes: int,
        warn: Callable[[str], None],
    ) -> None:
        self.content = content
        self.read = read
        self.working_dir = working_dir
        self.max_bytes = max_bytes
        self.warn = warn
        self.seen: set[str] = set()
        self.parts: list[str] = []
        self.size = 0

    def resolve(self, entry: str, *, explicit: bool) -> ContentRef | None:
        mention = entry[1:] if entry.startswith("@") else entry
        service, sep, path = mention.partition(":")
        if sep and service in self.content:
            if path in self.content[service]:
                return ContentRef(mention, service, path)
            self.warn(f"content {mention} not found: service {service} has no content file {path}")
            return None
        if sep and explicit and not entry.startswith("@"):
            self.warn(f"content {entry} not found: no service named {service} in this session")
            return None
        file = Path(mention).expanduser()
        if not file.is_absolute():
            file = self.working_dir / file
        if file.is_file():
            return ContentRef(mention, None, str(file.resolve()))
        if explicit or _looks_like_file(mention):
            self.warn(f"mention @{mention} not found (no such file: {file})")
        return None

    async def load(self, ref: ContentRef) -> str | None:
        try:
            if ref.service is not None:
                return await self.read(ref.service, ref.path)
            size = Path(ref.path).stat().st_size
            if size > MAX_FILE_BYTES:
                self.warn(
                    f"{ref.label} skipped: {size} bytes is more than the {MAX_FILE_BYTES} a context file may hold"
                )
                return None
            return await asyncio.to_thread(Path(ref.path).read_text, encoding="utf-8", errors="replace")
        except (ProtocolError, OSError) as exc:
            self.warn(f"content {ref.label} could not be read: {getattr(exc, 'message', None) or exc}")
            return None

    def add(self, ref: ContentRef, text: str) -> bool:
        block = f'<context_file source="{ref.label}">\n{text.rstrip()}\n</context_file>'
        size = len(block.encode("utf-8"))
        if self.size + size > self.max_bytes:
            self.warn(
                f"content {ref.label} left out: the system prompt would exceed {self.max_bytes} bytes "
                f"(it holds {self.size}); select less content"
            )
            return False
        self.parts.append(block)
        self.size += size
        return True


async def build_system_prompt(
    instructions: str,
    content: list[str],
    *,
    service_content: dict[str, list[str]],
    read: ReadContent,
    working_dir: Path,
    max_bytes: int,
    max_depth: int,
    warn: Callable[[str], None],
) -> str:
    """The system prompt for a turn. ``service_content`` is each service's listed content paths."""
    assembler = _Assembler(
        content=service_content, read=read, working_dir=working_dir, max_bytes=max_bytes, warn=warn
    )
    assembler.size = len(instructions.encode("utf-8"))
    level: list[tuple[str, bool]] = [(entry, True) for entry in content]
    level += [(f"@{m}", False) for m in find_mentions(instructions)]
    depth = 0
    while level and depth <= max_depth:
        refs: list[ContentRef] = []
        for entry, explicit in level:
            ref = assembler.resolve(entry, explicit=explicit)
            if ref is not None and ref.label not in assembler.seen:
                assembler.seen.add(ref.label)
                refs.append(ref)
        texts = await asyncio.gather(*(assembler.load(ref) for ref in refs))
        level = []
        for ref, text in zip(refs, texts, strict=True):
            if text is not None and assembler.add(ref, text):
                level += [(f"@{m}", False) for m in find_mentions(text)]
        depth += 1
    sections = [instructions.strip()] if instructions.strip() else []
    sections += assembler.parts
    return "\n\n".join(sections)
