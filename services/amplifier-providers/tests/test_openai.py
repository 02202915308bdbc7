"""The Chat Completions providers (openai, azure_openai, openai_compatible),
driven through the real ``openai`` SDK against a loopback server speaking the
Chat Completions wire format (JSON and server-sent events)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from amplifier_ipc_protocol import ProviderError
from amplifier_providers.conversation import MISSING_RESULT_NOTE
from amplifier_providers.providers.azure_openai import AzureOpenAI
from amplifier_providers.providers.openai import OpenAI
from amplifier_providers.providers.openai_compatible import OpenAICompatible

from .conftest import TOOLS, assert_vendor_error_mapped, chat_request

USAGE = {
    "prompt_tokens": 30,
    "completion_tokens": 8,
    "total_tokens": 38,
    "prompt_tokens_details": {"cached_tokens": 20},
    "completion_tokens_details": {"reasoning_tokens": 5},
}


def _completion(message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-5",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
        "usage": USAGE,
    }


def _chunk(delta: dict[str, Any] | None, finish: str | None = None, usage: Any = None) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-5",
    }
    chunk["choices"] = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def _sse(*deltas: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    chunks = [_chunk({"role": "assistant", "content": ""})]
    chunks += [_chunk(d) for d in deltas]
    chunks += [_chunk({}, finish), _chunk(None, usage=USAGE)]
    return {"sse": [(None, c) for c in chunks] + [(None, "[DONE]")]}


@pytest.fixture
def gpt(vendor: Any, make_provider: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-test")
    return make_provider(OpenAI, {"base_url": vendor.url + "/v1"})


async def test_a_plain_answer_carries_text_and_usage(gpt: Any, vendor: Any) -> None:
    vendor.queue({"json_body": _completion({"content": "Hello."})})
    response = await gpt.complete(chat_request(stream=False))
    assert response["content"] == [{"type": "text", "text": "Hello."}]
    assert response["usage"] == {
        "input_tokens": 30,
        "output_tokens": 8,
        "total_tokens": 38,
        "reasoning_tokens": 5,
        "cache_read_tokens": 20,
    }
    sent = vendor.received[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-openai-test"
    assert sent.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]
    assert sent.body["model"] == "gpt-5"
    assert "max_completion_tokens" in sent.body


async def test_streamed_text_arrives_as_provider_token_notifications(gpt: Any, vendor: Any) -> None:
    vendor.queue(_sse({"content": "Hel"}, {"content": "lo."}))
    response = await gpt.complete(chat_request(reasoning_effort="high"))
    assert response["content"] == [{"type": "text", "text": "Hello."}]
    assert response["usage"]["input_tokens"] == 30
    assert gpt.host.kinds() == ["content_block_start", "token", "token", "content_block_end"]
    body = vendor.received[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["reasoning_effort"] == "high"


async def test_a_tool_call_round_trip_keeps_the_call_id(gpt: Any, vendor: Any) -> None:
    vendor.queue(
        _sse(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_abc",
                        "type": "function",
                        "function": {"name": "bash", "arguments": ""},
                    }
                ]
            },
            {"tool_calls": [{"index": 0, "function": {"arguments": '{"command"'}}]},
            {"tool_calls": [{"index": 0, "function": {"arguments": ': "ls"}'}}]},
            finish="tool_calls",
        )
    )
    first = await gpt.complete(chat_request(tools=TOOLS, tool_choice="required"))
    assert first["tool_calls"] == [{"id": "call_abc", "name": "bash", "arguments": {"command": "ls"}}]
    assert first["finish_reason"] == "tool_calls"
    assert ("stream.provider.tool_call_start", {"id": "call_abc", "name": "bash"}) in gpt.host.notifications
    assert vendor.received[0].body["tools"][0]["function"]["name"] == "bash"
    assert vendor.received[0].body["tool_choice"] == "required"

    vendor.queue(_sse({"content": "Done."}))
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": first["content"], "tool_calls": first["tool_calls"]},
        {"role": "tool", "tool_call_id": "call_abc", "name": "bash", "content": "a b"},
    ]
    await gpt.complete({"messages": history, "tools": TOOLS})
    messages = vendor.received[1].body["messages"]
    assert messages[1]["tool_calls"][0]["id"] == "call_abc"
    assert json.loads(messages[1]["tool_calls"][0]["function"]["arguments"]) == {"command": "ls"}
    assert messages[2] == {"role": "tool", "tool_call_id": "call_abc", "content": "a b"}


async def test_a_dangling_tool_call_is_answered_with_a_note(gpt: Any, vendor: Any) -> None:
    vendor.queue({"json_body": _completion({"content": "ok"})})
    history = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "call_x", "name": "bash", "arguments": {}}],
        },
    ]
    response = await gpt.complete({"messages": history, "stream": False})
    assert vendor.received[0].body["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_x",
        "content": MISSING_RESULT_NOTE,
    }
    assert response["metadata"]["repairs"]


@pytest.mark.parametrize(
    "case",
    [
        (429, {"retry-after": "3"}, True, 3.0, "rate limit"),
        (500, {}, True, None, "server error (500)"),
        (503, {"retry-after-ms": "1500"}, True, 1.5, "server error (503)"),
        (401, {}, False, None, "set OPENAI_API_KEY"),
        (403, {}, False, None, "refused the request (403)"),
    ],
)
async def test_vendor_errors_become_provider_errors_with_retry_data(
    gpt: Any, vendor: Any, case: tuple[int, dict[str, str], bool, float | None, str]
) -> None:
    status, headers, retryable, retry_after, fragment = case
    reply = {
        "status": status,
        "json_body": {"error": {"message": "vendor says no", "type": "x"}},
        "headers": headers,
    }
    await assert_vendor_error_mapped(
        gpt, vendor, reply, status=status, retryable=retryable, retry_after=retry_after, fragment=fragment
    )


async def test_azure_calls_the_deployment_with_the_api_version_and_key(
    vendor: Any, make_provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key")
    azure = make_provider(
        AzureOpenAI, {"endpoint": vendor.url, "deployment": "my-gpt", "api_version": "2024-10-21"}
    )
    vendor.queue(_sse({"content": "From Azure."}))
    response = await azure.complete(chat_request())
    assert response["content"][0]["text"] == "From Azure."
    assert azure.host.streamed() == "From Azure."
    sent = vendor.received[0]
    assert sent.path == "/openai/deployments/my-gpt/chat/completions?api-version=2024-10-21"
    assert sent.headers["api-key"] == "azure-key"


async def test_azure_401_names_its_own_key_variable(
    vendor: Any, make_provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "wrong")
    azure = make_provider(AzureOpenAI, {"endpoint": vendor.url, "deployment": "d"})
    vendor.queue({"status": 401, "json_body": {"error": {"message": "Access denied", "code": "401"}}})
    with pytest.raises(ProviderError) as info:
        await azure.complete(chat_request())
    assert "set AZURE_OPENAI_API_KEY" in info.value.message and info.value.data["retryable"] is False


async def test_azure_without_a_deployment_says_what_to_configure(
    vendor: Any, make_provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k")
    azure = make_provider(AzureOpenAI, {"endpoint": vendor.url})
    with pytest.raises(ProviderError) as info:
        await azure.complete(chat_request())
    assert "azure_openai.deployment" in info.value.message
    assert vendor.received == []


async def test_a_compatible_server_needs_no_key_and_streams_reasoning_and_tools(
    vendor: Any, make_provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_COMPATIBLE_API_KEY", raising=False)
    local = make_provider(
        OpenAICompatible, {"base_url": vendor.url + "/v1", "model": "qwen", "context_window": 32768}
    )
    vendor.queue(
        _sse(
            {"reasoning_content": "Think "},
            {"reasoning_content": "first."},
            {"content": "Ok."},
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "bash", "arguments": "{}"},
                    }
                ]
            },
            finish="tool_calls",
        )
    )
    response = await local.complete(chat_request(tools=TOOLS))
    assert response["content"] == [
        {"type": "thinking", "thinking": "Think first."},
        {"type": "text", "text": "Ok."},
    ]
    assert response["tool_calls"] == [{"id": "c1", "name": "bash", "arguments": {}}]
    assert local.host.streamed("thinking") == "Think first."
    body = vendor.received[0].body
    assert body["model"] == "qwen" and "max_tokens" in body
    assert local.info()["defaults"]["context_window"] == 32768


async def test_a_compatible_server_without_base_url_says_what_to_configure(make_provider: Any) -> None:
    local = make_provider(OpenAICompatible, {"model": "qwen"})
    with pytest.raises(ProviderError) as info:
        await local.complete(chat_request())
    assert "openai_compatible.base_url" in info.value.message


async def test_a_refused_connection_is_a_retryable_error(
    make_provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    local = make_provider(OpenAICompatible, {"base_url": f"http://127.0.0.1:{port}/v1", "model": "m"})
    with pytest.raises(ProviderError) as info:
        await local.complete(chat_request())
    assert info.value.data["retryable"] is True and info.value.data["status"] is None
    assert "could not be reached" in info.value.message


async def test_the_service_process_streams_openai_answers_to_its_host(
    through_the_service: Any, vendor: Any
) -> None:
    reply = _sse({"content": "From "}, {"content": "the service."})
    await through_the_service(
        "openai", reply, config={"base_url": vendor.url + "/v1"}, env={"OPENAI_API_KEY": "sk-proc"}
    )
    assert vendor.received[0].headers["authorization"] == "Bearer sk-proc"


async def test_a_non_streamed_tool_call_with_broken_arguments_keeps_the_text(gpt: Any, vendor: Any) -> None:
    call = {"id": "call_b", "type": "function", "function": {"name": "bash", "arguments": '{"command": '}}
    vendor.queue({"json_body": _completion({"content": None, "tool_calls": [call]}, finish="tool_calls")})
    response = await gpt.complete(chat_request(tools=TOOLS, stream=False))
    assert response["tool_calls"] == [
        {"id": "call_b", "name": "bash", "arguments": {"_unparsed_arguments": '{"command": '}}
    ]
    assert response["finish_reason"] == "tool_calls" and response["content"] == []
