"""Child sessions through the real Host: the foundation service, scripted providers, real processes.

A ``Family`` builds the parent's SessionConfig: foundation + ``providers``
(the parent's script) + ``childprov`` (the children's script; children reach
it through ``provider_preferences``, so parent and children each follow
their own script). Each scripted provider records every request it gets;
requests are told apart by ``metadata.session_id``. Every Host made, the
children's included, is checked for leftover processes at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from amplifier_ipc_protocol.stdio import direct_children

from amplifier_ipc.host import Event, Host, HostLimits, ServiceSpec, SessionConfig, forkserver
from amplifier_ipc.host.children import AgentResolver
from amplifier_ipc.host.process import group_members

# Short enough that a broken test ends quickly, long enough for a loaded 2-core machine.
LIMITS = HostLimits(
    describe_timeout=20.0, hook_timeout=10.0, shutdown_grace=2.0, term_grace=1.0, cancel_grace=5.0
)
# Deadline for one whole parent turn, its children included.
TURN_S = 120.0
# The provider choice that sends a child to the children's script.
TO_CHILD_SCRIPT = [{"provider": "childprov:scripted"}]


def foundation(home: Path, config: dict[str, Any] | None = None) -> ServiceSpec:
    settings: dict[str, Any] = {"approval": {"mode": "auto"}, "status_context": {"git": False}}
    settings.update(config or {})
    return ServiceSpec(
        name="foundation",
        command=[sys.executable, "-m", "amplifier_foundation"],
        env={"AMPLIFIER_HOME": str(home)},
        config=settings,
    )


def scripted(name: str, script: Path, record: Path) -> ServiceSpec:
    return ServiceSpec(
        name=name,
        command=[sys.executable, "-m", "amplifier_providers"],
        config={"scripted": {"script": str(script), "record": str(record)}},
    )


def delegate_call(call_id: str, **arguments: Any) -> dict[str, Any]:
    return {"id": call_id, "name": "delegate", "arguments": arguments}


class Family:
    """A parent session and every child it starts, in one tmp folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.sessions = self.home / "sessions"
        self.workdir = root / "work"
        self.workdir.mkdir()
        self.hosts: list[Host] = []

    def write(self, name: str, steps: list[Any]) -> Path:
        path = self.root / name
        path.write_text(json.dumps(steps))
        return path

    def config(
        self,
        parent_steps: list[Any],
        child_steps: list[Any] | None = None,
        *,
        foundation_config: dict[str, Any] | None = None,
        **fields: Any,
    ) -> SessionConfig:
        services = [
            foundation(self.home, foundation_config),
            scripted("providers", self.write("parent.yaml", parent_steps), self.root / "parent.jsonl"),
            scripted(
                "childprov",
                self.write("child.yaml", child_steps or ["(no child script)"]),
                self.root / "child.jsonl",
            ),
        ]
        fields.setdefault("approval_mode", "auto")
        return SessionConfig(
            services=services,
            orchestrator="foundation:streaming",
            context_manager="foundation:simple",
            provider="providers:scripted",
            system_prompt="You are the parent agent.",
            working_dir=self.workdir,
            sessions_dir=self.sessions,
            **fields,
        )

    def host(self, config: SessionConfig, resolve_agent: AgentResolver | None = None, **kwargs: Any) -> Host:
        host = Host(config, limits=LIMITS, resolve_agent=resolve_agent, **kwargs)
        self.hosts.append(host)
        return host

    async def turn(
        self, host: Host, prompt: str, on_event: Callable[[Event], Any] | None = None
    ) -> list[Event]:
        async def collect() -> list[Event]:
            events = []
            async for event in host.run(prompt):
                events.append(event)
                for child in list(host.children.live.values()):
                    self._track(child)
                if on_event is not None:
                    on_event(event)
            return events

        return await asyncio.wait_for(collect(), TURN_S)

    def _track(self, host: Host) -> None:
        if host not in self.hosts:
            self.hosts.append(host)
        for child in list(host.children.live.values()):
            self._track(child)

    def requests(self, record: str) -> list[dict[str, Any]]:
        path = self.root / record
        if not path.exists():
            return []
        return [json.loads(line)["request"] for line in path.read_text().splitlines()]

    def requests_of(self, session_id: str) -> list[dict[str, Any]]:
        """Every provider request of one session, whichever script answered it."""
        every = self.requests("parent.jsonl") + self.requests("child.jsonl")
        return [r for r in every if (r.get("metadata") or {}).get("session_id") == session_id]

    def metadata(self, session_id: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.sessions / session_id / "metadata.json").read_text())
        return data

    def transcript(self, session_id: str) -> list[dict[str, Any]]:
        path = self.sessions / session_id / "transcript.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]

    def children_of(self, session_id: str) -> list[str]:
        found = [
            p.name
            for p in self.sessions.iterdir()
            if (p / "metadata.json").exists() and self.metadata(p.name).get("parent_id") == session_id
        ]
        return sorted(found, key=lambda s: self.metadata(s)["created"])


def complete(events: list[Event], session_id: str | None = None) -> dict[str, Any]:
    done = [e for e in events if e.type == "complete" and (session_id is None or e.session_id == session_id)]
    assert done, [(e.type, e.data) for e in events if e.type == "error"]
    if session_id is None:
        assert events[-1].type == "complete" and events[-1].parent_id is None
        return events[-1].data
    return done[-1].data


def tool_texts(request: dict[str, Any]) -> list[str]:
    return [str(m.get("content")) for m in request["messages"] if m.get("role") == "tool"]


def conversation(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's messages without the status hook's ephemeral ``<environment>`` note."""
    return [m for m in request["messages"] if not str(m.get("content")).startswith("<environment>")]


def tool_names(request: dict[str, Any]) -> set[str]:
    return {t["name"] for t in request.get("tools") or []}


def processes_started_here() -> list[int]:
    """Live processes whose parent is this test process (every service the Hosts
    started), apart from the fork server, which lives as long as this process."""
    servers = forkserver.server_pids()
    found = []
    for child in direct_children(os.getpid()):
        try:
            state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and child not in servers:
            found.append(child)
    return found


@pytest.fixture
async def family(tmp_path: Path) -> AsyncIterator[Family]:
    made = Family(tmp_path)
    yield made
    for host in made.hosts:
        await host.close()
    assert processes_started_here() == [], "a service process of a parent or child is still running"
    for host in made.hosts:
        for process in host.router.services.values():
            assert process.process.returncode is not None, f"{host.session_id}: {process.name} still runs"
            assert group_members(process.pgid) == [], f"{process.name}'s group still has processes"
