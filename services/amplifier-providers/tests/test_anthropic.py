"""The anthropic provider, driven through the real ``anthropic`` SDK against a
loopback server speaking the Messages API (JSON and server-sent events)."""

from __future__ import annotations

from typing import Any

import pytest
from amplifier_ipc_protocol import ProviderError
from amplifier_providers.conversation import MISSING_RESULT_NOTE
from amplifier_providers.providers.anthropic import Anthropic

from .conftest import assert_vendor_error_mapped, chat_request

USAGE = {
    "input_tokens": 10,
    "output_tokens": 1,
    "cache_read_input_tokens": 50,
    "cache_creation_input_tokens": 7,
}


def _message(content: list[dict[str, Any]], stop: str = "end_turn") -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-4-5",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {**USAGE, "output_tokens": 12},
    }


def _sse(blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]], stop: str = "end_turn") -> dict[str, Any]:
    events: list[tuple[str | None, Any]] = [
        (
            "message_start",
            {"type": "message_start", "message": {**_message([], stop), "stop_reason": None, "usage": USAGE}},
        )
    ]
    for index, (start, deltas) in enumerate(blocks):
        events.append(
            ("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})
        )
        for delta in deltas:
            events.append(
                ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
            )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 12},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return {"sse": events}


def _text_block(*pieces: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return {"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in pieces]


def _key_sent(headers: dict[str, str]) -> str | None:
    """The key as the SDK sent it (``x-api-key``, or a bearer token in newer SDKs)."""
    return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ") or None


@pytest.fixture
def claude(vendor: Any, make_provider: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    return make_provider(Anthropic, {"base_url": vendor.url})


async def test_a_plain_answer_carries_text_usage_and_cache_counts(claude: Any, vendor: Any) -> None:
    vendor.queue({"json_body": _message([{"type": "text", "text": "Hello."}])})
    response = await claude.complete(chat_request(stream=False))
    assert response["content"] == [{"type": "text", "text": "Hello."}]
    assert response["finish_reason"] == "stop"
    assert response["usage"] == {
        "input_tokens": 67,
        "output_tokens": 12,
        "total_tokens": 79,
        "cache_read_tokens": 50,
        "cache_write_tokens": 7,
    }
    sent = vendor.received[0]
    assert sent.path == "/v1/messages"
    assert _key_sent(sent.headers) == "sk-ant-test"
    assert sent.body["system"] == [
        {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}
    ]
    assert sent.body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}
    ]
    assert sent.body["model"] == "claude-opus-4-5"
    assert "stream" not in sent.body or sent.body["stream"] is False


async def test_streamed_text_arrives_as_provider_token_notifications(claude: Any, vendor: Any) -> None:
    vendor.queue(_sse([_text_block("Hel", "lo ", "there.")]))
    response = await claude.complete(chat_request())
    assert response["content"] == [{"type": "text", "text": "Hello there."}]
    assert vendor.received[0].body["stream"] is True
    assert claude.host.kinds() == ["content_block_start", "token", "token", "token", "content_block_end"]
    assert claude.host.streamed() == "Hello there."


async def test_a_tool_call_round_trip_keeps_the_call_id(claude: Any, vendor: Any) -> None:
    tool_start = {"type": "tool_use", "id": "toolu_42", "name": "bash", "input": {}}
    deltas = [
        {"type": "input_json_delta", "partial_json": '{"comm'},
        {"type": "input_json_delta", "partial_json": 'and": "ls"}'},
    ]
    vendor.queue(_sse([_text_block("Listing."), (tool_start, deltas)], stop="tool_use"))
    tools = [
        {
            "name": "bash",
            "description": "run",
            "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
        }
    ]
    first = await claude.complete(chat_request(tools=tools))
    assert first["tool_calls"] == [{"id": "toolu_42", "name": "bash", "arguments": {"command": "ls"}}]
    assert first["finish_reason"] == "tool_calls"
    assert ("tool_call_start", {"id": "toolu_42", "name": "bash"}) in [
        (m.removeprefix("stream.provider."), p) for m, p in claude.host.notifications
    ]
    sent_tools = vendor.received[0].body["tools"]
    assert sent_tools[0]["input_schema"]["properties"]["command"] == {"type": "string"}
    assert sent_tools[-1]["cache_control"] == {"type": "ephemeral"}

    vendor.queue(_sse([_text_block("Two files.")]))
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": first["content"], "tool_calls": first["tool_calls"]},
        {"role": "tool", "tool_call_id": "toolu_42", "name": "bash", "content": "a b"},
    ]
    second = await claude.complete({"messages": history, "tools": tools})
    assert second["content"][0]["text"] == "Two files."
    messages = vendor.received[1].body["messages"]
    assert messages[1]["content"][1] == {
        "type": "tool_use",
        "id": "toolu_42",
        "name": "bash",
        "input": {"command": "ls"},
    }
    assert messages[2]["content"][0]["type"] == "tool_result"
    assert messages[2]["content"][0]["tool_use_id"] == "toolu_42"
    assert messages[2]["content"][0]["content"] == "a b"


