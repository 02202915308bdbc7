"""A child's life: resumed (twice in one parent turn, in parallel), cancelled with its parent,
and given a model through the routing matrix."""

from __future__ import annotations

import json
import sys
from typing import Any

from amplifier_ipc.host import Event, ServiceSpec

from .conftest import TO_CHILD_SCRIPT, Family, complete, conversation, delegate_call, tool_texts


async def test_a_child_is_resumed_twice_in_one_parent_turn_without_deadlock(family: Family) -> None:
    spawn = delegate_call("s1", agent="self", instruction="remember 7", provider_preferences=TO_CHILD_SCRIPT)
    # Both resumes in one response: they run in parallel and must queue on the child, not collide.
    resumes = [
        {
            "id": "r1",
            "name": "delegate",
            "arguments": {"session_id": "parent-1-", "instruction": "what number?"},
        },
        {
            "id": "r2",
            "name": "delegate",
            "arguments": {"session_id": "parent-1-", "instruction": "and again?"},
        },
    ]
    config = family.config(
        [{"tool_calls": [spawn]}, {"tool_calls": resumes}, {"text": "all done"}],
        ["noted", "it was 7", "still 7"],
        session_id="parent-1",
    )
    host = family.host(config)
    events = await family.turn(host, "go")
    assert complete(events)["response"] == "all done"

    (child_id,) = family.children_of("parent-1")
    metadata = family.metadata(child_id)
    assert metadata["turns"] == 3 and metadata["status"] == "completed"
    users = [m["content"] for m in family.transcript(child_id) if m["role"] == "user"]
    assert users[0] == "remember 7" and sorted(users[1:]) == ["and again?", "what number?"]
    answers = tool_texts(family.requests_of("parent-1")[2])[-2:]
    assert sorted(a.split("\n")[0] for a in answers) == ["it was 7", "still 7"]
    # Each resume saw the whole conversation of the child so far.
    last = family.requests_of(child_id)[2]
    assert next(m["content"] for m in conversation(last) if m["role"] == "user") == "remember 7"
    assert len([e for e in events if e.type == "turn_start" and e.session_id == child_id]) == 3


async def test_a_later_parent_turn_resumes_the_child_by_its_short_id(family: Family) -> None:
    spawn = delegate_call("s1", agent="self", instruction="start", provider_preferences=TO_CHILD_SCRIPT)
    config = family.config(
        [
            {"tool_calls": [spawn]},
            "spawned",
            {
                "tool_calls": [
                    {
                        "id": "r1",
                        "name": "delegate",
                        "arguments": {"session_id": "_self", "instruction": "next"},
                    }
                ]
            },
            "resumed",
        ],
        ["started", "continued"],
    )
    host = family.host(config)
    await family.turn(host, "one")
    events = await family.turn(host, "two")
    assert complete(events)["response"] == "resumed"
    (child_id,) = family.children_of(host.session_id)
    assert family.metadata(child_id)["turns"] == 2
    resumed = [e for e in events if e.session_id == child_id and e.type == "turn_start"]
    assert resumed and resumed[0].data["resumed"] is True and resumed[0].parent_id == host.session_id


async def test_resuming_a_session_that_is_not_a_child_is_refused(family: Family) -> None:
    stranger = family.config(["hello"], session_id="stranger")
    await family.turn(family.host(stranger), "hi")
    config = family.config(
        [
            {
                "tool_calls": [
                    {"id": "r1", "name": "delegate", "arguments": {"session_id": "p2", "instruction": "x"}},
                    {
                        "id": "r2",
                        "name": "delegate",
                        "arguments": {"session_id": "stranger", "instruction": "x"},
                    },
                    {
                        "id": "r3",
                        "name": "delegate",
                        "arguments": {"session_id": "nobody-here", "instruction": "x"},
                    },
                ]
            },
            "refused",
        ],
        session_id="p2",
    )
    host = family.host(config)
    await family.turn(host, "go")
    itself, other, missing = tool_texts(family.requests_of("p2")[1])
    assert "cannot resume itself" in itself
    assert "not a child of this session" in other
    assert "no child session nobody-here" in missing


