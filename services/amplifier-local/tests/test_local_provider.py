"""The `local` provider through the real service process of its own venv, with
the real SmolLM2-135M-Instruct model: streaming, tool calls, info, errors."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from amplifier_ipc_protocol.conformance import format_report, run_conformance
from amplifier_ipc_protocol.errors import InvalidParams, ProviderError
from amplifier_ipc_protocol.schema import validate

ServiceFactory = Any

# Waiting for the first streamed token of a generation that has just started.
FIRST_TOKEN_DEADLINE_SECONDS = 60.0

WEATHER = {
    "name": "get_weather",
    "description": "Get the current weather of a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "the city's name"}},
        "required": ["city"],
    },
}
ADD = {
    "name": "add",
    "description": "Add two integers.",
    "parameters": {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    },
}


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


async def test_the_service_passes_the_protocol_conformance_check(serve_command: list[str]) -> None:
    report = await run_conformance(serve_command)
    assert report.passed, format_report(report)


async def test_describe_offers_one_provider_named_local_and_nothing_else(
    local_service: ServiceFactory,
) -> None:
    service = await local_service()
    described = await service.call("describe")
    assert described["name"] == "amplifier-local"
    assert described["protocol_version"] == 1
    capabilities = described["capabilities"]
    assert capabilities["providers"] == [{"name": "local"}]
    assert capabilities["tools"] == [] and capabilities["hooks"] == []
    assert capabilities["orchestrators"] == [] and capabilities["context_managers"] == []


async def test_provider_info_tells_the_model_name_and_its_context_window(
    local_service: ServiceFactory,
) -> None:
    service = await local_service()
    info = await service.call("provider.info", {})
    assert info["id"] == "local"
    assert "problem" not in info
    (model,) = info["models"]
    assert "smollm2" in model["id"].lower()
    # SmolLM2 was trained on 8192 tokens, which is also the default window.
    assert model["context_window"] == 8192
    assert info["defaults"]["context_window"] == 8192
    assert model["path"].endswith(".gguf")


async def test_provider_info_reports_a_smaller_configured_window(local_service: ServiceFactory) -> None:
    service = await local_service({"n_ctx": 2048})
    info = await service.call("provider.info", {})
    assert info["models"][0]["context_window"] == 2048


async def test_the_model_streams_real_tokens_that_make_up_its_answer(local_service: ServiceFactory) -> None:
    service = await local_service({"seed": 7})
    response = await service.complete(
        {"messages": [_user("Say hello in one short sentence.")], "max_output_tokens": 12}
    )
    tokens = service.of("stream.provider.token")
    assert len(tokens) >= 2, "a streamed answer comes in several pieces"
    assert all(isinstance(t["request_id"], int) for t in tokens)
    text = "".join(t["text"] for t in tokens)
    assert text.strip()
    assert response["content"] == [{"type": "text", "text": text}]
    assert service.of("stream.provider.content_block_start") == [
        {"type": "text", "index": 0, "request_id": tokens[0]["request_id"]}
    ]
    assert len(service.of("stream.provider.content_block_end")) == 1
    usage = response["usage"]
    assert usage["input_tokens"] > 5
    assert 0 < usage["output_tokens"] <= 12
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert response["finish_reason"] in ("stop", "length")


async def test_a_request_that_asks_for_no_stream_sends_no_notifications(
    local_service: ServiceFactory,
) -> None:
    service = await local_service()
    response = await service.complete({"messages": [_user("Hi")], "max_output_tokens": 4, "stream": False})
    assert response["content"][0]["text"]
    called = await service.complete(
        {
            "messages": [_user("Add 2 and 3.")],
            "tools": [ADD],
            "tool_choice": "required",
            "max_output_tokens": 64,
            "stream": False,
        }
    )
    assert called["tool_calls"][0]["name"] == "add"
    assert service.notifications == []


async def test_a_required_tool_choice_gives_a_parsable_call_of_an_offered_tool(
    local_service: ServiceFactory,
) -> None:
    service = await local_service()
    response = await service.complete(
        {
            "messages": [_user("What is the weather in Paris?")],
            "tools": [WEATHER, ADD],
            "tool_choice": "required",
            "max_output_tokens": 64,
        }
    )
    (call,) = response["tool_calls"]
    offered = {WEATHER["name"]: WEATHER, ADD["name"]: ADD}
    assert call["name"] in offered
    validate(call["arguments"], offered[call["name"]]["parameters"], "arguments")
    assert call["id"].startswith("call_")
    assert response["finish_reason"] == "tool_calls"
    assert response["content"] == []
    assert [(p["id"], p["name"]) for p in service.of("stream.provider.tool_call_start")] == [
        (call["id"], call["name"])
    ]
    assert service.of("stream.provider.token") == [], "a tool call is not streamed as text"


async def test_a_tool_choice_naming_a_tool_forces_that_tool(local_service: ServiceFactory) -> None:
    service = await local_service()
    response = await service.complete(
        {
            "messages": [_user("Add 2 and 3.")],
            "tools": [WEATHER, ADD],
            "tool_choice": {"type": "tool", "name": "add"},
            "max_output_tokens": 64,
        }
    )
    (call,) = response["tool_calls"]
    assert call["name"] == "add"
    validate(call["arguments"], ADD["parameters"], "arguments")


async def test_with_tools_on_offer_the_reply_is_a_valid_call_or_a_streamed_answer(
    local_service: ServiceFactory,
) -> None:
    service = await local_service({"seed": 1})
    response = await service.complete(
        {"messages": [_user("What is the weather in Rome?")], "tools": [WEATHER], "max_output_tokens": 64}
    )
    if response.get("tool_calls"):
        (call,) = response["tool_calls"]
        assert call["name"] == "get_weather"
        validate(call["arguments"], WEATHER["parameters"], "arguments")
        assert service.of("stream.provider.token") == []
    else:
        text = "".join(t["text"] for t in service.of("stream.provider.token"))
        assert response["content"] == [{"type": "text", "text": text}]
        assert not text.lstrip().startswith("{")


async def test_a_tool_result_in_the_history_leads_to_an_answer(local_service: ServiceFactory) -> None:
    service = await local_service()
    response = await service.complete(
        {
            "system": "You are a helpful assistant.",
            "messages": [
                _user("What is the weather in Paris?"),
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}],
                },
                {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "Sunny, 21 C"},
            ],
            "tools": [WEATHER],
            "tool_choice": "none",
            "max_output_tokens": 24,
        }
    )
    assert response["content"][0]["text"].strip()
    assert not response.get("tool_calls")
    assert response["usage"]["input_tokens"] > 20


async def test_a_cancelled_generation_leaves_the_service_ready_for_the_next(
    local_service: ServiceFactory,
) -> None:
    service = await local_service()
    long_one = asyncio.ensure_future(
        service.complete({"messages": [_user("Write a long story about a cat.")], "max_output_tokens": 400})
    )
    await asyncio.wait_for(service.notified.wait(), FIRST_TOKEN_DEADLINE_SECONDS)
    long_one.cancel()  # the Peer sends `cancel` for the request
    with pytest.raises(asyncio.CancelledError):
        await long_one
    response = await service.complete({"messages": [_user("Hi")], "max_output_tokens": 4})
    assert response["content"][0]["text"]


async def test_a_model_path_that_does_not_exist_is_a_provider_error_saying_so(
    local_service: ServiceFactory, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.gguf"
    service = await local_service({"model_path": str(missing)})
    with pytest.raises(ProviderError) as caught:
        await service.complete({"messages": [_user("Hi")]})
    assert str(missing) in caught.value.message and "does not exist" in caught.value.message
    assert caught.value.retryable is False
    info = await service.call("provider.info", {})
    assert "does not exist" in info["problem"]


async def test_a_file_that_is_not_a_gguf_model_is_a_provider_error_saying_so(
    local_service: ServiceFactory, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"this is not a model" * 100)
    service = await local_service({"model_path": str(junk)})
    with pytest.raises(ProviderError) as caught:
        await service.complete({"messages": [_user("Hi")]})
    assert "could not load" in caught.value.message and str(junk) in caught.value.message


async def test_a_conversation_longer_than_the_window_is_a_provider_error(
    local_service: ServiceFactory,
) -> None:
    service = await local_service({"n_ctx": 64})
    with pytest.raises(ProviderError) as caught:
        await service.complete({"messages": [_user("tell me about the sea " * 40)]})
    assert "context window of 64 tokens" in caught.value.message
    assert "n_ctx" in caught.value.message


async def test_an_unknown_config_key_is_refused_naming_it(local_service: ServiceFactory) -> None:
    service = await local_service()
    with pytest.raises(InvalidParams) as caught:
        await service.call("configure", {"config": {"local": {"model_file": "x.gguf"}}})
    assert "model_file" in caught.value.message and "model_path" in caught.value.message


async def test_a_tool_choice_naming_a_tool_not_offered_is_refused(local_service: ServiceFactory) -> None:
    service = await local_service()
    with pytest.raises(InvalidParams) as caught:
        await service.complete(
            {"messages": [_user("Hi")], "tools": [WEATHER], "tool_choice": {"type": "tool", "name": "rm"}}
        )
    assert "'rm'" in caught.value.message and "get_weather" in caught.value.message


def _mapped(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc to see loaded libraries")
async def test_llama_cpp_is_loaded_on_the_first_complete_not_for_describe(
    local_service: ServiceFactory,
) -> None:
    service = await local_service({"n_ctx": 1024})
    pid = service.process.pid
    assert "libllama" not in _mapped(pid), "describe and configure must not load llama.cpp"
    await service.complete({"messages": [_user("Hi")], "max_output_tokens": 2})
    maps = _mapped(pid)
    assert "libllama" in maps
    assert ".gguf" in maps, "the model's weights are mapped once it has answered"


async def test_the_service_answers_other_requests_while_the_model_generates(
    local_service: ServiceFactory,
) -> None:
    service = await local_service()
    generating = asyncio.ensure_future(
        service.complete({"messages": [_user("Write a long story about a dog.")], "max_output_tokens": 300})
    )
    await asyncio.wait_for(service.notified.wait(), FIRST_TOKEN_DEADLINE_SECONDS)
    assert await service.call("ping") == {}
    assert not generating.done(), "ping was answered while generation went on in its thread"
    tokens_before = len(service.of("stream.provider.token"))
    response = await generating
    assert len(service.of("stream.provider.token")) > tokens_before
    assert response["usage"]["output_tokens"] > 1


LONG_SYSTEM = "You answer questions about the sea. " + " ".join(
    f"Fact {i}: the tide rises and falls twice a day." for i in range(30)
)


async def _answer_in_new_process(local_service: ServiceFactory, config: dict[str, Any]) -> dict[str, Any]:
    service = await local_service(config)
    response = await service.complete(
        {"system": LONG_SYSTEM, "messages": [_user("What moves the tide?")], "max_output_tokens": 12}
    )
    await service.close()
    return response


async def test_the_next_process_reuses_the_prompt_kept_on_disk_and_answers_the_same(
    local_service: ServiceFactory, tmp_path: Path
) -> None:
    config = {"temperature": 0, "seed": 5, "prompt_cache_dir": str(tmp_path / "cache")}
    first = await _answer_in_new_process(local_service, config)
    assert first["usage"]["cache_read_tokens"] == 0
    assert len(list((tmp_path / "cache").glob("*.state"))) == 1
    second = await _answer_in_new_process(local_service, config)
    assert second["usage"]["cache_read_tokens"] == second["usage"]["input_tokens"] - 1
    assert second["content"] == first["content"]


@pytest.mark.parametrize("kept", [1000, 0.5], ids=["cut in its header", "cut in its state"])
async def test_a_damaged_prompt_cache_file_is_ignored(
    local_service: ServiceFactory, tmp_path: Path, kept: float
) -> None:
    config = {"temperature": 0, "seed": 5, "prompt_cache_dir": str(tmp_path / "cache")}
    first = await _answer_in_new_process(local_service, config)
    (state,) = (tmp_path / "cache").glob("*.state")
    data = state.read_bytes()
    state.write_bytes(data[: int(kept if kept >= 1 else len(data) * kept)])
    second = await _answer_in_new_process(local_service, config)
    assert second["usage"]["cache_read_tokens"] == 0
    assert second["content"] == first["content"]


async def test_prompt_cache_false_writes_nothing(local_service: ServiceFactory, tmp_path: Path) -> None:
    config = {"prompt_cache": False, "prompt_cache_dir": str(tmp_path / "cache")}
    response = await _answer_in_new_process(local_service, config)
    assert response["content"]
    assert not (tmp_path / "cache").exists()
