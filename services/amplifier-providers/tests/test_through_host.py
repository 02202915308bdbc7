"""The scripted provider through the real Host, with the foundation service as
orchestrator, context manager and tools: streaming, a tool round trip, and the
script position carried across turns in the session's state."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

host_module = pytest.importorskip("amplifier_ipc.host.host", reason="the Host is not built yet")

from amplifier_ipc.host import Host, HostLimits, ServiceSpec, SessionConfig  # noqa: E402

# Generous for a loaded 2-core machine; the test fails rather than hangs.
LIMITS = HostLimits(describe_timeout=30.0, configure_timeout=30.0, shutdown_grace=1.0, term_grace=1.0)

SCRIPT = """
- thinking: "A todo list will help."
  text: "Writing the plan."
  tool_calls:
    - {name: todo, id: call_plan, arguments: {action: write, todos: [{content: read the code, status: in_progress}]}}
  expect: {tools_include: [todo], messages_contain: "make a plan"}
- text: "The plan is written."
  expect: {messages_contain: "0/1 done"}
- text: "Second turn answer."
  expect: {messages_contain: "and now?"}
"""


def _config(tmp_path: Path, session_id: str | None = None) -> SessionConfig:
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    (workdir / "script.yaml").write_text(SCRIPT, encoding="utf-8")
    services = [
        ServiceSpec(name="foundation", command=[sys.executable, "-m", "amplifier_foundation"]),
        ServiceSpec(
            name="providers",
            command=[sys.executable, "-m", "amplifier_providers"],
            config={"scripted": {"script": "script.yaml", "record": "requests.jsonl"}},
        ),
    ]
    return SessionConfig(
        services=services,
        orchestrator="foundation:streaming",
        context_manager="foundation:simple",
        provider="providers:scripted",
        working_dir=workdir,
        sessions_dir=tmp_path / "sessions",
        session_id=session_id,
        approval_mode="auto",
    )


async def _turn(config: SessionConfig, prompt: str) -> list[Any]:
    host = Host(config, limits=LIMITS, interactive=False)
    try:
        return [event async for event in host.run(prompt)]
    finally:
        await host.close()


async def test_the_scripted_provider_drives_a_tool_round_trip_and_continues_next_turn(tmp_path: Path) -> None:
    events = await _turn(_config(tmp_path), "make a plan")
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_type.setdefault(event.type, []).append(event.data)
    complete = by_type["complete"][-1]
    assert complete["status"] == "completed", by_type.get("error")
    assert complete["response"] == "The plan is written."
    streamed = "".join(d["text"] for d in by_type.get("stream.token", []))
    assert "Writing the plan." in streamed and "The plan is written." in streamed
    assert "A todo list will help." in "".join(d["text"] for d in by_type.get("stream.thinking", []))
    assert [d["id"] for d in by_type["tool_result"]] == ["call_plan"]
    assert by_type["tool_result"][0]["success"] is True

    session_id = by_type["turn_start"][0]["session_id"]
    second = await _turn(_config(tmp_path, session_id), "and now?")
    final = [e.data for e in second if e.type == "complete"][-1]
    assert final["status"] == "completed", [e.data for e in second if e.type == "error"]
    assert final["response"] == "Second turn answer."

    recorded = [json.loads(line) for line in (tmp_path / "work" / "requests.jsonl").read_text().splitlines()]
    assert [r["call"] for r in recorded] == [1, 2, 3]
    assert "todo" in [t["name"] for t in recorded[0]["request"]["tools"]]
    replayed = recorded[1]["request"]["messages"]
    assert any(m.get("tool_call_id") == "call_plan" for m in replayed)
