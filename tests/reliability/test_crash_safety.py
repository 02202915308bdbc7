"""SIGKILL of the CLI at several points of a turn: no orphans, the session resumes, it reads as interrupted."""

from __future__ import annotations

import json
from typing import Any

import pytest

TWO_STEPS = """
- text: "Step one."
  tool_calls: [{name: fault_probe, arguments: {text: one}}]
- text: "Step two."
  tool_calls: [{name: fault_probe, arguments: {text: two}}]
- text: "All done."
"""

# (event type, how many of them to see before the kill): spread over one turn.
KILL_POINTS = [
    ("turn_start", 1),
    ("stream.token", 1),
    ("tool_result", 1),
    ("tool_call", 2),
    ("stream.token", 3),
]


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return str(content or "")


def kill_after(cli: Any, h: Any, event: str, count: int, mode: str = "none") -> str:
    """Start a turn, SIGKILL the CLI once ``count`` events of type ``event`` went by; returns the session id."""
    proc = cli.popen(TWO_STEPS, mode=mode)
    assert proc.stdout is not None
    seen, session_id = 0, ""
    for raw in proc.stdout:
        line = json.loads(raw)
        session_id = session_id or line["session_id"]
        if line["type"] == event:
            seen += 1
            if seen == count:
                break
    else:
        raise AssertionError(
            f"the turn ended before {count} {event} events: {proc.stderr.read() if proc.stderr else ''}"
        )
    if mode == "hang_tool":
        h.wait_until((cli.cwd / "fault-probe-hanging").exists, h.RUN_TIMEOUT_S, "the hanging tool call")
    proc.kill()
    proc.wait(timeout=h.RUN_TIMEOUT_S)
    proc.stdout.close()
    if proc.stderr is not None:
        proc.stderr.close()
    return session_id


def check_resume(cli: Any, h: Any, session_id: str) -> list[dict[str, Any]]:
    """The killed session: no orphans, interrupted, and every written message reaches the model on resume."""
    h.assert_nothing_left(cli.home, session_id)
    metadata = h.metadata(cli.home, session_id)
    assert metadata["status"] == "interrupted", metadata
    before = h.transcript(cli.home, session_id)
    record = cli.cwd / "calls.jsonl"
    script = h.script_skipping(h.scripted_position(cli.home, session_id), "- text: 'resumed fine'\n")
    again = cli.turn(
        script,
        "--session",
        session_id,
        "-C",
        f"scripted.record={record}",
        mode="none",
        prompt="after the kill",
        name="resume.yaml",
    )
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert again.result["response"] == "resumed fine"
    (call,) = [json.loads(line) for line in record.read_text().splitlines()]
    sent = call["request"]["messages"]
    for message in before:
        assert any(
            s["role"] == message["role"]
            and _text(s) == _text(message)
            and s.get("tool_calls", []) == message.get("tool_calls", [])
            for s in sent
        ), f"message lost on resume: {message}"
    after = h.transcript(cli.home, session_id)
    assert after[: len(before)] == before
    h.assert_transcript_valid(after)
    assert h.metadata(cli.home, session_id)["status"] == "completed"
    h.assert_nothing_left(cli.home, session_id)
    return before


@pytest.mark.parametrize(("event", "count"), KILL_POINTS, ids=[f"after-{e}-{n}" for e, n in KILL_POINTS])
def test_sigkill_of_the_cli_leaves_no_orphan_and_the_session_resumes_with_every_message(cli, h, event, count):
    session_id = kill_after(cli, h, event, count)
    before = check_resume(cli, h, session_id)
    if event == "tool_call" and count == 2:
        assert any(m.get("tool_calls") for m in before)


def test_sigkill_during_a_running_tool_call_resumes_with_the_call_marked_interrupted(cli, h):
    session_id = kill_after(cli, h, "tool_call", 1, mode="hang_tool")
    before = check_resume(cli, h, session_id)
    assert [m["role"] for m in before] == ["user", "assistant"], "the call was in flight at the kill"
    repaired = h.transcript(cli.home, session_id)[2]
    assert repaired["role"] == "tool" and repaired["content"].startswith("interrupted")
