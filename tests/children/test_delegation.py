"""Delegation through the real Host: to self, to a registered agent, to a shipped Markdown agent."""

from __future__ import annotations

import sys
from pathlib import Path

from amplifier_ipc.host import ServiceSpec, SessionConfig

from .conftest import (
    TO_CHILD_SCRIPT,
    Family,
    complete,
    conversation,
    delegate_call,
    scripted,
    tool_names,
    tool_texts,
)


async def test_a_parent_delegates_to_self_and_gets_the_childs_answer(family: Family) -> None:
    config = family.config(
        [
            {
                "tool_calls": [
                    delegate_call(
                        "d1",
                        agent="self",
                        instruction="Count the files.",
                        provider_preferences=TO_CHILD_SCRIPT,
                    )
                ]
            },
            {"text": "The child says three."},
        ],
        ["There are three files."],
    )
    host = family.host(config)
    events = await family.turn(host, "How many files?")
    assert complete(events)["status"] == "completed"
    assert complete(events)["response"] == "The child says three."

    (child_id,) = family.children_of(host.session_id)
    assert child_id.startswith(f"{host.session_id}-") and child_id.endswith("_self")
    child_events = [e for e in events if e.session_id == child_id]
    assert child_events and all(e.parent_id == host.session_id and e.depth == 1 for e in child_events)
    assert child_events[0].type == "turn_start" and child_events[-1].type == "complete"
    assert (
        "".join(e.data["text"] for e in child_events if e.type == "stream.token") == "There are three files."
    )

    child_usage = complete(events, child_id)["usage"]
    (own_usage,) = [e.data["usage"] for e in events if e.type == "usage" and e.session_id == host.session_id]
    parent_usage = complete(events)["usage"]
    for field in ("input_tokens", "output_tokens"):
        assert child_usage[field] > 0
        assert parent_usage[field] == own_usage[field] + child_usage[field], field

    metadata = family.metadata(child_id)
    assert metadata["parent_id"] == host.session_id and metadata["status"] == "completed"
    assert metadata["delegation"]["agent"] == "self" and metadata["depth"] == 1
    assert (family.sessions / child_id).parent == (family.sessions / host.session_id).parent

    (child_request,) = family.requests_of(child_id)
    assert conversation(child_request) == [{"role": "user", "content": "Count the files."}]
    assert "You are the parent agent." in child_request["system"]
    assert "delegate" not in tool_names(child_request)
    assert {"read_file", "bash", "todo"} <= tool_names(child_request)
    parent_second = family.requests_of(host.session_id)[1]
    result = tool_texts(parent_second)[0]
    assert result.startswith("There are three files.") and child_id in result


async def test_a_named_agent_is_resolved_and_runs_its_own_services_and_prompt(family: Family) -> None:
    named_script = family.write("named.yaml", ["Named agent reporting."])
    asked: list[str] = []

    def resolve(agent: str) -> SessionConfig | None:
        asked.append(agent)
        if agent != "auditor":
            return None
        return SessionConfig(
            services=[
                ServiceSpec(
                    name="foundation",
                    command=[sys.executable, "-m", "amplifier_foundation"],
                    config={"status_context": {"git": False, "date": False}},
                ),
                scripted("providers", named_script, family.root / "child.jsonl"),
            ],
            orchestrator="foundation:streaming",
            context_manager="foundation:simple",
            provider="providers:scripted",
            agent="auditor",
            system_prompt="You are the auditor. You check the books.",
        )

    config = family.config(
        [
            {"tool_calls": [delegate_call("d1", agent="auditor", instruction="Audit it.")]},
            {"text": "Audited."},
        ]
    )
    host = family.host(config, resolve_agent=resolve)
    events = await family.turn(host, "audit please")
    assert complete(events)["response"] == "Audited."
    assert asked == ["auditor"]
    (child_id,) = family.children_of(host.session_id)
    assert child_id.endswith("_auditor")
    assert family.metadata(child_id)["agent"] == "auditor"
    (request,) = family.requests_of(child_id)
    assert "You are the auditor." in request["system"] and "parent agent" not in request["system"]
    # The parent's approval config reached the child's foundation where the child set none.
    assert "Named agent reporting." in tool_texts(family.requests_of(host.session_id)[1])[0]


async def test_a_shipped_markdown_agent_gets_its_prompt_and_only_its_tools(family: Family) -> None:
    config = family.config(
        [
            {
                "tool_calls": [
                    delegate_call(
                        "d1",
                        agent="explorer",
                        instruction="Where is main?",
                        provider_preferences=TO_CHILD_SCRIPT,
                    )
                ]
            },
            {"text": "Found."},
        ],
        ["main is in app.py:1"],
    )
    host = family.host(config)
    events = await family.turn(host, "explore")
    assert complete(events)["response"] == "Found."
    (child_id,) = family.children_of(host.session_id)
    assert child_id.endswith("_explorer")
    (request,) = family.requests_of(child_id)
    assert "You explore a codebase to answer one question" in request["system"]
    assert tool_names(request) == {"read_file", "glob", "grep", "bash"}
    # The agent's file is kept with the child: its resumes (and the CLI) run the same agent.
    kept = family.metadata(child_id)["agent_markdown"]
    assert kept["source"] == "foundation:agents/explorer.md" and kept["text"].startswith(
        "---\nname: explorer"
    )


async def test_an_unknown_agent_is_a_tool_error_naming_the_agents_available(family: Family) -> None:
    config = family.config(
        [
            {"tool_calls": [delegate_call("d1", agent="wizard", instruction="Do magic.")]},
            {"text": "No wizard."},
        ]
    )
    host = family.host(config)
    events = await family.turn(host, "magic")
    assert complete(events)["response"] == "No wizard."
    error = tool_texts(family.requests_of(host.session_id)[1])[0]
    assert "no agent named 'wizard'" in error and "self, explorer, reviewer" in error
    assert family.children_of(host.session_id) == []


async def test_a_childs_approval_request_is_answered_through_the_parent_host(family: Family) -> None:
    config = family.config(
        [
            {
                "tool_calls": [
                    delegate_call(
                        "d1", agent="self", instruction="Write w.txt.", provider_preferences=TO_CHILD_SCRIPT
                    )
                ]
            },
            {"text": "Written."},
        ],
        [
            {
                "tool_calls": [
                    {"id": "w1", "name": "write_file", "arguments": {"path": "w.txt", "content": "x"}}
                ]
            },
            "Wrote it.",
        ],
        foundation_config={"approval": {"mode": "ask"}},
        approval_mode="ask",
    )
    host = family.host(config)
    asked = []

    def answer(event: object) -> None:
        if getattr(event, "type", "") == "approval_request":
            asked.append(event)
            host.send_approval(event.data["request_id"], "allow")  # type: ignore[attr-defined]

    events = await family.turn(host, "write", on_event=answer)
    assert complete(events)["status"] == "completed"
    assert len(asked) == 1 and asked[0].parent_id == host.session_id
    assert asked[0].data["request_id"].startswith(asked[0].session_id + "/")
    assert (Path(family.workdir) / "w.txt").read_text() == "x"
