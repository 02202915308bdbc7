"""The streaming orchestrator, run in the real service process against the fake Host."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from amplifier_ipc_protocol.errors import ProviderError

from .conftest import WAIT_S, FakeHost, text_response, tool_response

END_EVENTS = ["execution:end", "orchestrator:complete", "prompt:complete"]


def assert_every_tool_call_answered(transcript: list[dict[str, Any]]) -> None:
    """Each assistant tool call is followed, before the next assistant or user
    message, by exactly one tool message with its id."""
    for index, message in enumerate(transcript):
        if message["role"] != "assistant":
            continue
        wanted = [c["id"] for c in message.get("tool_calls") or []]
        answered = []
        for later in transcript[index + 1 :]:
            if later["role"] != "tool":
                break
            answered.append(later["tool_call_id"])
        assert answered == wanted, f"calls {wanted} answered by {answered}"


async def test_a_text_only_turn_streams_the_answer_and_fires_the_turn_events_in_order(
    start_host: Any,
) -> None:
    host: FakeHost = await start_host()
    host.provider_replies = [text_response("Hello there.")]
    result = await host.execute("hi")
    assert result == {"response": "Hello there."}
    assert host.event_names() == [
        "execution:start",
        "prompt:submit",
        "provider:request",
        "llm:request",
        "provider:response",
        *END_EVENTS,
    ]
    assert all(data["session_id"] == "test-session" for _, data in host.events)
    assert [m["role"] for m in host.transcript] == ["user", "assistant"]
    assert host.notified("stream.token") == [{"text": "Hello there."}]
    assert host.notified("stream.usage") == [{"usage": {"input_tokens": 10, "output_tokens": 5}}]
    request = host.provider_requests[0]
    assert request["system"] == "You are a test."
    assert request["messages"] == [{"role": "user", "content": "hi"}]


async def test_provider_stream_tokens_are_relayed_in_order_and_not_repeated(start_host: Any) -> None:
    host: FakeHost = await start_host()

    async def streaming(request: dict[str, Any], fake: FakeHost) -> dict[str, Any]:
        await fake.peer.notify(
            "stream.provider.content_block_start", {"type": "text", "index": 0, "request_id": 7}
        )
        for piece in ("Hel", "lo", "!"):
            await fake.peer.notify("stream.provider.token", {"text": piece, "request_id": 7})
        await fake.peer.notify(
            "stream.provider.content_block_end", {"type": "text", "index": 0, "request_id": 7}
        )
        return text_response("Hello!")

    host.provider_replies = [streaming]
    await host.execute("hi")
    assert host.notified("stream.token") == [{"text": "Hel"}, {"text": "lo"}, {"text": "!"}]
    assert host.notified("stream.content_block_start") == [{"type": "text", "index": 0}]
    assert "content_block:start" in host.event_names() and "content_block:end" in host.event_names()


async def test_one_tool_call_runs_the_real_tool_and_its_result_reaches_the_next_provider_call(
    start_host: Any, workdir: Any
) -> None:
    (workdir / "notes.txt").write_text("alpha\nbeta\n")
    host: FakeHost = await start_host()
    host.provider_replies = [
        tool_response(("call_1", "read_file", {"path": "notes.txt"})),
        text_response("It says alpha and beta."),
    ]
    result = await host.execute("what is in notes.txt?")
    assert result["response"] == "It says alpha and beta."
    tool_message = host.provider_requests[1]["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_1"
    assert "1\talpha" in tool_message["content"]
    assert tool_message["metadata"] == {"success": True}
    assert host.notified("stream.tool_call") == [
        {"id": "call_1", "name": "read_file", "input": {"path": "notes.txt"}}
    ]
    assert host.notified("stream.tool_result")[0]["success"] is True
    names = host.event_names()
    assert names.index("tool:pre") < names.index("tool:post")
    assert_every_tool_call_answered(host.transcript)


async def test_three_tool_calls_of_one_response_overlap_and_results_are_stored_in_call_order(
    start_host: Any,
) -> None:
    host: FakeHost = await start_host()
    started: list[str] = []
    all_started = asyncio.Event()
    finished: list[str] = []
    done = {tag: asyncio.Event() for tag in "abc"}

    def slow(tag: str, after: str | None) -> Any:
        async def run(tool_input: dict[str, Any]) -> dict[str, Any]:
            started.append(tag)
            if len(started) == 3:
                all_started.set()
            # Sequential execution never reaches three starts: this wait fails the test.
            await asyncio.wait_for(all_started.wait(), WAIT_S)
            if after is not None:  # finish in reverse order of the calls
                await asyncio.wait_for(done[after].wait(), WAIT_S)
            finished.append(tag)
            done[tag].set()
            return {"success": True, "output": f"result {tag}", "error": None}

        return run

    host.tool_handlers = {"a": slow("a", "b"), "b": slow("b", "c"), "c": slow("c", None)}
    host.provider_replies = [
        tool_response(("c1", "a", {}), ("c2", "b", {}), ("c3", "c", {})),
        text_response("done"),
    ]
    await host.execute("go")
    assert finished == ["c", "b", "a"]
    tool_messages = [m for m in host.transcript if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["c1", "c2", "c3"]
    assert [m["content"] for m in tool_messages] == ["result a", "result b", "result c"]


async def test_a_tool_pre_deny_gives_the_model_the_reason_and_the_tool_never_runs(start_host: Any) -> None:
    host: FakeHost = await start_host()
    host.hook_results["tool:pre"] = {"action": "DENY", "reason": "not on Fridays"}
    host.provider_replies = [tool_response(("c1", "bash", {"command": "echo hi"})), text_response("ok")]
    await host.execute("run it")
    assert host.tool_calls == []
    result = host.provider_requests[1]["messages"][-1]
    assert result["content"] == "Error: denied: not on Fridays"
    assert result["metadata"]["success"] is False


async def test_tool_pre_modify_replaces_the_input_and_tool_post_modify_replaces_the_result(
    start_host: Any,
) -> None:
    host: FakeHost = await start_host()

    async def echo(tool_input: dict[str, Any]) -> dict[str, Any]:
        return {"success": True, "output": f"got {tool_input['text']}", "error": None}

    host.tool_handlers["echo"] = echo
    host.hook_results["tool:pre"] = lambda d: {
        "action": "MODIFY",
        "data": {**d, "tool_input": {"text": "changed"}},
    }
    host.hook_results["tool:post"] = lambda d: {
        "action": "MODIFY",
        "data": {
            **d,
            "result": {"success": True, "output": d["result"]["output"] + " (checked)", "error": None},
        },
    }
    host.provider_replies = [tool_response(("c1", "echo", {"text": "original"})), text_response("ok")]
    await host.execute("go")
    assert host.tool_calls == [("echo", {"text": "changed"})]
    assert host.transcript[2]["content"] == "got changed (checked)"


async def test_an_ephemeral_injection_reaches_the_provider_but_never_the_transcript(start_host: Any) -> None:
    host: FakeHost = await start_host()
    host.hook_results["provider:request"] = {
        "action": "INJECT_CONTEXT",
        "context_injection": "EPHEMERAL NOTE",
        "ephemeral": True,
    }
    host.provider_replies = [tool_response(("c1", "todo", {"action": "read"})), text_response("ok")]
    await host.execute("go")
    for request in host.provider_requests:
        assert request["messages"][-1] == {
            "role": "user",
            "content": "EPHEMERAL NOTE",
            "metadata": {"injected": True},
        }
        assert sum("EPHEMERAL NOTE" in str(m) for m in request["messages"]) == 1
    assert "EPHEMERAL NOTE" not in str(host.transcript)


async def test_a_durable_prompt_submit_injection_is_stored_after_the_prompt(start_host: Any) -> None:
    host: FakeHost = await start_host()
    host.hook_results["prompt:submit"] = {"action": "INJECT_CONTEXT", "context_injection": "Mode: careful"}
    host.provider_replies = [text_response("ok")]
    await host.execute("go")
    assert [m["content"] for m in host.transcript[:2]] == ["go", "Mode: careful"]


async def test_append_to_last_tool_result_lands_in_the_tool_result_of_the_next_call_only(
    start_host: Any,
) -> None:
    host: FakeHost = await start_host()
    host.hook_results["tool:post"] = {
        "action": "INJECT_CONTEXT",
        "context_injection": "NOTE",
        "ephemeral": True,
        "append_to_last_tool_result": True,
    }
    host.provider_replies = [tool_response(("c1", "todo", {"action": "read"})), text_response("ok")]
    await host.execute("go")
    last = host.provider_requests[1]["messages"][-1]
    assert last["role"] == "tool" and last["content"].endswith("\n\nNOTE")
    assert "NOTE" not in str(host.transcript)


async def test_a_prompt_submit_deny_ends_the_turn_with_the_reason_without_a_provider_call(
    start_host: Any,
) -> None:
    host: FakeHost = await start_host()
    host.hook_results["prompt:submit"] = {"action": "DENY", "reason": "prompt too rude"}
    result = await host.execute("go away")
    assert result["response"] == "Prompt denied: prompt too rude"
    assert host.provider_requests == []
    assert host.event_names()[-3:] == END_EVENTS


@pytest.mark.parametrize(("decision", "runs"), [("allow", True), ("deny", False)])
async def test_ask_user_goes_to_request_approval_and_the_decision_is_honoured(
    start_host: Any, decision: str, runs: bool
) -> None:
    host: FakeHost = await start_host()

    async def echo(tool_input: dict[str, Any]) -> dict[str, Any]:
        return {"success": True, "output": "ran", "error": None}

    host.tool_handlers["echo"] = echo
    host.hook_results["tool:pre"] = {
        "action": "ASK_USER",
        "approval_prompt": "Allow echo?",
        "approval_options": ["allow", "deny"],
    }
    host.approvals = [decision]
    host.provider_replies = [tool_response(("c1", "echo", {})), text_response("ok")]
    await host.execute("go")
    assert host.approval_requests[0]["prompt"] == "Allow echo?"
    assert host.approval_requests[0]["options"] == ["allow", "deny"]
    assert (host.tool_calls != []) is runs
    expected_event = "approval:granted" if runs else "approval:denied"
    assert expected_event in host.event_names()
    content = host.transcript[2]["content"]
    assert content == "ran" if runs else content.startswith("Error: denied: the user answered 'deny'")


async def test_a_retryable_provider_error_is_retried_then_the_turn_succeeds(start_host: Any) -> None:
    host: FakeHost = await start_host()
    host.provider_replies = [
        ProviderError("rate limited", data={"retryable": True, "retry_after": 0, "status": 429}),
        text_response("after retry"),
    ]
    result = await host.execute("go")
    assert result["response"] == "after retry"
    assert len(host.provider_requests) == 2
    errors = [d for e, d in host.events if e == "provider:error"]
    assert errors[0]["retryable"] is True and errors[0]["status"] == 429 and errors[0]["will_retry"] is True
    retries = [d for e, d in host.events if e == "provider:retry"]
    assert retries[0]["delay"] == 0


async def test_a_non_retryable_provider_error_fails_the_turn_after_the_end_events(start_host: Any) -> None:
    host: FakeHost = await start_host()
    host.provider_replies = [ProviderError("bad key", data={"retryable": False, "status": 401})]
    with pytest.raises(ProviderError, match="bad key"):
        await host.execute("go")
    assert len(host.provider_requests) == 1
    assert host.event_names()[-3:] == END_EVENTS
    assert host.events[-3][1]["status"] == "failed"


async def test_retries_stop_at_max_retries(start_host: Any) -> None:
    host: FakeHost = await start_host()
    overloaded = ProviderError("overloaded", data={"retryable": True, "retry_after": 0, "status": 529})
    host.provider_replies = [overloaded, overloaded, overloaded]
    with pytest.raises(ProviderError, match="overloaded"):
        await host.execute("go", config={"max_retries": 2})
    assert len(host.provider_requests) == 3


async def test_max_iterations_ends_the_loop_with_a_clear_message_and_every_call_answered(
    start_host: Any,
) -> None:
    host: FakeHost = await start_host()
    host.provider_replies = [tool_response((f"c{i}", "todo", {"action": "read"})) for i in range(2)]
    result = await host.execute("loop forever", config={"max_iterations": 2})
    assert "after 2 iterations" in result["response"] and "max_iterations" in result["response"]
    assert len(host.provider_requests) == 2
    assert_every_tool_call_answered(host.transcript)
    assert host.notified("stream.usage") == [{"usage": {"input_tokens": 20, "output_tokens": 10}}]


async def test_graceful_cancel_lets_running_tools_finish_stores_their_results_and_stops(
    start_host: Any,
) -> None:
    host: FakeHost = await start_host()
    release = asyncio.Event()

    async def blocking(tool_input: dict[str, Any]) -> dict[str, Any]:
        await asyncio.wait_for(release.wait(), WAIT_S)
        return {"success": True, "output": "finished", "error": None}

    host.tool_handlers["work"] = blocking
    host.provider_replies = [
        tool_response(("c1", "work", {}), ("c2", "work", {})),
        text_response("never asked"),
    ]
    request_id, task = host.start_execute("go")
    await host.wait_for(lambda: len(host.tool_calls) == 2, "both tools to start")
    await host.peer.notify("cancel", {"id": request_id, "graceful": True})
    await host.peer.request("ping", {}, timeout=WAIT_S)  # the cancel has been read
    release.set()
    result = await asyncio.wait_for(task, WAIT_S)
    assert result["response"].startswith("Cancelled")
    assert len(host.provider_requests) == 1
    assert [m["content"] for m in host.transcript if m["role"] == "tool"] == ["finished", "finished"]
    assert_every_tool_call_answered(host.transcript)
    assert host.events[-1][1]["status"] == "cancelled"


async def test_immediate_cancel_answers_pending_calls_with_cancelled_results(start_host: Any) -> None:
    host: FakeHost = await start_host()

    async def forever(tool_input: dict[str, Any]) -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    host.tool_handlers["work"] = forever
    host.provider_replies = [tool_response(("c1", "work", {}), ("c2", "work", {}))]
    _, task = host.start_execute("go")
    await host.wait_for(lambda: len(host.tool_calls) == 2, "both tools to start")
    task.cancel()  # the Peer sends `cancel {id}` for the request
    await host.wait_for(lambda: "prompt:complete" in host.event_names(), "the end events after cancel")
    tool_messages = [m for m in host.transcript if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["c1", "c2"]
    assert all(m["metadata"] == {"success": False, "cancelled": True} for m in tool_messages)
    assert_every_tool_call_answered(host.transcript)
    assert "cancel:completed" in host.event_names()


async def test_an_unknown_tool_becomes_an_error_result_and_a_tool_error_event(start_host: Any) -> None:
    host: FakeHost = await start_host()
    host.provider_replies = [tool_response(("c1", "no_such_tool", {})), text_response("ok")]
    await host.execute("go")
    assert "no tool named 'no_such_tool'" in host.transcript[2]["content"]
    assert "tool:error" in host.event_names()


async def test_model_settings_and_tool_specs_reach_the_provider_request(start_host: Any) -> None:
    host: FakeHost = await start_host()
    host.provider_replies = [text_response("ok")]
    tools = [
        {"name": "read_file", "description": "Read.", "input_schema": {"type": "object", "properties": {}}}
    ]
    await host.execute("go", tools=tools, config={"model": "m-1", "max_output_tokens": 100, "temperature": 0})
    request = host.provider_requests[0]
    assert request["model"] == "m-1" and request["max_output_tokens"] == 100 and request["temperature"] == 0
    assert request["tools"] == [
        {"name": "read_file", "description": "Read.", "parameters": {"type": "object", "properties": {}}}
    ]


async def test_graceful_cancel_during_the_provider_call_answers_its_tool_calls_without_running_them(
    start_host: Any,
) -> None:
    host: FakeHost = await start_host()
    asked = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow_provider(request: dict[str, Any], fake: FakeHost) -> dict[str, Any]:
        asked.set()
        await asyncio.wait_for(cancelled.wait(), WAIT_S)
        return tool_response(("c1", "bash", {"command": "touch nope"}))

    host.provider_replies = [slow_provider]
    request_id, task = host.start_execute("go")
    await asyncio.wait_for(asked.wait(), WAIT_S)
    await host.peer.notify("cancel", {"id": request_id, "graceful": True})
    await host.peer.request("ping", {}, timeout=WAIT_S)  # the cancel has been read
    cancelled.set()
    result = await asyncio.wait_for(task, WAIT_S)
    assert result["response"].startswith("Cancelled")
    assert host.tool_calls == []
    assert host.transcript[-1]["metadata"] == {"success": False, "cancelled": True}
    assert_every_tool_call_answered(host.transcript)


async def test_a_hooks_user_message_is_shown_as_a_log_notification(start_host: Any) -> None:
    host: FakeHost = await start_host()
    host.hook_results["tool:pre"] = {
        "action": "CONTINUE",
        "user_message": "heads up",
        "user_message_level": "warning",
    }
    host.provider_replies = [tool_response(("c1", "todo", {"action": "read"})), text_response("ok")]
    await host.execute("go")
    assert {"level": "warning", "message": "heads up"} in host.notified("log")
