"""Masking secrets (API keys, tokens, private keys) in strings and JSON data."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MASK", "redact_text", "redact"]

MASK = "[REDACTED]"

_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)"),
    re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{16,}"),
    re.compile(r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}"),
    re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{30,}"),
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"),
    re.compile(r"\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}"),  # JWT
]
# "Authorization: Bearer x", "api_key=x", "PASSWORD: x": keep the name, mask the value.
_ASSIGNMENT = re.compile(
    r"(?i)(\b(?:bearer|[A-Za-z0-9_]*(?:api[_-]?key|secret|password|passwd|access[_-]?token|auth[_-]?token))"
    r"[\"']?\s*(?:[:=]|\s)\s*[\"']?)([^\s\"',;]{8,})"
)
_SECRET_KEY = re.compile(
    r"(?i)^(?:.*[_-])?(?:api[_-]?key|secret|password|passwd|access[_-]?token|auth[_-]?token)$"
)


def redact_text(text: str) -> str:
    """``text`` with every secret it holds replaced by ``[REDACTED]``."""
    for pattern in _PATTERNS:
        text = pattern.sub(MASK, text)
    return _ASSIGNMENT.sub(lambda m: m.group(1) + MASK if m.group(2) != MASK else m.group(0), text)


def redact(value: Any) -> Any:
    """A copy of JSON ``value`` with secrets masked (strings, and the string
    values of keys named like secrets)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(item, str) and isinstance(key, str) and _SECRET_KEY.match(key) and item:
                out[key] = MASK
            else:
                out[key] = redact(item)
        return out
    return value
