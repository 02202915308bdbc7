"""Why a turn could not run, as exceptions the Host turns into ``error`` events.

::

    SessionError             anything that stops a turn before or during it
    +-- ServiceStartError    a service failed to start, exited, or answered describe wrongly
    +-- RoutingError         the services' offers do not fit together (a tool clash, no provider)
    +-- PersistenceError     a session folder or file cannot be read or written
        +-- SessionNotFound  no session with that id (or prefix)

Each carries a ``hint`` saying what to do, and ``service`` when one service is to blame.
"""

from __future__ import annotations

__all__ = ["SessionError", "ServiceStartError", "RoutingError", "PersistenceError", "SessionNotFound"]


class SessionError(Exception):
    """A failure that ends the turn; its message is meant for the user."""

    def __init__(self, message: str, *, hint: str = "", service: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.service = service


class ServiceStartError(SessionError):
    """A service failed to start, exited early, or answered ``describe``/``configure`` wrongly."""

    def __init__(self, message: str, *, service: str, stderr_tail: str = "", hint: str = "") -> None:
        text = message
        if stderr_tail:
            text += "\n--- last lines of its stderr ---\n" + stderr_tail
        super().__init__(text, hint=hint, service=service)
        self.stderr_tail = stderr_tail


class RoutingError(SessionError):
    """The services' capabilities conflict, or a selected component is missing."""


class PersistenceError(SessionError):
    """A session folder or one of its files cannot be read or written."""


class SessionNotFound(PersistenceError):
    """No session matches the id or prefix given."""
