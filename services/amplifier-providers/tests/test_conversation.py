"""Repairing histories before any vendor sees them."""

from __future__ import annotations

from amplifier_providers.conversation import MISSING_RESULT_NOTE, prepare


def _call(call_id: str) -> dict[str, object]:
    return {"id": call_id, "name": "bash", "arguments": {"command": "ls"}}


def test_system_and_developer_messages_join_the_system_prompt() -> None:
    conversation = prepare(
        {
            "system": "Base.",
            "messages": [
                {"role": "system", "content": "Mode: plan."},
                {"role": "user", "content": "hi"},
                {"role": "developer", "content": [{"type": "text", "text": "Be terse."}]},
            ],
        }
    )
    assert conversation.system == "Base.\n\nMode: plan.\n\nBe terse."
    assert conversation.messages == [{"role": "user", "content": "hi"}]


def test_a_call_without_a_result_gets_a_note_before_the_next_user_message() -> None:
    conversation = prepare(
        {
            "messages": [
                {"role": "assistant", "content": "", "tool_calls": [_call("a"), _call("b")]},
                {"role": "tool", "tool_call_id": "b", "name": "bash", "content": "out"},
                {"role": "user", "content": "go on"},
            ]
        }
    )
    roles = [(m["role"], m.get("tool_call_id")) for m in conversation.messages]
    assert roles == [("assistant", None), ("tool", "b"), ("tool", "a"), ("user", None)]
    assert conversation.messages[2]["content"] == MISSING_RESULT_NOTE
    assert conversation.repairs == [
        "tool call a (bash) had no result; a note saying it was interrupted was added"
    ]


def test_a_result_without_a_call_becomes_user_text_naming_it() -> None:
    conversation = prepare(
        {"messages": [{"role": "tool", "tool_call_id": "zz", "name": "grep", "content": "x"}]}
    )
    assert conversation.messages == [
        {"role": "user", "content": "[Result of grep (call zz), whose call is not in this conversation]\nx"}
    ]
    assert "zz" in conversation.repairs[0]


def test_tool_call_blocks_in_content_count_as_calls_and_failed_results_are_marked() -> None:
    conversation = prepare(
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "t"},
                        {"type": "tool_call", "id": "c", "name": "bash", "input": {}},
                    ],
                },
                {
                    "role": "tool",
                    "tool_call_id": "c",
                    "name": "bash",
                    "content": {"exit": 1},
                    "metadata": {"success": False},
                },
            ]
        }
    )
    assistant, result = conversation.messages
    assert assistant["tool_calls"] == [{"id": "c", "name": "bash", "arguments": {}}]
    assert assistant["blocks"] == [{"type": "text", "text": "t"}]
    assert result["content"] == '{"exit": 1}' and result["is_error"] is True
    assert conversation.repairs == []
