"""Modes under the real Host: foundation's agent loop, the scripted provider,
and this service; each turn is a fresh set of processes."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from amplifier_ipc.host import Event, Host, HostLimits, ServiceSpec, SessionConfig

# Short enough that a broken test ends quickly, long enough for a loaded 2-core machine.
LIMITS = HostLimits(describe_timeout=15.0, hook_timeout=10.0, shutdown_grace=2.0, term_grace=1.0)
# Deadline for one whole turn.
TURN_S = 60.0


def make_host(root: Path, steps: list[dict[str, Any]]) -> Host:
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
            name="modes", command=[sys.executable, "-m", "amplifier_modes"], env={"AMPLIFIER_HOME": str(home)}
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


async def turn(host: Host, prompt: str) -> list[Event]:
    async def collect() -> list[Event]:
        return [event async for event in host.run(prompt)]

    events = await asyncio.wait_for(collect(), TURN_S)
    assert events[-1].type == "complete", [
        (e.type, e.data) for e in events if e.type in ("error", "complete")
    ]
    return events


def requests(root: Path) -> list[dict[str, Any]]:
    return [json.loads(line)["request"] for line in (root / "requests.jsonl").read_text().splitlines()]


async def test_a_mode_set_in_one_turn_denies_a_tool_in_the_next(tmp_path: Path) -> None:
    steps = [
        {"tool_calls": [{"id": "c1", "name": "mode", "arguments": {"operation": "set", "name": "plan"}}]},
        {"text": "planning now"},
        {"tool_calls": [{"id": "c2", "name": "write_file", "arguments": {"path": "x.txt", "content": "hi"}}]},
        {"text": "I may not write in plan mode."},
    ]
    host = make_host(tmp_path, steps)
    try:
        await turn(host, "plan first")
        state_file = tmp_path / "home" / "sessions" / host.session_id / "state.json"
        assert json.loads(state_file.read_text())["modes.active"] == "plan"
        await turn(host, "now write x.txt")
    finally:
        await host.close()
    assert not (tmp_path / "work" / "x.txt").exists()
    sent = requests(tmp_path)
    assert {"mode", "write_file"} <= {t["name"] for t in sent[0]["tools"]}
    denial = [m for m in sent[3]["messages"] if m["role"] == "tool"][-1]
    assert "tool 'write_file' is denied in mode 'plan'" in denial["content"]
    assert "You are in plan mode." in json.dumps(sent[2]["messages"])
    assert "You are in plan mode." not in json.dumps(sent[0]["messages"])
    transcript = (tmp_path / "home" / "sessions" / host.session_id / "transcript.jsonl").read_text()
    assert "You are in plan mode." not in transcript  # the injection is ephemeral
