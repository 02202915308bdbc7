"""A child session's services, started as soon as the parent's model announces a delegation.

When the model of a session starts writing a ``delegate`` call (the
orchestrator's ``stream.tool_call_start``), the Host starts, in a child Host
of their own, the services a ``self`` child would run, while the model still
writes the call's arguments and the parent's hooks and approvals run. If the
call spawns a ``self`` child with the same services, that child takes them
(and their session id, which they were started with); otherwise they are torn
down unused when the parent's turn ends. They have served nothing before the
child's turn, so every process still serves one turn only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import ServiceSpec, SessionConfig

if TYPE_CHECKING:
    from .host import Host

__all__ = ["SpareChild"]

SELF_AGENT = "self"


def _services_key(specs: list[ServiceSpec]) -> list[tuple[Any, ...]]:
    """What makes two service lists start the same processes."""
    return [
        (s.name, s.command, s.env, s.env_allow, s.config, s.working_dir, s.describe_cache, s.fingerprint)
        for s in specs
    ]


class SpareChild:
    """At most one pre-started child Host per parent turn."""

    def __init__(self) -> None:
        self.host: Host | None = None

    def start(self, host: Host) -> None:
        """Keep ``host`` (a child Host for a ``self`` delegation) and start its services now."""
        if self.host is not None:
            return
        self.host = host
        host._start_prespawn()

    def claim(self, agent: str, config: SessionConfig) -> Host | None:
        """The spare Host, running ``config`` (whose session id it sets), when it fits; else None."""
        host = self.host
        if host is None or agent != SELF_AGENT:
            return None
        if _services_key(config.services) != _services_key(host.config.services):
            return None
        self.host = None
        config.session_id = host.session_id
        host.config = config
        return host

    async def discard(self) -> None:
        """Tear down an unclaimed spare, and the folder its service log started."""
        host, self.host = self.host, None
        if host is None:
            return
        await host.close()
        if not host.store.exists:
            import shutil  # not at the top: it imports lzma and bz2, a single-shot run's cost

            shutil.rmtree(host.store.directory, ignore_errors=True)
