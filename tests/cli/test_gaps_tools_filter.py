"""The shipped `minimal` agent's `tools:` selection, through the real CLI and Host."""

from __future__ import annotations

from typing import Any

from .conftest import Cli

MINIMAL_TOOLS = ["read_file", "write_file", "edit_file", "apply_patch", "glob", "grep", "bash", "delegate"]


def test_a_minimal_run_offers_the_model_only_the_selected_tools_and_refuses_a_call_to_another(
    cli: Cli, parse_lines: Any
) -> None:
    script = cli.script(
        "- text: 'calling todo'\n"
        f"  expect: {{tools: [{', '.join(MINIMAL_TOOLS)}]}}\n"
        "  tool_calls: [{name: todo, arguments: {action: read}}]\n"
        "- text: 'done'\n"
    )
    result = cli.scripted(script)
    assert result.returncode == 0, result.stderr
    events = parse_lines(result.stdout)
    (refused,) = [e for e in events if e["type"] == "tool_result"]
    assert refused["name"] == "todo" and refused["success"] is False
    assert "no tool named 'todo' in this session" in refused["output"]["message"]
    assert events[-1]["status"] == "completed" and events[-1]["response"] == "done"


def test_tool_list_of_minimal_lists_the_selection_and_names_the_tools_left_out(cli: Cli) -> None:
    result = cli("tool", "list", "--agent", "minimal")
    assert result.returncode == 0, result.stderr
    # Table rows are "<tool> <service> <description>"; wrapped description lines have no service.
    rows = [line.split() for line in result.stdout.splitlines()]
    listed = {cells[0] for cells in rows if len(cells) > 1 and cells[1] in ("foundation", "providers")}
    assert listed == set(MINIMAL_TOOLS)
    assert "not offered (the agent's tools: selection): todo, web_fetch" in result.stderr
