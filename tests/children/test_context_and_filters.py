"""What a child is given: parent context (depth and scope), tools and hooks, depth limit; children in parallel."""

from __future__ import annotations

from typing import Any

from .conftest import TO_CHILD_SCRIPT, Family, complete, conversation, delegate_call, tool_names, tool_texts


def _child_requests(family: Family, parent_id: str) -> dict[str, dict[str, Any]]:
    """The first provider request of each child, keyed by its instruction."""
    out = {}
    for child_id in family.children_of(parent_id):
        request = family.requests_of(child_id)[0]
        out[conversation(request)[-1]["content"]] = request
    return out


def _delegation(call_id: str, instruction: str, **options: Any) -> dict[str, Any]:
    return delegate_call(
        call_id, agent="self", instruction=instruction, provider_preferences=TO_CHILD_SCRIPT, **options
    )


async def test_each_context_depth_and_scope_reaches_the_child_as_one_labelled_message(family: Family) -> None:
    (family.workdir / "notes.txt").write_text("NOTES-CONTENT-42\n")
    turn_two = {
        "none": {"context_depth": "none"},
        "recent": {"context_depth": "recent", "context_turns": 1},
        "conversation": {"context_depth": "all", "context_scope": "conversation"},
        "agents": {"context_depth": "all", "context_scope": "agents"},
        "full": {"context_depth": "all", "context_scope": "full"},
    }
    config = family.config(
        [
            {
                "tool_calls": [
                    {"id": "r1", "name": "read_file", "arguments": {"path": "notes.txt"}},
                    _delegation("e1", "earlier task"),
                ]
            },
            {"text": "First answer."},
            {
                "tool_calls": [
                    _delegation(f"c_{name}", f"task {name}", **opts) for name, opts in turn_two.items()
                ]
            },
            {"text": "Done."},
        ],
        ["child ok"],
    )
    host = family.host(config)
    await family.turn(host, "First question about notes")
    events = await family.turn(host, "Second question")
    assert complete(events)["response"] == "Done."

    by_task = _child_requests(family, host.session_id)
    assert conversation(by_task["task none"]) == [{"role": "user", "content": "task none"}]

    def context_of(task: str) -> str:
        messages = conversation(by_task[task])
        assert len(messages) == 2, messages
        assert messages[0]["role"] == "user"
        text = str(messages[0]["content"])
        assert text.startswith(f"[Context from the parent session {host.session_id}")
        assert text.endswith("[End of the parent session's context]")
        return text

    recent = context_of("task recent")
    assert "User: Second question" in recent and "First question" not in recent

    plain = context_of("task conversation")
    assert "User: First question about notes" in plain and "Assistant: First answer." in plain
    assert "Tool call" not in plain and "NOTES-CONTENT-42" not in plain

    agents = context_of("task agents")
    assert "Tool call delegate" in agents and "earlier task" in agents and "child ok" in agents
    assert "read_file" not in agents and "NOTES-CONTENT-42" not in agents

    full = context_of("task full")
    assert "Tool call read_file" in full and "NOTES-CONTENT-42" in full and "Tool call delegate" in full
    # The delegation in flight (this child's own call) is not part of its context.
    assert "task full" not in full

    # Five children of one response ran at once: each started before any had finished.
    children = {e.session_id for e in events if e.parent_id == host.session_id}
    assert len(children) == 5
    starts = [i for i, e in enumerate(events) if e.type == "turn_start" and e.session_id in children]
    ends = [i for i, e in enumerate(events) if e.type == "complete" and e.session_id in children]
    assert max(starts) < min(ends)


async def test_tool_and_hook_filters_shape_what_the_child_is_offered_and_runs(family: Family) -> None:
    config = family.config(
        [
            {
                "tool_calls": [
                    _delegation("c1", "task plain"),
                    _delegation("c2", "task exclude", exclude_tools=["bash", "write_*"]),
                    _delegation("c3", "task inherit", inherit_tools=["read_file", "grep"]),
                    _delegation("c4", "task delegate", inherit_tools=["read_file", "delegate"]),
                    _delegation("c5", "task nohooks", exclude_hooks=["logging"]),
                ]
            },
            {"text": "Filtered."},
        ],
        ["child ok"],
    )
    host = family.host(config)
    events = await family.turn(host, "filters")
    assert complete(events)["response"] == "Filtered."
    by_task = _child_requests(family, host.session_id)

    plain = tool_names(by_task["task plain"])
    assert {"bash", "write_file", "read_file", "todo"} <= plain and "delegate" not in plain
    excluded = tool_names(by_task["task exclude"])
    assert excluded == plain - {"bash", "write_file"}
    assert tool_names(by_task["task inherit"]) == {"read_file", "grep"}
    assert tool_names(by_task["task delegate"]) == {"read_file", "delegate"}

    ids = {
        conversation(family.requests_of(c)[0])[-1]["content"]: c for c in family.children_of(host.session_id)
    }
    assert (family.sessions / ids["task plain"] / "hook-events.jsonl").exists()
    assert not (family.sessions / ids["task nohooks"] / "hook-events.jsonl").exists()


async def test_an_excluded_tool_cannot_be_called_by_the_child_either(family: Family) -> None:
    config = family.config(
        [{"tool_calls": [_delegation("c1", "try bash", exclude_tools=["bash"])]}, {"text": "ok"}],
        [{"tool_calls": [{"id": "b1", "name": "bash", "arguments": {"command": "touch made"}}]}, "refused"],
    )
    host = family.host(config)
    await family.turn(host, "go")
    (child_id,) = family.children_of(host.session_id)
    second = family.requests_of(child_id)[1]
    assert "no tool named 'bash'" in tool_texts(second)[0]
    assert not (family.workdir / "made").exists()


async def test_the_depth_limit_stops_the_chain_with_a_clear_error_to_the_model(family: Family) -> None:
    again = _delegation("deeper", "go deeper", inherit_tools=["delegate"])
    config = family.config(
        [{"tool_calls": [again]}, {"text": "top done"}], [{"tool_calls": [again]}, "level done"]
    )
    host = family.host(config)
    events = await family.turn(host, "recurse")
    assert complete(events)["response"] == "top done"

    chain = [host.session_id]
    while True:
        children = family.children_of(chain[-1])
        if not children:
            break
        (child,) = children
        assert child.startswith(chain[-1] + "-")
        chain.append(child)
    assert len(chain) == 4  # the user's session, then depths 1, 2 and 3
    assert [family.metadata(s).get("depth") for s in chain[1:]] == [1, 2, 3]
    assert {e.depth for e in events if e.session_id == chain[3]} == {3}
    deepest = family.requests_of(chain[3])[1]
    refusal = tool_texts(deepest)[0]
    assert "delegation depth limit reached" in refusal and "at most 3 levels" in refusal
    assert "Do this task yourself" in refusal


async def test_a_spawn_with_bad_options_is_refused_with_what_to_fix(family: Family) -> None:
    config = family.config(
        [
            {"tool_calls": [_delegation("c1", "x", exclude_tools="bash")]},
            {"text": "ok"},
        ]
    )
    host = family.host(config)
    await family.turn(host, "bad")
    refusal = tool_texts(family.requests_of(host.session_id)[1])[0]
    assert "exclude_tools" in refusal
    assert family.children_of(host.session_id) == []
