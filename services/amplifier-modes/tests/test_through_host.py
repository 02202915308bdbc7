"""Modes under the real Host: foundation's agent loop, the scripted provider,
and this service; each turn is a fresh set of processes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


async def test_a_mode_set_in_one_turn_denies_a_tool_in_the_next(
    tmp_path: Path, foundation_session: Any
) -> None:
    steps = [
        {"tool_calls": [{"id": "c1", "name": "mode", "arguments": {"operation": "set", "name": "plan"}}]},
        {"text": "planning now"},
        {"tool_calls": [{"id": "c2", "name": "write_file", "arguments": {"path": "x.txt", "content": "hi"}}]},
        {"text": "I may not write in plan mode."},
    ]
    host = foundation_session.host(tmp_path, steps, "modes", "amplifier_modes")
    try:
        await foundation_session.turn(host, "plan first")
        state_file = tmp_path / "home" / "sessions" / host.session_id / "state.json"
        assert json.loads(state_file.read_text())["modes.active"] == "plan"
        await foundation_session.turn(host, "now write x.txt")
    finally:
        await host.close()
    assert not (tmp_path / "work" / "x.txt").exists()
    sent = foundation_session.requests(tmp_path)
    assert {"mode", "write_file"} <= {t["name"] for t in sent[0]["tools"]}
    denial = [m for m in sent[3]["messages"] if m["role"] == "tool"][-1]
    assert "tool 'write_file' is denied in mode 'plan'" in denial["content"]
    assert "You are in plan mode." in json.dumps(sent[2]["messages"])
    assert "You are in plan mode." not in json.dumps(sent[0]["messages"])
    transcript = (tmp_path / "home" / "sessions" / host.session_id / "transcript.jsonl").read_text()
    assert "You are in plan mode." not in transcript  # the injection is ephemeral
