"""Building the model's conversation and reading its tool calls (pure code, no model)."""

from __future__ import annotations

import pytest
from amplifier_ipc_protocol.errors import InvalidParams
from amplifier_ipc_protocol.models import ChatRequest
from amplifier_local.prompt import chat_messages
from amplifier_local.settings import Settings
from amplifier_local.tool_calls import (
    ToolCallParseError,
    call_schema,
    instructions_for,
    parse_call,
    tool_mode,
)

WEATHER = {
    "name": "get_weather",
    "description": "Weather of a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
ADD = {"name": "add", "description": "", "parameters": {"type": "object", "properties": {}}}


def test_system_text_from_everywhere_is_joined_into_one_leading_system_message() -> None:
    request = ChatRequest.model_validate(
        {
            "system": "Be brief.",
            "messages": [
                {"role": "system", "content": "Context file."},
                {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
            ],
        }
    )
    assert chat_messages(request, "TOOLS") == [
        {"role": "system", "content": "Be brief.\n\nContext file.\n\nTOOLS"},
        {"role": "user", "content": "Hi"},
    ]


def test_tool_calls_and_results_become_turns_the_model_can_read() -> None:
    request = ChatRequest.model_validate(
        {
            "messages": [
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "hm"},
                        {"type": "text", "text": "Checking."},
                    ],
                    "tool_calls": [{"id": "c1", "name": "get_weather", "arguments": {"city": "Oslo"}}],
                },
                {"role": "tool", "tool_call_id": "c1", "name": "get_weather", "content": "Rain"},
            ]
        }
    )
    assert chat_messages(request) == [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": 'Checking.\n{"name": "get_weather", "arguments": {"city": "Oslo"}}'},
        {"role": "user", "content": "Result of get_weather:\nRain"},
    ]


def test_tool_choice_none_or_no_tools_means_plain_text() -> None:
    assert tool_mode([WEATHER], "none").tools == ()
    assert tool_mode([WEATHER], {"type": "none"}).tools == ()
    assert tool_mode([], "required").tools == ()


def test_tool_choice_required_and_named_force_a_call() -> None:
    assert tool_mode([WEATHER, ADD], "required").required
    assert tool_mode([WEATHER, ADD], "any").required
    named = tool_mode([WEATHER, ADD], {"type": "function", "function": {"name": "add"}})
    assert named.required and [t["name"] for t in named.tools] == ["add"]
    auto = tool_mode([WEATHER, ADD], "auto")
    assert not auto.required and len(auto.tools) == 2


def test_a_tool_choice_naming_an_unknown_tool_is_refused_listing_the_offered_ones() -> None:
    with pytest.raises(ValueError, match=r"'rm'.*get_weather, add"):
        tool_mode([WEATHER, ADD], {"name": "rm"})


def test_the_call_schema_names_each_tool_and_closes_its_arguments() -> None:
    schema = call_schema(tool_mode([WEATHER, ADD], "auto"))
    first, second = schema["oneOf"]
    assert first["properties"]["name"] == {"const": "get_weather"}
    assert first["properties"]["arguments"]["additionalProperties"] is False
    assert first["properties"]["arguments"]["required"] == ["city"]
    assert second["properties"]["arguments"] == {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
    }
    assert "oneOf" not in call_schema(tool_mode([WEATHER], "auto"))


def test_the_instructions_list_every_tool_and_the_reply_format() -> None:
    text = instructions_for(tool_mode([WEATHER, ADD], "auto"))
    assert "- get_weather: Weather of a city." in text and "- add: no description" in text
    assert '{"name": "<tool name>", "arguments": {...}}' in text
    assert "plain text" in text
    assert "must use a tool" in instructions_for(tool_mode([WEATHER], "required"))


def test_a_reply_that_is_a_call_of_an_offered_tool_is_parsed() -> None:
    mode = tool_mode([WEATHER], "auto")
    assert parse_call('{"name": "get_weather", "arguments": {"city": "Oslo"}}', mode) == (
        "get_weather",
        {"city": "Oslo"},
    )


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ('{"name": "get_weather", "argu', "not a complete JSON object"),
        ("[1, 2]", "not an object"),
        ('{"name": "rm", "arguments": {}}', "'rm', which is not an offered tool"),
        ('{"name": "get_weather", "arguments": "Oslo"}', "are not an object"),
    ],
)
def test_a_reply_that_is_not_a_valid_call_says_why(reply: str, why: str) -> None:
    with pytest.raises(ToolCallParseError, match=why):
        parse_call(reply, tool_mode([WEATHER], "auto"))


@pytest.mark.parametrize(
    ("config", "why"),
    [
        ({"model_file": "x"}, "unknown config key"),
        ({"n_ctx": 0}, "n_ctx must be a positive integer"),
        ({"n_ctx": "big"}, "n_ctx must be a positive integer"),
        ({"temperature": -1}, "temperature must be a number"),
        ({"model_path": ""}, "model_path must be the path of a GGUF file"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"prompt_cache": "yes"}, "prompt_cache must be true or false"),
        ({"prompt_cache_dir": ""}, "prompt_cache_dir must be a folder path"),
    ],
)
def test_bad_config_is_refused_saying_what_is_wrong(config: dict[str, object], why: str) -> None:
    with pytest.raises(InvalidParams, match=why):
        Settings.from_config(config)


def test_good_config_is_read() -> None:
    settings = Settings.from_config({"n_ctx": 2048, "temperature": 0, "n_threads": 2, "seed": 3})
    assert (settings.n_ctx, settings.temperature, settings.n_threads, settings.seed) == (2048, 0.0, 2, 3)
