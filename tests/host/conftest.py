"""Helpers for the Host tests: sessions of real test services (tests/services)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from amplifier_ipc.host import Event, Host, HostLimits, ServiceSpec, SessionConfig
from amplifier_ipc.host.process import group_members

SERVICES_DIR = Path(__file__).resolve().parents[1] / "services"

# Short enough that fault tests end quickly, long enough for a loaded 2-core machine.
TEST_LIMITS = HostLimits(describe_timeout=10.0, hook_timeout=5.0, shutdown_grace=1.0, term_grace=1.0)


def service(name: str, package: str, config: dict[str, Any] | None = None, **env: str) -> ServiceSpec:
    return ServiceSpec(
        name=name,
        command=[sys.executable, "-m", package],
        env={"PYTHONPATH": str(SERVICES_DIR), "TSVC_NAME": name, **env},
        config=config or {},
    )


class Kit:
    """Builds sessions for one test, in its own tmp folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sessions = root / "sessions"
        self.workdir = root / "work"
        self.workdir.mkdir()
        self.record = root / "provider-requests.jsonl"
        self.hosts: list[Host] = []

    service = staticmethod(service)

    def config(
        self,
        steps: list[dict[str, Any]] | None = None,
        *,
        extra: list[ServiceSpec] = (),  # type: ignore[assignment]
        core: dict[str, Any] | None = None,
        tools: dict[str, Any] | None = None,
        with_tools: bool = True,
        **fields: Any,
    ) -> SessionConfig:
        services = [
            service("core", "tsvc_core", {"loop": core} if core else {}),
            service(
                "provider",
                "tsvc_provider",
                {"mock": {"steps": steps or [{"text": "hello"}], "record": str(self.record)}},
            ),
        ]
        if with_tools:
            services.append(service("tools", "tsvc_tools", {"toolbox": tools} if tools else {}))
        services += list(extra)
        fields.setdefault("working_dir", self.workdir)
        return SessionConfig(
            services=services,
            orchestrator="core:loop",
            context_manager="memory",
            sessions_dir=self.sessions,
            **fields,
        )

    def host(self, config: SessionConfig, **kwargs: Any) -> Host:
        kwargs.setdefault("limits", TEST_LIMITS)
        host = Host(config, **kwargs)
        self.hosts.append(host)
        return host

    async def turn(self, host: Host, prompt: str = "hi") -> list[Event]:
        return [event async for event in host.run(prompt)]

    def provider_requests(self) -> list[dict[str, Any]]:
        import json

        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    @staticmethod
    def complete(events: list[Event]) -> dict[str, Any]:
        assert events and events[-1].type == "complete", [e.type for e in events]
        return events[-1].data

    @staticmethod
    def of_type(events: list[Event], event_type: str) -> list[Event]:
        return [e for e in events if e.type == event_type]

    @staticmethod
    def assert_no_processes_left(host: Host) -> None:
        for process in host.router.services.values():
            assert process.process.returncode is not None, f"{process.name} still runs"
            assert group_members(process.pgid) == [], f"{process.name}'s group still has processes"


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    made = Kit(tmp_path)
    yield made
    for host in made.hosts:
        made.assert_no_processes_left(host)
