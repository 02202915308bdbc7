"""Line framing: one JSON object per line, UTF-8, terminated by ``\\n``.

``encode`` turns a message into the bytes of one line; ``LineSplitter`` cuts a
byte stream into lines without any limit below ``MAX_LINE_BYTES``, and turns a
longer line into an ``OversizedLine`` marker instead of failing the channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from .errors import InvalidParams, InvalidRequest, ParseError

__all__ = [
    "MAX_LINE_BYTES",
    "OversizedLine",
    "LineSplitter",
    "encode",
    "encode_fast",
    "decode",
]

# PROTOCOL §1: no line-length limit below 64 MiB; anything longer is refused.
MAX_LINE_BYTES = 64 * 1024 * 1024

# Not OPT_APPEND_NEWLINE: its output keeps orjson's oversized buffer, and a
# queue of thousands of such lines costs far more than one small copy each.
_OPTIONS = orjson.OPT_NON_STR_KEYS


def _default(value: object) -> Any:
    # Values orjson cannot encode natively but that have an obvious JSON form.
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", exclude_unset=True)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode(message: dict[str, Any]) -> bytes:
    """Serialise one message as one line (with its trailing newline).

    A value that cannot be encoded raises ``InvalidParams`` naming its type.
    """
    try:
        return orjson.dumps(message, default=_default, option=_OPTIONS) + b"\n"
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        raise InvalidParams(
            f"message cannot be encoded as JSON ({exc}); send only JSON values "
            "(str, int within 64 bits, float, bool, None, list, dict with string keys)"
        ) from None


def encode_fast(message: dict[str, Any]) -> bytes:
    """``encode``, through orjson's fast path (no non-string keys, no
    ``default``) when the message allows it, which is nearly always."""
    try:
        return orjson.dumps(message) + b"\n"
    except TypeError:
        return encode(message)


def decode(line: bytes) -> dict[str, Any]:
    """Parse one line into a message object.

    Raises ``ParseError`` for bytes that are not JSON (invalid UTF-8 included)
    and ``InvalidRequest`` for JSON that is not an object (a batch included).
    """
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"line is not valid JSON: {exc}") from None
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        raise InvalidRequest("batches are not supported; send one JSON object per line")
    raise InvalidRequest(f"a message must be a JSON object, got {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class OversizedLine:
    """Stands in for a line longer than the limit; its bytes were discarded."""

    size: int


class LineSplitter:
    """Cuts chunks of a byte stream into complete lines.

    ``feed`` returns the complete lines found so far (without their newline,
    blank lines dropped). A line that grows past ``limit`` is discarded as it
    arrives, so memory stays bounded, and reported once as ``OversizedLine``.
    """

    __slots__ = ("_buffer", "_discarded", "_discarding", "limit")

    def __init__(self, limit: int = MAX_LINE_BYTES) -> None:
        self.limit = limit
        self._buffer = bytearray()
        self._discarding = False
        self._discarded = 0

    def feed(self, chunk: bytes) -> list[bytes | OversizedLine]:
        if (
            chunk[-1:] == b"\n"
            and not self._buffer
            and not self._discarding
            and chunk.count(b"\n") == 1
            and len(chunk) <= self.limit
        ):
            # One whole line: the usual chunk of a request or an answer.
            line = chunk[:-1]
            return [line] if line and not line.isspace() else []
        out: list[bytes | OversizedLine] = []
        if self._discarding:
            newline = chunk.find(b"\n")
            if newline < 0:
                self._discarded += len(chunk)
                return out
            out.append(OversizedLine(self._discarded + newline))
            self._discarding = False
            self._discarded = 0
            chunk = chunk[newline + 1 :]
        parts = chunk.split(b"\n")
        rest = parts.pop()
        buffer = self._buffer
        if buffer and parts:
            buffer += parts[0]
            parts[0] = bytes(buffer)
            buffer.clear()
        limit = self.limit
        for part in parts:
            if len(part) > limit:
                out.append(OversizedLine(len(part)))
            elif part and not part.isspace():
                out.append(part)
        if rest:
            if len(buffer) + len(rest) > limit:
                self._discarding = True
                self._discarded = len(buffer) + len(rest)
                buffer.clear()
            else:
                buffer += rest
        return out

    def pending(self) -> int:
        """Bytes of an unfinished line held back."""
        return len(self._buffer) + self._discarded
