"""Expectations of scripted entries, checked against requests in process."""

from __future__ import annotations

from typing import Any

import pytest
from amplifier_providers.script import unmet_expectations

REQUEST: dict[str, Any] = {
    "system": "You are helpful. MODE: plan",
    "model": "scripted",
    "tools": [{"name": "bash"}, {"name": "read_file"}],
    "messages": [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": [{"type": "text", "text": "an answer"}]},
        {"role": "user", "content": [{"type": "text", "text": "second question"}]},
    ],
}


@pytest.mark.parametrize(
    "expect",
    [
        {"system_contains": ["You are helpful", "MODE: plan"]},
        {"system_not_contains": "MODE: act"},
        {"tools": ["read_file", "bash"]},
        {"tools_include": "bash", "tools_exclude": ["write_file"]},
        {"last_user_contains": "second"},
        {"messages_contain": ["first question", "an answer"]},
        {"message_count": 3},
        {"model": "scripted"},
        {},
    ],
)
def test_expectations_that_hold_report_nothing(expect: dict[str, Any]) -> None:
    assert unmet_expectations(expect, REQUEST) == []


@pytest.mark.parametrize(
    ("expect", "fragment"),
    [
        ({"system_contains": "MODE: act"}, "the system prompt should contain 'MODE: act'"),
        ({"system_not_contains": "MODE: plan"}, "should not contain 'MODE: plan'"),
        ({"tools": ["bash"]}, "the tools offered should be ['bash']; they were ['bash', 'read_file']"),
        ({"tools_exclude": ["bash"]}, "should not include ['bash']"),
        ({"last_user_contains": "first"}, "the last user message should contain 'first'"),
        ({"messages_contain": "nowhere"}, "some message should contain 'nowhere'"),
        ({"message_count": 2}, "there should be 2 messages; there were 3"),
        ({"model": "gpt"}, "the model should be 'gpt'; it was 'scripted'"),
    ],
)
def test_each_unmet_expectation_is_named(expect: dict[str, Any], fragment: str) -> None:
    problems = unmet_expectations(expect, REQUEST)
    assert len(problems) == 1 and fragment in problems[0]


def test_the_last_user_message_is_what_the_user_typed_not_context_a_hook_injected() -> None:
    # Regression: the foundation's <environment> block, injected after the
    # prompt for one call, was taken for the user's last message.
    request = {
        "messages": [
            {"role": "user", "content": "list the files"},
            {"role": "user", "content": "<environment>cwd: /x</environment>", "metadata": {"injected": True}},
        ]
    }
    assert unmet_expectations({"last_user_contains": "list the files"}, request) == []
    assert unmet_expectations({"last_user_contains": "environment"}, request) != []
