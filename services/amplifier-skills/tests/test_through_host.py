"""Skills under the real Host: foundation's agent loop, the scripted provider,
and this service; each turn is a fresh set of processes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


async def test_skills_are_offered_and_a_loaded_one_is_remembered_next_turn(
    tmp_path: Path, foundation_session: Any
) -> None:
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
    host = foundation_session.host(tmp_path, steps, "skills", "amplifier_skills")
    try:
        await foundation_session.turn(host, "fill the form")
        await foundation_session.turn(host, "again")
    finally:
        await host.close()
    sent = foundation_session.requests(tmp_path)
    first, second_turn = json.dumps(sent[0]["messages"]), json.dumps(sent[2]["messages"])
    assert "- pdf-forms: Fill in PDF forms." in first and "Already loaded" not in first
    loaded = [m for m in sent[1]["messages"] if m["role"] == "tool"][-1]
    assert "Use pypdf; set each field." in loaded["content"]
    assert "Already loaded in this session: pdf-forms." in second_turn
    transcript = (tmp_path / "home" / "sessions" / host.session_id / "transcript.jsonl").read_text()
    assert "Skills available" not in transcript  # the list is ephemeral
