"""The scripted provider, served by a real providers-service process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from amplifier_ipc_protocol import InvalidParams, ProviderError


def _request(text: str = "hello there", tools: list[str] | None = None, system: str = "") -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": text}],
        "tools": [
            {"name": n, "description": f"the {n} tool", "parameters": {"type": "object"}} for n in tools or []
        ],
        "system": system,
    }


def _write(tmp_path: Path, text: str) -> str:
    (tmp_path / "script.yaml").write_text(text, encoding="utf-8")
    return "script.yaml"


async def test_without_a_script_it_names_the_last_user_message_and_the_tools_offered(
    service_factory: Any,
) -> None:
    host = await service_factory()
    response = await host.complete("scripted", _request("what is up", ["read_file", "bash"]))
    text = response["content"][0]["text"]
    assert text == 'Scripted reply to "what is up". Tools offered: read_file, bash.'
    assert response["finish_reason"] == "stop"
    assert response["usage"]["output_tokens"] > 0


async def test_text_is_streamed_token_by_token_tagged_with_the_request_id(service_factory: Any) -> None:
    host = await service_factory()
    response = await host.complete("scripted", _request("count the tokens please"))
    tokens = [p for m, p in host.notifications if m == "stream.provider.token"]
    assert len(tokens) > 3
    assert "".join(p["text"] for p in tokens) == response["content"][0]["text"]
    assert all(isinstance(p.get("request_id"), int) for p in tokens)
    kinds = [m.rsplit(".", 1)[1] for m, _ in host.notifications]
    assert kinds[0] == "content_block_start" and kinds[-1] == "content_block_end"


async def test_a_script_gives_text_thinking_and_tool_calls_in_order(
    service_factory: Any, tmp_path: Path
) -> None:
    script = _write(
        tmp_path,
        """
- thinking: "I should read it."
  text: "Reading."
  tool_calls:
    - {name: read_file, arguments: {path: README.md}}
    - {name: bash, arguments: {command: ls}, id: my_id}
- text: "All done."
""",
    )
    host = await service_factory()
    await host.call("configure", {"config": {"scripted": {"script": script}}})
    first = await host.complete("scripted", _request())
    assert first["content"] == [
        {"type": "thinking", "thinking": "I should read it.", "signature": "scripted:1"},
        {"type": "text", "text": "Reading."},
    ]
    assert first["tool_calls"] == [
        {"id": "call_1_1", "name": "read_file", "arguments": {"path": "README.md"}},
        {"id": "my_id", "name": "bash", "arguments": {"command": "ls"}},
    ]
    assert first["finish_reason"] == "tool_calls"
    assert host.streamed("thinking") == "I should read it."
    starts = [p for m, p in host.notifications if m == "stream.provider.tool_call_start"]
    assert [(p["id"], p["name"]) for p in starts] == [("call_1_1", "read_file"), ("my_id", "bash")]
    second = await host.complete("scripted", _request())
    assert second["content"] == [{"type": "text", "text": "All done."}]
    assert "tool_calls" not in second
    assert host.state["scripted.position"] == 2


async def test_the_position_survives_into_the_next_turns_process(
    service_factory: Any, tmp_path: Path
) -> None:
    script = _write(tmp_path, "- text: first\n- text: second\n")
    state: dict[str, Any] = {}
    config = {"config": {"scripted": {"script": script}}}
    turn1 = await service_factory(state=state)
    await turn1.call("configure", config)
    assert (await turn1.complete("scripted", _request()))["content"][0]["text"] == "first"
    await turn1.close()
    turn2 = await service_factory(state=state)
    await turn2.call("configure", config)
    assert (await turn2.complete("scripted", _request()))["content"][0]["text"] == "second"


async def test_an_error_entry_is_a_provider_error_with_retry_data(
    service_factory: Any, tmp_path: Path
) -> None:
    script = _write(
        tmp_path,
        "- error: {code: 429, retryable: true, retry_after: 2, message: slow down}\n"
        "- error: {code: 401}\n"
        "- text: recovered\n",
    )
    host = await service_factory()
    await host.call("configure", {"config": {"scripted": {"script": script}}})
    with pytest.raises(ProviderError) as first:
        await host.complete("scripted", _request())
    assert first.value.message == "slow down"
    assert first.value.data["retryable"] is True
    assert first.value.data["retry_after"] == 2
    assert first.value.data["status"] == 429
    with pytest.raises(ProviderError) as second:
        await host.complete("scripted", _request())
    assert second.value.data["retryable"] is False and second.value.data["status"] == 401
    assert (await host.complete("scripted", _request()))["content"][0]["text"] == "recovered"


async def test_a_call_past_the_end_of_the_script_fails_clearly(service_factory: Any, tmp_path: Path) -> None:
    script = _write(tmp_path, "- only one\n")
    host = await service_factory()
    await host.call("configure", {"config": {"scripted": {"script": script}}})
    await host.complete("scripted", _request())
    with pytest.raises(ProviderError) as info:
        await host.complete("scripted", _request())
    assert "has 1 entries and all were used" in info.value.message
    assert "model call 2" in info.value.message
    assert info.value.data["retryable"] is False


async def test_an_unmet_expectation_names_what_the_request_lacked(
    service_factory: Any, tmp_path: Path
) -> None:
    script = _write(
        tmp_path,
        """
