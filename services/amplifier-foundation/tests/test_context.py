"""The simple context manager: storage, budget and compaction."""

from __future__ import annotations

from typing import Any

from amplifier_foundation.context_managers._compaction import compact, repair_tool_pairs
from amplifier_foundation.context_managers.simple import DEFAULT_CONTEXT_WINDOW, budget_for
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import FakeHost


def turn(n: int, tools: int = 1, size: int = 400) -> list[dict[str, Any]]:
    """A user message, an assistant message with ``tools`` calls, their results, a reply."""
    calls = [{"id": f"t{n}_{i}", "name": "read_file", "arguments": {"path": f"f{i}"}} for i in range(tools)]
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"question {n} " + "x" * size}]
    if tools:
        messages.append({"role": "assistant", "content": [], "tool_calls": calls})
        messages += [
            {"role": "tool", "tool_call_id": c["id"], "name": "read_file", "content": "y" * size}
            for c in calls
        ]
    messages.append({"role": "assistant", "content": f"answer {n}"})
    return messages


def assert_pairs_intact(view: list[dict[str, Any]]) -> None:
    for index, message in enumerate(view):
        if message["role"] == "assistant" and message.get("tool_calls"):
            ids = [c["id"] for c in message["tool_calls"]]
            following = [m["tool_call_id"] for m in view[index + 1 : index + 1 + len(ids)]]
            assert following == ids
        if message["role"] == "tool":
            owners = [
                m
                for m in view[:index]
                if any(c["id"] == message["tool_call_id"] for c in m.get("tool_calls") or [])
            ]
            assert owners, f"orphan result {message['tool_call_id']}"


async def test_compaction_drops_oldest_turns_keeps_system_and_latest_and_reports_counts(
    start_host: Any,
) -> None:
    host: FakeHost = await start_host(config={"simple": {"context_window": 3_000, "output_reserve": 1_000}})
    history = [{"role": "system", "content": "be brief"}]
    for n in range(8):
        history += turn(n, tools=2)
    await host.peer.request("context.set_messages", {"messages": history})
    view = (await host.peer.request("context.get_messages", {}))["messages"]
    assert view[0] == {"role": "system", "content": "be brief"}
    assert view[-len(turn(7, tools=2)) :] == turn(7, tools=2)
    assert len(view) < len(history)
    assert_pairs_intact(view)
    ((_event, data),) = [(e, d) for e, d in host.events if e == "context:compaction"]
    assert data["before"] == len(history) and data["after"] == len(view)
    assert data["dropped_turns"] >= 1 and data["session_id"] == "test-session"
    assert data["tokens_after"] <= 2_000 < data["tokens_before"]


async def test_compaction_never_rewrites_the_stored_history(start_host: Any) -> None:
    host: FakeHost = await start_host(config={"simple": {"context_window": 3_000, "output_reserve": 1_000}})
    history = [m for n in range(6) for m in turn(n, size=1_000)]
    for message in history:
        await host.peer.request("context.add_message", {"message": message})
    small = (await host.peer.request("context.get_messages", {}))["messages"]
    big = await host.peer.request("context.get_messages", {"provider_info": {"context_window": 10**6}})
    assert len(small) < len(history)
    await host.peer.request("configure", {"config": {"simple": {}}})
    everything = await host.peer.request("context.get_messages", {"provider_info": {"context_window": 10**6}})
    assert everything["messages"] == history
    assert big["messages"] == small  # config context_window wins over provider_info


async def test_clear_empties_the_history(start_host: Any) -> None:
    host: FakeHost = await start_host()
    await host.peer.request("context.add_message", {"message": {"role": "user", "content": "hi"}})
    await host.peer.request("context.clear", {})
    assert (await host.peer.request("context.get_messages", {}))["messages"] == []


async def test_a_message_without_a_role_is_refused_with_the_shape_named(start_host: Any) -> None:
    host: FakeHost = await start_host()
    try:
        await host.peer.request("context.add_message", {"message": {"content": "hi"}})
    except Exception as exc:
        assert "needs a role" in str(exc)
    else:
        raise AssertionError("a message without a role was accepted")


def test_an_interrupted_tool_call_gets_a_synthetic_result_in_the_view() -> None:
    history = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [], "tool_calls": [{"id": "a", "name": "bash", "arguments": {}}]},
        {"role": "user", "content": "are you there?"},
    ]
    view = repair_tool_pairs(history)
    assert view[2]["role"] == "tool" and view[2]["tool_call_id"] == "a"
    assert view[2]["metadata"]["synthetic"] is True
    assert view[3] == history[2]


def test_a_tool_result_without_its_call_is_left_out_of_the_view() -> None:
    history = [{"role": "tool", "tool_call_id": "ghost", "content": "?"}, {"role": "user", "content": "hi"}]
    assert repair_tool_pairs(history) == [{"role": "user", "content": "hi"}]


def test_the_budget_is_the_context_window_minus_the_output_reserve() -> None:
    info = {
        "models": [{"id": "m", "context_window": 50_000, "max_output_tokens": 4_000}],
        "defaults": {"model": "m"},
    }
    assert budget_for(info, {}) == 46_000
    assert budget_for({"defaults": {"context_window": 20_000, "max_output_tokens": 2_000}}, {}) == 18_000
    assert budget_for(None, {"context_window": 9_000, "output_reserve": 1_000}) == 8_000
    assert budget_for({}, {}) < DEFAULT_CONTEXT_WINDOW


def test_the_latest_turn_is_kept_even_when_it_alone_exceeds_the_budget() -> None:
    history = turn(0) + turn(1, tools=3, size=20_000)
    view, report = compact(history, 2_000)
    assert report is not None and report.truncated_results >= 1
    assert [m["role"] for m in view] == [m["role"] for m in turn(1, tools=3)]
    assert_pairs_intact(view)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3000)), min_size=1, max_size=12),
    st.integers(200, 20_000),
)
def test_any_compacted_view_keeps_every_tool_call_with_its_result(
    shape: list[tuple[int, int]], budget: int
) -> None:
    history = [m for n, (tools, size) in enumerate(shape) for m in turn(n, tools, size)]
    view, _ = compact(repair_tool_pairs(history), budget)
    assert_pairs_intact(view)
    assert view[-1] == history[-1]
