"""What the services' through-the-Host tests share: a session of the
foundation's agent loop and the scripted provider, plus the service under
test, run turn by turn through the real Host (each turn fresh processes)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from amplifier_ipc.host import Event, Host, HostLimits, ServiceSpec, SessionConfig

# Short enough that a broken test ends quickly, long enough for a loaded 2-core machine.
LIMITS = HostLimits(describe_timeout=15.0, hook_timeout=10.0, shutdown_grace=2.0, term_grace=1.0)
# Deadline for one whole turn.
TURN_S = 60.0


class FoundationSession:
    """Builds a Host of foundation + scripted provider + one service package."""

    def host(self, root: Path, steps: list[dict[str, Any]], name: str, package: str) -> Host:
        (root / "work").mkdir(exist_ok=True)
        script, record = root / "script.json", root / "requests.jsonl"
        script.write_text(json.dumps(steps))
        home = root / "home"
        services = [
            ServiceSpec(
                name="foundation",
                command=[sys.executable, "-m", "amplifier_foundation"],
                env={"AMPLIFIER_HOME": str(home)},
                config={"approval": {"mode": "auto"}, "status_context": {"git": False}},
            ),
            ServiceSpec(
                name="providers",
                command=[sys.executable, "-m", "amplifier_providers"],
                config={"scripted": {"script": str(script), "record": str(record)}},
            ),
            ServiceSpec(
                name=name, command=[sys.executable, "-m", package], env={"AMPLIFIER_HOME": str(home)}
            ),
        ]
        session = SessionConfig(
            services=services,
            orchestrator="foundation:streaming",
            context_manager="foundation:simple",
            provider="providers:scripted",
            working_dir=root / "work",
            sessions_dir=home / "sessions",
        )
        return Host(session, limits=LIMITS)

    async def turn(self, host: Host, prompt: str) -> list[Event]:
        async def collect() -> list[Event]:
            return [event async for event in host.run(prompt)]

        events = await asyncio.wait_for(collect(), TURN_S)
        assert events[-1].type == "complete", [
            (e.type, e.data) for e in events if e.type in ("error", "complete")
        ]
        return events

    def requests(self, root: Path) -> list[dict[str, Any]]:
        """Every request the scripted provider received, in order."""
        return [json.loads(line)["request"] for line in (root / "requests.jsonl").read_text().splitlines()]


@pytest.fixture
def foundation_session() -> FoundationSession:
    return FoundationSession()