async def test_thinking_streams_and_its_signature_is_sent_back_next_turn(claude: Any, vendor: Any) -> None:
    thinking = (
        {"type": "thinking", "thinking": "", "signature": ""},
        [
            {"type": "thinking_delta", "thinking": "Let me "},
            {"type": "thinking_delta", "thinking": "think."},
            {"type": "signature_delta", "signature": "sig-abc"},
        ],
    )
    vendor.queue(_sse([thinking, _text_block("Answer.")]))
    first = await claude.complete(chat_request(reasoning_effort="low"))
    assert first["content"][0] == {"type": "thinking", "thinking": "Let me think.", "signature": "sig-abc"}
    assert claude.host.streamed("thinking") == "Let me think."
    body = vendor.received[0].body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert body["max_tokens"] > 4096
    assert "temperature" not in body

    vendor.queue(_sse([_text_block("Again.")]))
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": "more"},
    ]
    await claude.complete({"messages": history, "reasoning_effort": "low"})
    replayed = vendor.received[1].body["messages"][1]["content"][0]
    assert replayed == {"type": "thinking", "thinking": "Let me think.", "signature": "sig-abc"}


async def test_a_dangling_tool_call_is_repaired_with_a_note(claude: Any, vendor: Any) -> None:
    vendor.queue({"json_body": _message([{"type": "text", "text": "ok"}])})
    history = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "toolu_9", "name": "bash", "arguments": {}}],
        },
        {"role": "user", "content": "never mind"},
    ]
    response = await claude.complete({"messages": history, "stream": False})
    sent = vendor.received[0].body["messages"]
    result = sent[2]["content"][0]
    assert result["type"] == "tool_result" and result["tool_use_id"] == "toolu_9"
    assert result["content"] == MISSING_RESULT_NOTE and result["is_error"] is True
    assert sent[2]["content"][1]["text"] == "never mind"
    assert "toolu_9" in response["metadata"]["repairs"][0]


@pytest.mark.parametrize(
    "case",
    [
        (429, {"retry-after": "7"}, True, 7.0, "rate limit"),
        (500, {}, True, None, "server error (500)"),
        (529, {}, True, None, "overloaded"),
        (401, {}, False, None, "set ANTHROPIC_API_KEY"),
        (400, {}, False, None, "rejected the request (400)"),
    ],
)
async def test_vendor_errors_become_provider_errors_with_retry_data(
    claude: Any, vendor: Any, case: tuple[int, dict[str, str], bool, float | None, str]
) -> None:
    status, headers, retryable, retry_after, fragment = case
    body = {"type": "error", "error": {"type": "some_error", "message": "vendor says no"}}
    reply = {"status": status, "json_body": body, "headers": headers}
    await assert_vendor_error_mapped(
        claude, vendor, reply, status=status, retryable=retryable, retry_after=retry_after, fragment=fragment
    )


async def test_an_overloaded_error_inside_the_stream_is_retryable(claude: Any, vendor: Any) -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    vendor.queue({"sse": [("error", error)]})
    with pytest.raises(ProviderError) as info:
        await claude.complete(chat_request())
    assert info.value.data["retryable"] is True
    assert info.value.data["status"] == 529


async def test_a_missing_key_names_the_variable_to_set(
    vendor: Any, make_provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    provider = make_provider(Anthropic, {"base_url": vendor.url})
    with pytest.raises(ProviderError) as info:
        await provider.complete(chat_request())
    assert "set ANTHROPIC_API_KEY" in info.value.message
    assert info.value.data["retryable"] is False
    assert vendor.received == []


async def test_the_service_process_streams_anthropic_answers_to_its_host(
    through_the_service: Any, vendor: Any
) -> None:
    reply = _sse([_text_block("From ", "the ", "service.")])
    await through_the_service(
        "anthropic", reply, config={"base_url": vendor.url}, env={"ANTHROPIC_API_KEY": "sk-ant-proc"}
    )
    assert _key_sent(vendor.received[0].headers) == "sk-ant-proc"


async def test_redacted_thinking_goes_back_unchanged_and_caching_can_be_off(
    vendor: Any, make_provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    claude = make_provider(Anthropic, {"base_url": vendor.url, "prompt_caching": False, "thinking": 2048})
    blocks = [
        {"type": "redacted_thinking", "data": "opaque=="},
        {"type": "tool_use", "id": "toolu_r", "name": "bash", "input": {"command": "ls"}},
    ]
    vendor.queue({"json_body": _message(blocks, stop="tool_use")})
    first = await claude.complete(chat_request(stream=False))
    assert first["content"] == [{"type": "redacted_thinking", "data": "opaque=="}]
    assert first["tool_calls"] == [{"id": "toolu_r", "name": "bash", "arguments": {"command": "ls"}}]
    assert vendor.received[0].body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert "cache_control" not in str(vendor.received[0].body)

    vendor.queue({"json_body": _message([{"type": "text", "text": "ok"}])})
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": first["content"], "tool_calls": first["tool_calls"]},
        {
            "role": "tool",
            "tool_call_id": "toolu_r",
            "name": "bash",
            "content": "x",
            "metadata": {"success": False},
        },
    ]
    await claude.complete({"messages": history, "stream": False})
    sent = vendor.received[1].body["messages"]
    assert sent[1]["content"][0] == {"type": "redacted_thinking", "data": "opaque=="}
    assert sent[2]["content"][0]["is_error"] is True
