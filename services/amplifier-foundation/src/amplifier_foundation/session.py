"""Where this turn's session lives: ids and paths taken from the environment
the Host gives every service (PROTOCOL §8)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["session_id", "session_dir", "amplifier_home"]


def amplifier_home() -> Path:
    """``AMPLIFIER_HOME`` or ``~/.amplifier``."""
    value = os.environ.get("AMPLIFIER_HOME")
    return Path(value) if value else Path.home() / ".amplifier"


def session_id(data: dict[str, object] | None = None) -> str:
    """The session id carried by event data, else the one in the environment."""
    if data is not None:
        value = data.get("session_id")
        if isinstance(value, str) and value:
            return value
    return os.environ.get("AMPLIFIER_SESSION_ID", "")


def session_dir(sid: str | None = None) -> Path | None:
    """``AMPLIFIER_HOME/sessions/<session id>``, or None without a session id."""
    sid = sid or session_id()
    if not sid or "/" in sid or sid in (".", ".."):
        return None
    return amplifier_home() / "sessions" / sid
