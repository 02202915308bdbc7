"""Expectations of scripted entries, checked against requests in process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
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


def test_a_script_read_before_is_parsed_from_its_cached_json_without_importing_yaml(tmp_path: Path) -> None:
    script = tmp_path / "script.yaml"
    script.write_text("- text: first\n- tool_calls: [{id: c1, name: bash, arguments: {command: ls}}]\n")
    program = (
        "import sys; from amplifier_providers.script import load_script; "
        f"entries = load_script({str(script)!r}); "
        "print('yaml' in sys.modules, [e.text for e in entries], entries[1].tool_calls[0]['name'])"
    )
    env = {**os.environ, "AMPLIFIER_HOME": str(tmp_path / "home")}
    runs = [
        subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True) for _ in "12"
    ]
    assert [run.stdout.split()[0] for run in runs] == ["True", "False"], [run.stderr for run in runs]
    assert runs[0].stdout == runs[1].stdout.replace("False", "True", 1)
    script.write_text("- text: changed\n")
    changed = subprocess.run(
        [sys.executable, "-c", program.replace("[1].tool_calls[0]['name']", "[0].text")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert changed.stdout.split()[0] == "True" and "changed" in changed.stdout, "new content is parsed again"
