"""HostClient: what a component uses to call the Host (PROTOCOL §5)."""

from __future__ import annotations

import asyncio
from typing import Any

from amplifier_ipc_protocol.client import HostClient
from protocol_testkit import DEADLINE_S, close_pair, peer_pair, wait_until


async def test_each_helper_sends_its_method_with_its_params_and_returns_the_answer() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def recorder(method: str, answer: Any) -> Any:
        def handler(params: dict[str, Any]) -> Any:
            calls.append((method, params))
            return answer

        return handler

    answers: dict[str, Any] = {
        "state.get": {"value": [1]},
        "state.set": {"ok": True},
        "request.tool_execute": {"success": True, "output": "o", "error": None},
        "request.hook_emit": {"action": "CONTINUE"},
        "request.context_add_message": {"ok": True},
        "request.context_get_messages": {"messages": [{"role": "user", "content": "x"}]},
        "request.context_clear": {"ok": True},
        "request.provider_complete": {"content": []},
        "request.approval": {"decision": "allow"},
        "request.session_spawn": {"session_id": "c"},
        "request.session_resume": {"session_id": "c"},
    }
    host, service = await peer_pair(left_handlers={m: recorder(m, a) for m, a in answers.items()})
    client = HostClient(service)
    try:
        assert await client.state_get("k") == [1]
        await client.state_set("k", {"v": 1})
        assert (await client.tool_execute("t", {"a": 1}))["output"] == "o"
        assert await client.hook_emit("tool:pre", {"session_id": "s"}) == {"action": "CONTINUE"}
        await client.context_add_message({"role": "user", "content": "x"})
        assert await client.context_get_messages({"id": "p"}) == [{"role": "user", "content": "x"}]
        await client.context_clear()
        assert await client.provider_complete({"messages": []}, provider="p") == {"content": []}
        assert await client.approval("ok?", ["allow", "deny"], timeout=5) == "allow"
        assert await client.session_spawn("agent", "do it", context_depth="none") == {"session_id": "c"}
        assert await client.session_resume("c", "more") == {"session_id": "c"}
        assert await client.request("state.get", {"key": "z"}, timeout=DEADLINE_S) == {"value": [1]}
    finally:
        await close_pair(host, service)
    assert calls == [
        ("state.get", {"key": "k"}),
        ("state.set", {"key": "k", "value": {"v": 1}}),
        ("request.tool_execute", {"name": "t", "input": {"a": 1}}),
        ("request.hook_emit", {"event": "tool:pre", "data": {"session_id": "s"}}),
        ("request.context_add_message", {"message": {"role": "user", "content": "x"}}),
        ("request.context_get_messages", {"provider_info": {"id": "p"}}),
        ("request.context_clear", {}),
        ("request.provider_complete", {"request": {"messages": []}, "provider": "p"}),
        (
            "request.approval",
            {"prompt": "ok?", "options": ["allow", "deny"], "timeout": 5, "default": "deny"},
        ),
        ("request.session_spawn", {"agent": "agent", "instruction": "do it", "context_depth": "none"}),
        ("request.session_resume", {"session_id": "c", "instruction": "more"}),
        ("state.get", {"key": "z"}),
    ]


async def test_provider_stream_notifications_are_tagged_with_the_request_being_served() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    done = asyncio.Event()

    async def complete(params: dict[str, Any]) -> dict[str, Any]:
        await client.notify("stream.provider.token", {"text": "a"})
        await client.notify("stream.token", {"text": "not a provider stream"})
        done.set()
        return {}

    host, service = await peer_pair(
        right_handlers={"provider.complete": complete},
        on_notification=lambda method, params: seen.append((method, params)),
    )
    client = HostClient(service)
    try:
        request_id = host._next_id
        await host.request("provider.complete", {}, timeout=DEADLINE_S)
        await client.notify("stream.provider.token", {"text": "outside a request"})
        await wait_until(lambda: len(seen) == 3, "three notifications")
    finally:
        await close_pair(host, service)
    assert seen == [
        ("stream.provider.token", {"text": "a", "request_id": request_id}),
        ("stream.token", {"text": "not a provider stream"}),
        ("stream.provider.token", {"text": "outside a request"}),
    ]
