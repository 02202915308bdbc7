"""What a child passes on to its own children, and the depth of a child continued as a top session."""

from __future__ import annotations

import dataclasses
from typing import Any

from amplifier_ipc.host import Host
from amplifier_ipc.host.child_context import Delegation, ParentSide, child_config

from .conftest import LIMITS, TO_CHILD_SCRIPT, Family, complete, delegate_call, tool_names, tool_texts


def _has_environment_note(request: dict[str, Any]) -> bool:
    """The status_context hook's ``<environment>`` message: proof that the hook ran."""
    return any(str(m.get("content")).startswith("<environment>") for m in request["messages"])


async def test_a_grandchild_keeps_its_parents_tool_limits_but_not_its_parents_hook_filters(
    family: Family,
) -> None:
    spawn = delegate_call(
        "c1",
        agent="self",
        instruction="child task",
        inherit_tools=["read_file", "grep", "glob", "bash", "delegate"],
        exclude_tools=["bash"],
        exclude_hooks=["status_context"],
        provider_preferences=TO_CHILD_SCRIPT,
    )
    # Child and grandchild share the children's script, each at its own position: entry 0 makes
    # the child delegate (the grandchild, not offered `delegate`, fails that call), entry 1 answers.
    config = family.config(
        [{"tool_calls": [spawn]}, "parent done"],
        [{"tool_calls": [delegate_call("g1", agent="self", instruction="grandchild task")]}, "answer"],
    )
    host = family.host(config)
    events = await family.turn(host, "go")
    assert complete(events)["response"] == "parent done"
    (child_id,) = family.children_of(host.session_id)
    (grandchild_id,) = family.children_of(child_id)

    child = family.requests_of(child_id)[0]
    assert tool_names(child) == {"read_file", "grep", "glob", "delegate"}
    assert not _has_environment_note(child)

    grandchild = family.requests_of(grandchild_id)
    # Tools: the child's limits bound it (no bash: the child may not use it), and no delegate.
    assert tool_names(grandchild[0]) == {"read_file", "grep", "glob"}
    assert "no tool named 'delegate'" in tool_texts(grandchild[1])[0]
    # Hooks: the child's own spawner excluded status_context for the child only.
    assert _has_environment_note(grandchild[0])
    # It runs on the child's provider, chosen the way the child's was (the children's script).
    assert all(r in family.requests("child.jsonl") for r in grandchild)
    kept = family.metadata(grandchild_id)
    assert kept["depth"] == 2 and kept["delegation"]["exclude_hooks"] == []
    # What the CLI rebuilds it from, top first: each session above it with its spawn options.
    assert [(e["id"], e["agent"]) for e in kept["lineage"]] == [
        (host.session_id, "custom"),
        (child_id, "custom"),
    ]
    assert kept["lineage"][1]["delegation"]["exclude_tools"] == ["bash"]


async def test_a_child_continued_as_a_top_session_keeps_its_depth_for_the_limit(family: Family) -> None:
    deeper = delegate_call("d", agent="self", instruction="deeper", inherit_tools=["delegate", "read_file"])
    # Every session of this lineage follows this script at its own position.
    config = family.config([{"tool_calls": [deeper]}, "ready", {"tool_calls": [deeper]}, "done"])
    host = Host(config, limits=dataclasses.replace(LIMITS, max_delegation_depth=1))
    family.hosts.append(host)
    await family.turn(host, "start")
    (child_id,) = family.children_of(host.session_id)
    assert family.metadata(child_id)["depth"] == 1

    # The child continued as the CLI continues it (cli/agents.py): rebuilt from its parent and
    # its spawn options, and run as its consumer's top session (no parent_id, depth 0).
    delegation = Delegation.parse(family.metadata(child_id)["delegation"])
    again = child_config(ParentSide(host.config, host.session_id, 0, family.sessions), delegation)
    again.session_id, again.parent_id, again.depth = child_id, None, 0
    continued = Host(again, limits=dataclasses.replace(LIMITS, max_delegation_depth=2))
    family.hosts.append(continued)
    events = await family.turn(continued, "go on")
    assert complete(events)["response"] == "done"

    (grandchild_id,) = family.children_of(child_id)
    assert family.metadata(grandchild_id)["depth"] == 2  # counted from the child's real depth
    refusal = tool_texts(family.requests_of(grandchild_id)[1])[0]
    assert "this session is 2 levels below" in refusal and "at most 2 levels" in refusal
    # Its consumer sees the grandchild one level below the session it drives.
    relayed = [e for e in events if e.session_id == grandchild_id]
    assert relayed and {(e.parent_id, e.depth) for e in relayed} == {(child_id, 1)}
    assert family.metadata(child_id)["parent_id"] == host.session_id
