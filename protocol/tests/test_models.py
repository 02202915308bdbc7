"""The wire models (PROTOCOL §9): fields, unknown fields kept, exact round trip."""

from __future__ import annotations

from typing import Any

import pytest
from amplifier_ipc_protocol import models as m
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

_extra_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
_extras = st.dictionaries(st.text(min_size=1, max_size=6).map(lambda k: "x_" + k), _extra_values, max_size=3)


def _with(extra: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    return {**base, **extra}


_blocks = st.one_of(
    st.builds(lambda e, t: _with(e, {"type": "text", "text": t}), _extras, st.text()),
    st.builds(
        lambda e, t: _with(e, {"type": "thinking", "thinking": t, "signature": "sig"}), _extras, st.text()
    ),
    st.builds(lambda e: _with(e, {"type": "redacted_thinking", "data": "opaque"}), _extras),
    st.builds(lambda e: _with(e, {"type": "tool_call", "id": "c1", "name": "n", "input": {"a": 1}}), _extras),
    st.builds(lambda e: _with(e, {"type": "tool_result", "tool_call_id": "c1", "output": "ok"}), _extras),
    st.builds(lambda e: _with(e, {"type": "image", "source": {"type": "base64", "data": "AA=="}}), _extras),
    st.builds(lambda e: _with(e, {"type": "some_future_block", "payload": [1]}), _extras),
)
_messages = st.builds(
    lambda role, content, extra: _with(extra, {"role": role, "content": content}),
    st.sampled_from(["user", "assistant", "system", "tool"]),
    st.one_of(st.text(), st.lists(_blocks, max_size=4)),
    _extras,
)


@given(_messages)
def test_any_message_round_trips_exactly_with_its_unknown_fields(message: dict[str, Any]) -> None:
    assert m.Message.model_validate(message).to_wire() == message


@given(st.lists(_blocks, max_size=4), _extras)
def test_any_chat_response_round_trips_exactly(blocks: list[dict[str, Any]], extra: dict[str, Any]) -> None:
    response = {
        "content": blocks,
        "tool_calls": [{"id": "call_1", "name": "read_file", "arguments": {"path": "a"}}],
        "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7, "cache_read_tokens": 1},
        "finish_reason": "tool_use",
        **extra,
    }
    assert m.ChatResponse.model_validate(response).to_wire() == response


def test_the_lead_message_shapes_validate_and_round_trip() -> None:
    shapes = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "..", "signature": ".."},
                {"type": "text", "text": ".."},
            ],
            "tool_calls": [{"id": "call_1", "name": "read_file", "arguments": {"path": "x"}}],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "name": "read_file",
            "content": "<text>",
            "metadata": {"success": True},
        },
    ]
    for shape in shapes:
        assert m.Message.model_validate(shape).to_wire() == shape


def test_a_chat_request_keeps_every_field_of_the_contract() -> None:
    request = {
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"name": "t", "description": "d", "parameters": {"type": "object", "properties": {}}}],
        "system": "be brief",
        "model": "m",
        "max_output_tokens": 100,
        "temperature": 0.5,
        "reasoning_effort": "low",
        "stream": True,
        "tool_choice": "auto",
        "metadata": {"session_id": "s"},
    }
    parsed = m.ChatRequest.model_validate(request)
    assert parsed.to_wire() == request
    assert parsed.tools is not None and parsed.tools[0].parameters == {"type": "object", "properties": {}}


def test_an_integer_temperature_stays_an_integer_and_a_float_stays_a_float() -> None:
    assert m.ChatRequest.model_validate({"messages": [], "temperature": 1}).to_wire()["temperature"] == 1
    assert isinstance(
        m.ChatRequest.model_validate({"messages": [], "temperature": 1.0}).to_wire()["temperature"], float
    )


def test_a_block_of_an_unknown_type_is_kept_as_an_other_block() -> None:
    message = m.Message.model_validate({"role": "user", "content": [{"type": "audio", "data": "x"}]})
    assert isinstance(message.content, list)
    block = message.content[0]
    assert isinstance(block, m.OtherBlock) and block.type == "audio"


def test_message_text_joins_only_the_text_blocks() -> None:
    message = m.Message.model_validate(
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "a"},
                {"type": "thinking", "thinking": "t"},
                {"type": "text", "text": "b"},
            ],
        }
    )
    assert message.text() == "ab"
    assert m.Message(role="user", content="plain").text() == "plain"


def test_a_message_with_an_unknown_role_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="role"):
        m.Message.model_validate({"role": "robot", "content": "x"})


def test_tool_result_helpers_build_the_wire_shape() -> None:
    assert m.ToolResult.ok("done").to_wire() == {"success": True, "output": "done", "error": None}
    assert m.ToolResult.fail("nope", type="ValueError").to_wire() == {
        "success": False,
        "output": None,
        "error": {"message": "nope", "type": "ValueError"},
    }


def test_hook_result_defaults_follow_the_contract_and_are_not_sent_unless_set() -> None:
    result = m.HookResult.model_validate({"action": "DENY", "reason": "no"})
    assert result.action is m.HookAction.DENY
    assert result.context_injection_role == "user"
    assert result.approval_timeout == 300
    assert result.approval_default == "deny"
    assert result.to_wire() == {"action": "DENY", "reason": "no"}


def test_an_unknown_hook_action_is_refused() -> None:
    with pytest.raises(ValidationError):
        m.HookResult.model_validate({"action": "EXPLODE"})


def test_usage_and_describe_result_round_trip() -> None:
    usage = {
        "input_tokens": 1,
        "output_tokens": 2,
        "total_tokens": 3,
        "reasoning_tokens": 0,
        "cache_write_tokens": 5,
    }
    assert m.Usage.model_validate(usage).to_wire() == usage
    described = {"name": "svc", "protocol_version": 1, "capabilities": {"tools": []}}
    assert m.DescribeResult.model_validate(described).to_wire() == described


def test_a_tool_spec_without_parameters_gets_an_empty_object_schema() -> None:
    assert m.ToolSpec(name="t").parameters == {"type": "object", "properties": {}}