- text: ok
  expect: {system_contains: "You are helpful", tools: [bash, read_file], last_user_contains: hello}
- text: never
  expect: {system_contains: "MODE: plan", tools_include: [write_file]}
""",
    )
    host = await service_factory()
    await host.call("configure", {"config": {"scripted": {"script": script}}})
    ok = await host.complete("scripted", _request("hello", ["read_file", "bash"], system="You are helpful."))
    assert ok["content"][0]["text"] == "ok"
    with pytest.raises(ProviderError) as info:
        await host.complete("scripted", _request("hello", ["read_file"], system="You are helpful."))
    assert "entry 2" in info.value.message
    assert "'MODE: plan'" in info.value.message
    assert "['write_file']" in info.value.message
    assert info.value.data["expectation_failed"] is True


async def test_record_writes_every_request_as_a_json_line(service_factory: Any, tmp_path: Path) -> None:
    script = _write(tmp_path, "- one\n- two\n")
    host = await service_factory()
    await host.call("configure", {"config": {"scripted": {"script": script, "record": "calls.jsonl"}}})
    await host.complete("scripted", _request("first", ["bash"], system="SYS"))
    await host.complete("scripted", _request("second"))
    lines = [json.loads(x) for x in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert [x["call"] for x in lines] == [1, 2]
    assert lines[0]["request"]["system"] == "SYS"
    assert lines[0]["request"]["tools"][0]["name"] == "bash"
    assert lines[1]["request"]["messages"] == [{"role": "user", "content": "second"}]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "does not exist"),
        ("text: not a list\n", "must be a non-empty YAML list"),
        ("- {text: hi, colour: red}\n", "unknown keys ['colour']"),
        ("- {tool_calls: [{arguments: {}}]}\n", "tool call 1 needs a name"),
        ("- {error: {code: slow}}\n", "error code must be an integer"),
        ("- {text: hi, error: {code: 500}}\n", "cannot also have text"),
        ("- {text: hi, expect: {sytem_contains: x}}\n", "expect has unknown keys ['sytem_contains']"),
        ("- [unclosed\n", "not valid YAML"),
    ],
)
async def test_a_bad_script_is_refused_at_configure_with_the_reason(
    service_factory: Any, tmp_path: Path, content: str | None, fragment: str
) -> None:
    if content is not None:
        _write(tmp_path, content)
    host = await service_factory()
    with pytest.raises(InvalidParams) as info:
        await host.call("configure", {"config": {"scripted": {"script": "script.yaml"}}})
    assert fragment in info.value.message
    assert "script.yaml" in info.value.message


async def test_provider_info_tells_the_context_window(service_factory: Any) -> None:
    host = await service_factory()
    info = await host.call("provider.info", {"provider": "scripted"})
    assert info["id"] == "scripted"
    assert info["defaults"]["context_window"] == info["models"][0]["context_window"] > 0
    assert "tools" in info["capabilities"]
