"""The gemini provider, driven through the real ``google-genai`` SDK against a
loopback server speaking the Gemini API (JSON and server-sent events)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from amplifier_providers.providers.gemini import Gemini

from .conftest import TOOLS, assert_vendor_error_mapped, chat_request

USAGE = {
    "promptTokenCount": 40,
    "candidatesTokenCount": 6,
    "thoughtsTokenCount": 4,
    "totalTokenCount": 50,
    "cachedContentTokenCount": 16,
}
SIGNATURE = base64.b64encode(b"gemini-signature").decode()


def _response(parts: list[dict[str, Any]], finish: str | None = "STOP", usage: bool = True) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    body: dict[str, Any] = {"candidates": [candidate], "modelVersion": "gemini-2.5-flash"}
    if usage:
        body["usageMetadata"] = USAGE
    return body


def _sse(*chunks: list[dict[str, Any]]) -> dict[str, Any]:
    events = [(None, _response(parts, finish=None, usage=False)) for parts in chunks[:-1]]
    events.append((None, _response(chunks[-1])))
    return {"sse": events}


def _field(body: dict[str, Any], camel: str) -> Any:
    """A field as the SDK sent it: the API takes camelCase and snake_case, and the SDK uses both."""
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return body[camel] if camel in body else body[snake]


@pytest.fixture
def gemini(vendor: Any, make_provider: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", "gem-test")
    return make_provider(Gemini, {"base_url": vendor.url})


async def test_a_plain_answer_carries_text_and_usage(gemini: Any, vendor: Any) -> None:
    vendor.queue({"json_body": _response([{"text": "Hello."}])})
    response = await gemini.complete(chat_request(stream=False))
    assert response["content"] == [{"type": "text", "text": "Hello."}]
    assert response["finish_reason"] == "stop"
    assert response["usage"] == {
        "input_tokens": 40,
        "output_tokens": 10,
        "total_tokens": 50,
        "reasoning_tokens": 4,
        "cache_read_tokens": 16,
    }
    sent = vendor.received[0]
    assert sent.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert sent.headers["x-goog-api-key"] == "gem-test"
    assert sent.body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    assert sent.body["systemInstruction"]["parts"][0]["text"] == "Be brief."


async def test_streamed_text_and_thoughts_arrive_as_notifications(gemini: Any, vendor: Any) -> None:
    vendor.queue(
        _sse(
            [{"text": "Pondering.", "thought": True}],
            [{"text": "Hel"}],
            [{"text": "lo.", "thoughtSignature": SIGNATURE}],
        )
    )
    response = await gemini.complete(chat_request(reasoning_effort="low"))
    assert response["content"] == [
        {"type": "thinking", "thinking": "Pondering."},
        {"type": "text", "text": "Hello.", "signature": SIGNATURE},
    ]
    assert gemini.host.streamed() == "Hello."
    assert gemini.host.streamed("thinking") == "Pondering."
    sent = vendor.received[0]
    assert ":streamGenerateContent" in sent.path
    thinking = _field(sent.body["generationConfig"], "thinkingConfig")
    assert _field(thinking, "includeThoughts") is True and _field(thinking, "thinkingBudget") == 2048


async def test_a_function_call_round_trip_keeps_ids_and_signatures(gemini: Any, vendor: Any) -> None:
    call = {
        "functionCall": {"id": "fc_1", "name": "bash", "args": {"command": "ls"}},
        "thoughtSignature": SIGNATURE,
    }
    unnamed = {"functionCall": {"name": "bash", "args": {"command": "pwd"}}}
    vendor.queue(_sse([{"text": "Looking."}], [call, unnamed]))
    first = await gemini.complete(chat_request(tools=TOOLS, tool_choice={"name": "bash"}))
    calls = first["tool_calls"]
    assert calls[0] == {"id": "fc_1", "name": "bash", "arguments": {"command": "ls"}, "signature": SIGNATURE}
    assert calls[1]["id"].startswith("gemini-gen-") and calls[1]["arguments"] == {"command": "pwd"}
    assert first["finish_reason"] == "tool_calls"
    declared = vendor.received[0].body["tools"][0]["functionDeclarations"][0]
    assert declared["name"] == "bash" and _field(declared, "parametersJsonSchema")["properties"][
        "command"
    ] == {"type": "string"}
    assert vendor.received[0].body["toolConfig"]["functionCallingConfig"] == {
        "mode": "ANY",
        "allowedFunctionNames": ["bash"],
    }

    vendor.queue({"json_body": _response([{"text": "Done."}])})
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": first["content"], "tool_calls": calls},
        {"role": "tool", "tool_call_id": "fc_1", "name": "bash", "content": "a b"},
        {"role": "tool", "tool_call_id": calls[1]["id"], "name": "bash", "content": "/tmp"},
    ]
    await gemini.complete({"messages": history, "tools": TOOLS, "stream": False})
    contents = vendor.received[1].body["contents"]
    model_parts = contents[1]["parts"]
    assert model_parts[1]["functionCall"] == {"id": "fc_1", "name": "bash", "args": {"command": "ls"}}
    assert model_parts[1]["thoughtSignature"] == SIGNATURE
    assert "id" not in model_parts[2]["functionCall"]
    responses = contents[2]["parts"]
    assert responses[0]["functionResponse"] == {"id": "fc_1", "name": "bash", "response": {"output": "a b"}}
    assert "id" not in responses[1]["functionResponse"]


@pytest.mark.parametrize(
    "case",
    [
        (429, {"retry-after": "9"}, True, 9.0, "rate limit"),
        (500, {}, True, None, "server error (500)"),
        (401, {}, False, None, "set GEMINI_API_KEY or GOOGLE_API_KEY"),
        (400, {}, False, None, "rejected the request (400)"),
    ],
)
async def test_vendor_errors_become_provider_errors_with_retry_data(
    gemini: Any, vendor: Any, case: tuple[int, dict[str, str], bool, float | None, str]
) -> None:
    status, headers, retryable, retry_after, fragment = case
    body = {"error": {"code": status, "message": "vendor says no", "status": "SOMETHING"}}
    reply = {"status": status, "json_body": body, "headers": headers}
    await assert_vendor_error_mapped(
        gemini, vendor, reply, status=status, retryable=retryable, retry_after=retry_after, fragment=fragment
    )


async def test_the_service_process_streams_gemini_answers_to_its_host(
    through_the_service: Any, vendor: Any
) -> None:
    reply = _sse([{"text": "From "}], [{"text": "the service."}])
    await through_the_service(
        "gemini", reply, config={"base_url": vendor.url}, env={"GEMINI_API_KEY": "gem-proc"}
    )
    assert vendor.received[0].headers["x-goog-api-key"] == "gem-proc"
