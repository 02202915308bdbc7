"""The Host: one session turn, from spawn to teardown (ARCHITECTURE.md).

``Host(config).run(prompt)`` yields ``Event`` objects; ``persistence`` holds
the public reader API for session folders. The names below load on first use,
so a submodule (``forkserver``) can be imported without the whole Host.
"""

from __future__ import annotations

import importlib

# Not typing's: importing typing would delay the fork server the CLI starts first thing.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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

_HOMES = {
    "Event": "events",
    "Host": "host",
    "default_sessions_dir": "host",
    "HostLimits": "config",
    "ServiceSpec": "config",
    "SessionConfig": "config",
    "PersistenceError": "errors",
    "RoutingError": "errors",
    "ServiceStartError": "errors",
    "SessionError": "errors",
    "SessionNotFound": "errors",
}


def __getattr__(name: str) -> Any:
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
