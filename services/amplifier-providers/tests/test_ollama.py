"""The ollama provider, driven through the real ``ollama`` SDK against a
loopback server speaking Ollama's /api/chat (JSON and streamed JSON lines)."""

from __future__ import annotations

from typing import Any

import pytest
from amplifier_providers.providers.ollama import Ollama

from .conftest import TOOLS, assert_vendor_error_mapped, chat_request


def _line(message: dict[str, Any], done: bool = False) -> dict[str, Any]:
    line: dict[str, Any] = {
        "model": "llama3.2",
        "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": "", **message},
        "done": done,
    }
    if done:
        line.update(done_reason="stop", prompt_eval_count=21, eval_count=6, total_duration=1, eval_duration=1)
    return line


def _stream(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"ndjson": [_line(m) for m in messages] + [_line({}, done=True)]}


@pytest.fixture
def llama(vendor: Any, make_provider: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    return make_provider(Ollama, {"base_url": vendor.url, "context_window": 16384})


async def test_a_plain_answer_carries_text_usage_and_the_context_window(llama: Any, vendor: Any) -> None:
    vendor.queue({"json_body": {**_line({"content": "Hello."}, done=True)}})
    response = await llama.complete(chat_request(stream=False))
    assert response["content"] == [{"type": "text", "text": "Hello."}]
    assert response["usage"] == {"input_tokens": 21, "output_tokens": 6, "total_tokens": 27}
    assert response["finish_reason"] == "stop"
    sent = vendor.received[0]
    assert sent.path == "/api/chat"
    assert sent.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]
    assert sent.body["options"]["num_ctx"] == 16384
    assert sent.body["stream"] is False
    assert llama.info()["defaults"]["context_window"] == 16384


async def test_streamed_text_and_thinking_arrive_as_notifications(llama: Any, vendor: Any) -> None:
    vendor.queue(_stream({"thinking": "Hmm."}, {"content": "Hel"}, {"content": "lo."}))
    response = await llama.complete(chat_request(reasoning_effort="high"))
    assert response["content"] == [
        {"type": "thinking", "thinking": "Hmm."},
        {"type": "text", "text": "Hello."},
    ]
    assert llama.host.streamed() == "Hello." and llama.host.streamed("thinking") == "Hmm."
    assert vendor.received[0].body["think"] == "high"


async def test_a_tool_call_round_trip_gives_ids_and_sends_results_by_name(llama: Any, vendor: Any) -> None:
    vendor.queue(_stream({"tool_calls": [{"function": {"name": "bash", "arguments": {"command": "ls"}}}]}))
    first = await llama.complete(chat_request(tools=TOOLS))
    call = first["tool_calls"][0]
    assert (
        call["id"].startswith("ollama-gen-")
        and call["name"] == "bash"
        and call["arguments"] == {"command": "ls"}
    )
    assert first["finish_reason"] == "tool_calls"
    assert ("stream.provider.tool_call_start", {"id": call["id"], "name": "bash"}) in llama.host.notifications
    assert vendor.received[0].body["tools"][0]["function"]["name"] == "bash"

    vendor.queue(_stream({"content": "Done."}))
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "", "tool_calls": first["tool_calls"]},
        {"role": "tool", "tool_call_id": call["id"], "name": "bash", "content": "a b"},
    ]
    await llama.complete({"messages": history, "tools": TOOLS})
    messages = vendor.received[1].body["messages"]
    assert messages[1]["tool_calls"] == [{"function": {"name": "bash", "arguments": {"command": "ls"}}}]
    assert messages[2] == {"role": "tool", "content": "a b", "tool_name": "bash"}


@pytest.mark.parametrize(
    ("status", "retryable", "fragment"),
    [
        (429, True, "rate limit"),
        (500, True, "server error (500)"),
        (401, False, "set OLLAMA_API_KEY"),
        (404, False, "does not know this model"),
    ],
)
async def test_server_errors_become_provider_errors(
    llama: Any, vendor: Any, status: int, retryable: bool, fragment: str
) -> None:
    reply = {"status": status, "json_body": {"error": "server says no"}}
    await assert_vendor_error_mapped(
        llama,
        vendor,
        reply,
        status=status,
        retryable=retryable,
        retry_after=None,
        fragment=fragment,
        vendor_message="server says no",
    )


async def test_the_service_process_streams_ollama_answers_to_its_host(
    through_the_service: Any, vendor: Any
) -> None:
    reply = _stream({"content": "From "}, {"content": "the service."})
    await through_the_service("ollama", reply, config={"base_url": vendor.url, "model": "qwen3"})
    assert vendor.received[0].body["model"] == "qwen3"
