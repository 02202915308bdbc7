"""Skills under the real Host: foundation's agent loop, the scripted provider,
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
            name="skills",
            command=[sys.executable, "-m", "amplifier_skills"],
            env={"AMPLIFIER_HOME": str(home)},
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


async def test_skills_are_offered_and_a_loaded_one_is_remembered_next_turn(tmp_path: Path) -> None:
    skill = tmp_path / "home" / "skills" / "pdf-forms"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text("---\ndescription: Fill in PDF forms.\n---\nUse pypdf; set each field.\n")
    steps = [
        {
            "tool_calls": [
                {
                    "id": "c1",
                    "name": "load_skill",
                    "arguments": {"operation": "load", "skill_name": "pdf-forms"},
                }
            ]
        },
        {"text": "loaded"},
        {"text": "second turn"},
    ]
    host = make_host(tmp_path, steps)
    try:
        await turn(host, "fill the form")
        await turn(host, "again")
    finally:
        await host.close()
    sent = requests(tmp_path)
    first, second_turn = json.dumps(sent[0]["messages"]), json.dumps(sent[2]["messages"])
    assert "- pdf-forms: Fill in PDF forms." in first and "Already loaded" not in first
    loaded = [m for m in sent[1]["messages"] if m["role"] == "tool"][-1]
    assert "Use pypdf; set each field." in loaded["content"]
    assert "Already loaded in this session: pdf-forms." in second_turn
    transcript = (tmp_path / "home" / "sessions" / host.session_id / "transcript.jsonl").read_text()
    assert "Skills available" not in transcript  # the list is ephemeral
