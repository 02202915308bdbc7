"""The Host: one session turn, from spawn to teardown (ARCHITECTURE.md).

``Host(config).run(prompt)`` yields ``Event`` objects; ``persistence`` holds
the public reader API for session folders.
"""

from __future__ import annotations

from .config import HostLimits, ServiceSpec, SessionConfig
from .errors import PersistenceError, RoutingError, ServiceStartError, SessionError, SessionNotFound
from .events import Event
from .host import Host, default_sessions_dir

__all__ = [
    "Event",
    "Host",
    "HostLimits",
    "PersistenceError",
    "RoutingError",
    "ServiceSpec",
    "ServiceStartError",
    "SessionConfig",
    "SessionError",
    "SessionNotFound",
    "default_sessions_dir",
]
