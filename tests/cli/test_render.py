"""The terminal renderer, into a StringIO console: exact output."""

from __future__ import annotations

import io

from rich.console import Console

from amplifier_ipc.cli.render import EventRenderer
from amplifier_ipc.host import events as ev


def render(*events: ev.Event) -> str:
    out = io.StringIO()
    renderer = EventRenderer(Console(file=out, width=120, color_system=None, highlight=False))
    for event in events:
        renderer.handle(event)
    return out.getvalue()


def test_tokens_stream_on_one_line_and_a_tool_call_starts_a_new_one() -> None:
    text = render(
        ev.Event(ev.TURN_START, {"agent": "a"}),
        ev.Event(ev.TOKEN, {"text": "Let me "}),
        ev.Event(ev.TOKEN, {"text": "look."}),
        ev.Event(ev.TOOL_CALL, {"id": "1", "name": "glob", "input": {"pattern": "*"}}),
        ev.Event(ev.TOOL_RESULT, {"id": "1", "name": "glob", "success": True, "output": "a.txt\nb.txt"}),
        ev.Event(ev.TOKEN, {"text": "Two files."}),
        ev.Event(
            ev.COMPLETE,
            {
                "response": "Two files.",
                "usage": {"input_tokens": 10, "output_tokens": 3},
                "status": "completed",
                "timings": {"total_ms": 1500},
            },
        ),
    )
    assert text == (
        "Let me look.\n"
        '⏺ glob({"pattern": "*"})\n'
        "  ⎿ a.txt\n"
        "    b.txt\n"
        "Two files.\n"
        "10 in / 3 out tokens · 1.5 s\n"
    )


def test_an_answer_that_did_not_stream_is_printed_at_the_end() -> None:
    text = render(
        ev.Event(ev.TURN_START, {}),
        ev.Event(ev.COMPLETE, {"response": "Whole answer.", "status": "completed"}),
    )
    assert text == "Whole answer.\n"


def test_long_results_are_cut_and_child_sessions_are_indented() -> None:
    long_output = "\n".join(f"line {i}" for i in range(20))
    text = render(
        ev.Event(
            ev.TURN_START, {"agent": "explorer"}, session_id="p-0a1b2c3d_explorer", parent_id="p", depth=1
        ),
        ev.Event(ev.TOOL_CALL, {"id": "9", "name": "grep", "input": {}}, parent_id="p", depth=1),
        ev.Event(
            ev.TOOL_RESULT,
            {"id": "9", "name": "grep", "success": False, "output": long_output},
            parent_id="p",
            depth=1,
        ),
    )
    lines = text.splitlines()
    # the child's own part of its id, not the parent's prefix every child shares
    assert lines[0] == "  ↳ explorer 0a1b2c3d"
    assert lines[1] == "  ⏺ grep({})"
    assert lines[2] == "    ⎿ line 0"
    assert lines[-1] == "      … (14 more lines)"


def test_errors_show_the_hint_and_cancelling_names_what_still_runs() -> None:
    text = render(
        ev.Event(ev.TOOL_CALL, {"id": "1", "name": "bash", "input": {"command": "sleep 9"}}),
        ev.Event(ev.CANCELLING, {"immediate": False, "running": []}),
        ev.Event(ev.ERROR, {"message": "the provider failed", "hint": "check the key"}),
    )
    assert "cancelling after the running tools finish (Ctrl-C again to stop now); running: bash" in text
    assert "error: the provider failed\nhint: check the key\n" in text


def test_the_approval_panel_numbers_the_options_and_marks_the_default() -> None:
    out = io.StringIO()
    renderer = EventRenderer(Console(file=out, width=60, color_system=None))
    renderer.approval_panel({"prompt": "Allow bash?", "options": ["allow", "deny"], "default": "deny"})
    text = out.getvalue()
    assert "approval needed" in text
    assert "1 allow" in text and "2 deny (default)" in text
