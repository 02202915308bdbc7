"""The MCP bridge under the real Host: the model is offered the servers'
tools, calls reach them, and after the turn no server process is left, even
one that ignores stdin EOF and SIGTERM (the Host SIGTERMs a service that
takes longer than its shutdown grace, and a service killed that way can no
longer reach servers running in their own sessions)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from amplifier_ipc_protocol.testing import alive

from amplifier_ipc.host import Host, HostLimits, ServiceSpec, SessionConfig

FIXTURE_SERVER = Path(__file__).parent / "fixtures" / "fixture_mcp_server.py"
# The Host's defaults for teardown, so the test holds the bridge to them.
LIMITS = HostLimits(describe_timeout=30.0, hook_timeout=10.0, shutdown_grace=2.0, term_grace=2.0)
# Deadline for one whole turn.
TURN_S = 90.0
# Bounds the wait for a killed process to disappear from /proc.
GONE_S = 10.0


async def test_a_turn_calls_mcp_tools_and_leaves_no_server_running(tmp_path: Path) -> None:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    marker = tmp_path / "stubborn"
    script, record = tmp_path / "script.json", tmp_path / "requests.jsonl"
    steps = [
        {
            "tool_calls": [
                {"id": "c1", "name": "time__get_current_time", "arguments": {"timezone": "Asia/Tokyo"}},
                {"id": "c2", "name": "stubborn__wait", "arguments": {"seconds": 0}},
            ]
        },
        {"text": "done"},
    ]
    script.write_text(json.dumps(steps))
    servers = [
        {"name": "time", "command": str(Path(sys.executable).parent / "mcp-server-time")},
        {
            "name": "stubborn",
            "command": sys.executable,
            "args": [str(FIXTURE_SERVER), "--stubborn", "--marker", str(marker)],
        },
    ]
    session = SessionConfig(
        services=[
            ServiceSpec(
                name="foundation",
                command=[sys.executable, "-m", "amplifier_foundation"],
                config={"approval": {"mode": "auto"}, "status_context": {"git": False}},
            ),
            ServiceSpec(
                name="providers",
                command=[sys.executable, "-m", "amplifier_providers"],
                config={"scripted": {"script": str(script), "record": str(record)}},
            ),
            ServiceSpec(
                name="mcp",
                command=[sys.executable, "-m", "amplifier_mcp"],
                config={"mcp": {"servers": servers}},
            ),
        ],
        orchestrator="foundation:streaming",
        context_manager="foundation:simple",
        provider="providers:scripted",
        working_dir=work,
        sessions_dir=home / "sessions",
    )
    host = Host(session, limits=LIMITS)
    try:
        events = await asyncio.wait_for(_collect(host, "what time is it in Tokyo?"), TURN_S)
    finally:
        await host.close()
    assert events[-1].type == "complete", [
        (e.type, e.data) for e in events if e.type in ("error", "complete")
    ]
    sent = [json.loads(line)["request"] for line in record.read_text().splitlines()]
    assert {"time__get_current_time", "stubborn__wait", "stubborn__picture"} <= {
        t["name"] for t in sent[0]["tools"]
    }
    results = {m["tool_call_id"]: m for m in sent[1]["messages"] if m["role"] == "tool"}
    assert "Asia/Tokyo" in results["c1"]["content"]
    assert results["c2"]["content"] == "waited 0.0"
    stubborn = int(Path(f"{marker}.pid").read_text())
    deadline = asyncio.get_running_loop().time() + GONE_S
    while alive(stubborn) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert not alive(stubborn), "the stubborn MCP server outlived the turn"


async def _collect(host: Host, prompt: str) -> list[Any]:
    return [event async for event in host.run(prompt)]