async def _cancel_during_child_tool(family: Family, immediate: bool) -> tuple[list[Event], str]:
    marker = family.workdir / "started"
    wait_forever = f"touch {marker}; while [ ! -e {family.workdir}/never ]; do sleep 0.05; done"
    if not immediate:
        wait_forever = f"touch {marker}; while [ ! -e {family.workdir}/release ]; do sleep 0.05; done"
    config = family.config(
        [
            {
                "tool_calls": [
                    delegate_call(
                        "d1", agent="self", instruction="work", provider_preferences=TO_CHILD_SCRIPT
                    )
                ]
            },
            "parent never gets here",
        ],
        [
            {
                "tool_calls": [
                    {"id": "b1", "name": "bash", "arguments": {"command": wait_forever, "timeout": 120}}
                ]
            },
            "child never gets here",
        ],
    )
    host = family.host(config)
    cancelled = False

    def on_event(event: Event) -> None:
        nonlocal cancelled
        if not cancelled and event.type == "tool_call" and event.data.get("name") == "bash":
            cancelled = True
            host.cancel(immediate=immediate)
            if not immediate:  # a graceful cancel lets the running tool finish
                (family.workdir / "release").touch()

    events = await family.turn(host, "start", on_event=on_event)
    assert cancelled
    (child_id,) = family.children_of(host.session_id)
    return events, child_id


async def test_cancelling_the_parent_at_once_cancels_the_running_child(family: Family) -> None:
    events, child_id = await _cancel_during_child_tool(family, immediate=True)
    assert complete(events)["status"] == "cancelled"
    assert complete(events, child_id)["status"] == "cancelled"
    assert family.metadata(child_id)["status"] == "cancelled"
    # The child's transcript stays valid: its cut-short tool call has a result.
    tool_results = [m for m in family.transcript(child_id) if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_results] == ["b1"]


async def test_cancelling_the_parent_gracefully_lets_the_child_finish_its_tool_then_stop(
    family: Family,
) -> None:
    events, child_id = await _cancel_during_child_tool(family, immediate=False)
    assert complete(events)["status"] == "cancelled"
    child = complete(events, child_id)
    assert child["status"] == "cancelled"
    (result,) = [m for m in family.transcript(child_id) if m["role"] == "tool"]
    assert result["metadata"]["success"] is True  # the tool ran to its end
    assert len(family.requests_of(child_id)) == 1  # and the child asked the model nothing more


async def test_a_model_role_is_routed_by_the_matrix_to_a_provider_and_model(family: Family) -> None:
    matrix = family.root / "matrix.yaml"
    matrix.write_text(
        json.dumps(
            {
                "name": "test",
                "roles": {
                    "default": [{"provider": "scripted", "model": "big-model"}],
                    "fast": [{"provider": "scripted", "model": "tiny-model"}],
                },
            }
        )
    )
    child_script = family.write("role-child.yaml", ["fast answer"])

    def resolve(agent: str) -> Any:
        if agent != "quick":
            return None
        config = family.config(["unused"])
        config.services = [
            config.services[0],
            ServiceSpec(
                name="providers",
                command=[sys.executable, "-m", "amplifier_providers"],
                config={
                    "scripted": {"script": str(child_script), "record": str(family.root / "child.jsonl")}
                },
            ),
            ServiceSpec(
                name="routing",
                command=[sys.executable, "-m", "amplifier_routing_matrix"],
                config={"routing": {"matrix": str(matrix)}},
            ),
        ]
        config.agent = "quick"
        return config

    config = family.config(
        [
            {"tool_calls": [delegate_call("d1", agent="quick", instruction="be quick", model_role="fast")]},
            "routed",
        ]
    )
    host = family.host(config, resolve_agent=resolve)
    events = await family.turn(host, "go")
    assert complete(events)["response"] == "routed"
    (child_id,) = family.children_of(host.session_id)
    (request,) = family.requests_of(child_id)
    assert request["model"] == "tiny-model"
    assert family.metadata(child_id)["delegation"]["model_role"] == "fast"
