"""Hook fan-out (PROTOCOL §6): through real services, and its merge rules in isolation."""

from __future__ import annotations

import json
from typing import Any

from amplifier_ipc.host.hooks import fan_out_hook
from amplifier_ipc.host.routing import HookRoute


def call(call_id: str, name: str, **arguments: Any) -> dict[str, Any]:
    return {"id": call_id, "name": name, "arguments": arguments}


def hooks(kit, name: str, **config: Any):
    return kit.service(name, "tsvc_hooks", {"recorder": {"path": str(kit.root / "hooks.jsonl"), **config}})


def recorded(kit) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (kit.root / "hooks.jsonl").read_text().splitlines()]


async def test_hooks_in_three_services_each_see_every_turn_event_once(kit):
    steps = [{"tool_calls": [call("c1", "echo", text="x")]}, {"text": "done"}]
    config = kit.config(steps, extra=[hooks(kit, "h1"), hooks(kit, "h2"), hooks(kit, "h3")])
    host = kit.host(config)
    events = await kit.turn(host)
    assert kit.complete(events)["status"] == "completed"
    seen = recorded(kit)
    for event, times in (("prompt:submit", 1), ("provider:request", 2), ("tool:pre", 1), ("tool:post", 1)):
        for service in ("h1", "h2", "h3"):
            got = [r for r in seen if r["service"] == service and r["event"] == event]
            assert len(got) == times, (service, event, len(got))
    assert all(r["data"]["session_id"] == host.session_id for r in seen)


async def test_a_deny_from_a_hook_service_stops_the_tool_and_later_hooks(kit):
    deny = {"tool:pre": {"action": "DENY", "reason": "not today"}}
    steps = [{"tool_calls": [call("c1", "echo", text="x")]}, {"text": "done"}]
    host = kit.host(kit.config(steps, extra=[hooks(kit, "h1", answers=deny), hooks(kit, "h2")]))
    events = await kit.turn(host)
    result = kit.of_type(events, "tool_result")[0].data
    assert result["success"] is False and "not today" in result["output"]
    assert not [r for r in recorded(kit) if r["service"] == "h2" and r["event"] == "tool:pre"]


async def test_a_failing_or_hanging_hook_is_skipped_and_reported_as_hook_error(kit):
    from amplifier_ipc.host import HostLimits

    config = kit.config(
        extra=[hooks(kit, "h1", fail_on=["prompt:submit"]), hooks(kit, "h2", hang_on=["provider:request"])]
    )
    host = kit.host(config, limits=HostLimits(hook_timeout=0.5, shutdown_grace=1.0, term_grace=1.0))
    events = await kit.turn(host)
    assert kit.complete(events)["status"] == "completed"
    errors = [(e.data["service"], e.data["hook"], e.data["event"]) for e in kit.of_type(events, "hook_error")]
    assert errors == [("h1", "recorder", "prompt:submit"), ("h2", "recorder", "provider:request")]
    texts = [e.data["error"] for e in kit.of_type(events, "hook_error")]
    assert "on purpose" in texts[0] and "0.5s" in texts[1]


# -- the merge rules, with an in-process stand-in for the services' hook.emit --


def route(service: str, priority: int = 0, order: int = 0) -> HookRoute:
    return HookRoute(service, "h", ("*",), priority, order)


async def run(
    answers: dict[str, Any], routes: list[HookRoute]
) -> tuple[dict[str, Any], list[str], list[str]]:
    called: list[str] = []
    errors: list[str] = []

    async def send(hook: HookRoute, event: str, data: dict[str, Any]) -> Any:
        called.append(hook.service)
        answer = answers[hook.service]
        return answer(data) if callable(answer) else answer

    result = await fan_out_hook(
        routes, "tool:pre", {"n": 0}, call=send, timeout=5, on_error=lambda h, e, t: errors.append(h.service)
    )
    return result, called, errors


async def test_modify_results_chain_their_data_into_the_next_hook():
    def bump(data):
        return {"action": "MODIFY", "data": {"n": data["n"] + 1}}

    result, called, _ = await run({"a": bump, "b": bump}, [route("a"), route("b")])
    assert result == {"action": "MODIFY", "data": {"n": 2}}
    assert called == ["a", "b"]


async def test_injections_are_joined_with_the_role_of_the_first():
    answers = {
        "a": {"action": "INJECT_CONTEXT", "context_injection": "one", "context_injection_role": "system"},
        "b": {"action": "CONTINUE"},
        "c": {"action": "INJECT_CONTEXT", "context_injection": "two", "context_injection_role": "user"},
    }
    result, _, _ = await run(answers, [route("a"), route("b"), route("c")])
    assert result["action"] == "INJECT_CONTEXT"
    assert result["context_injection"] == "one\n\ntwo"
    assert result["context_injection_role"] == "system"


async def test_ask_user_stops_the_chain_and_is_returned_as_is():
    ask = {"action": "ASK_USER", "approval_prompt": "sure?"}
    result, called, _ = await run({"a": ask, "b": {"action": "DENY"}}, [route("a"), route("b")])
    assert result == ask and called == ["a"]


async def test_a_result_that_is_not_a_hook_result_counts_as_deny_and_is_reported():
    result, called, errors = await run(
        {"a": {"action": "MAYBE"}, "b": {"action": "CONTINUE"}}, [route("a"), route("b")]
    )
    assert result["action"] == "DENY" and "MAYBE" in result["reason"]
    assert called == ["a"] and errors == ["a"]


def test_the_routing_table_orders_hooks_by_priority_then_registration():
    from amplifier_ipc.host.routing import RoutingTable

    def caps(*hooks: tuple[str, list[str], int]) -> dict[str, Any]:
        return {"hooks": [{"name": n, "events": e, "priority": p} for n, e, p in hooks]}

    table = RoutingTable.build(
        [
            ("s1", caps(("late", ["*"], 10), ("early", ["tool:pre"], 0))),
            ("s2", caps(("tie", ["tool:*", "tool:pre"], 0))),
        ]
    )
    assert [(h.service, h.name) for h in table.hooks_for("tool:pre")] == [
        ("s1", "early"),
        ("s2", "tie"),
        ("s1", "late"),
    ]
    assert [h.name for h in table.hooks_for("tool:post")] == ["late"]
