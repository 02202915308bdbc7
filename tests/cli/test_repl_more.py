"""The REPL's slash commands and `session resume`, through a real pseudo-terminal.

Each command is checked by what it changes: the session's state.json and
metadata.json, the saved file, the forked session's folder, the text shown.
"""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import pexpect
import yaml

# prompt-toolkit draws "> " with style resets between the characters.
PROMPT = r">\x1b\[0m"
# A terminal's Enter key.
ENTER = "\r"
# Each step waits on the services of a real turn; generous for a loaded machine.
STEP_TIMEOUT_S = 60
CLI = str(Path(sys.executable).parent / "amplifier-ipc")
SESSION_ID = r"[0-9a-f-]{36}"
FILE_TOOLS = {"read_file", "write_file", "edit_file", "glob", "grep", "bash"}


def spawn(cli: Any, *args: str) -> pexpect.spawn:
    return pexpect.spawn(
        CLI,
        list(args),
        env={**cli.env, "TERM": "xterm", "COLUMNS": "200", "LINES": "50"},
        cwd=str(cli.cwd),
        encoding="utf-8",
        timeout=STEP_TIMEOUT_S,
        dimensions=(50, 200),
    )


def repl(cli: Any, script: Path) -> pexpect.spawn:
    return spawn(
        cli, "run", "--agent", "minimal", "--provider", "scripted", "-C", f"scripted.script={script}"
    )


def command(child: pexpect.spawn, line: str, *expected: str) -> None:
    """Send ``line``, wait for each expected pattern in order, then for the next prompt."""
    child.send(line + ENTER)
    for pattern in expected:
        child.expect(pattern)
    child.expect(PROMPT)


def current_session(child: pexpect.spawn) -> str:
    child.send("/status" + ENTER)
    child.expect(r"session\s+(" + SESSION_ID + ")")
    sid = str(child.match.group(1))
    child.expect(PROMPT)
    return sid


def leave(child: pexpect.spawn) -> None:
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def session_file(cli: Any, sid: str, name: str) -> dict[str, Any]:
    return dict(json.loads((cli.home / "sessions" / sid / name).read_text()))


def test_help_tools_and_agents_list_what_the_session_offers(cli: Any) -> None:
    child = repl(cli, cli.script("- text: unused\n"))
    try:
        child.expect(PROMPT)
        command(
            child,
            "/help",
            "/tools",
            "/agents",
            "/mode",
            "/modes",
            "/clear",
            "/save",
            "/rename",
            "/fork",
            "/exit",
        )
        child.logfile_read = io.StringIO()
        command(child, "/tools", r"\(foundation\)")
        shown = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", child.logfile_read.getvalue())
        listed = set(re.findall(r"(\w+) \(foundation\)", shown))
        assert listed >= FILE_TOOLS, shown
        child.send("/agents" + ENTER)
        child.expect(r"minimal\s*\x1b\[32m\(current\)")
        child.expect(PROMPT)
        command(child, "/frobnicate", "unknown command /frobnicate")
        leave(child)
    finally:
        child.close(force=True)


def test_mode_sets_and_clears_modes_active_in_the_session_state(cli: Any) -> None:
    modes = cli.cwd / ".amplifier" / "modes"
    modes.mkdir(parents=True)
    (modes / "careful.md").write_text("Be careful.\n")
    (modes / "fast.md").write_text("Be fast.\n")
    child = repl(cli, cli.script("- text: 'first answer'\n- text: 'second answer'\n"))
    try:
        child.expect(PROMPT)
        command(child, "/mode careful", "send a first message, then set the mode")
        command(child, "hello", "first answer")
        sid = current_session(child)
        command(child, "/modes", "careful", "fast")
        command(child, "/mode nope", "no mode named nope")
        assert session_file(cli, sid, "state.json").get("modes.active") is None
        command(child, "/mode careful", "mode: careful")
        assert session_file(cli, sid, "state.json")["modes.active"] == "careful"
        command(child, "/modes", r"careful \x1b\[32m\(active\)")
        # The next turn reads the state from disk and writes it back: the mode survives it.
        command(child, "again", "second answer")
        assert session_file(cli, sid, "state.json")["modes.active"] == "careful"
        command(child, "/mode", "active mode: careful")
        command(child, "/mode off", "mode: none")
        assert session_file(cli, sid, "state.json")["modes.active"] is None
        leave(child)
    finally:
        child.close(force=True)


def test_save_rename_fork_and_clear_act_on_the_session(cli: Any) -> None:
    child = repl(cli, cli.script("- text: 'the first answer'\n- text: 'the second answer'\n"))
    try:
        child.expect(PROMPT)
        command(child, "/save early.md", "nothing to save yet")
        command(child, "/fork", "nothing to fork yet")
        command(child, "/rename mine", r"/rename NAME, after the first message")
        assert not (cli.cwd / "early.md").exists()
        command(child, "first question", "the first answer")
        command(child, "second question", "the second answer")
        sid = current_session(child)
        command(child, "/save out.md", "saved out.md")
        saved = (cli.cwd / "out.md").read_text()
        assert saved.index("## user\n\nfirst question") < saved.index("the first answer")
        assert (
            saved.index("the first answer")
            < saved.index("second question")
            < saved.index("the second answer")
        )
        command(child, "/rename my session", "renamed to my session")
        assert session_file(cli, sid, "metadata.json")["name"] == "my session"
        child.send("/fork 1" + ENTER)
        child.expect(r"forked into (" + SESSION_ID + ")")
        fork_id = str(child.match.group(1))
        child.expect(PROMPT)
        assert fork_id != sid
        forked = session_file(cli, fork_id, "metadata.json")
        assert forked["forked_from"] == sid and forked["turns"] == 1
        shown = cli("session", "show", fork_id).stdout
        assert "the first answer" in shown and "second question" not in shown
        child.send("/clear" + ENTER)
        child.expect(r"new session ([0-9a-f-]{12})")
        fresh = str(child.match.group(1))
        child.expect(PROMPT)
        assert not sid.startswith(fresh)
        new_sid = current_session(child)
        assert new_sid.startswith(fresh)
        child.send("/status" + ENTER)
        child.expect(r"turns\s+0")
        child.expect(PROMPT)
        leave(child)
    finally:
        child.close(force=True)
    # The first session is untouched by /clear.
    assert session_file(cli, sid, "metadata.json")["turns"] == 2


def test_session_resume_opens_the_repl_on_the_session_and_continues_its_history(cli: Any) -> None:
    script = cli.script(
        "- text: 'first answer'\n"
        "- text: 'resumed answer'\n"
        "  expect: {messages_contain: ['first question', 'first answer', 'next question']}\n"
    )
    # resume takes its provider and config from the settings, as a later `run` would.
    (cli.cwd / ".amplifier").mkdir()
    (cli.cwd / ".amplifier" / "settings.yaml").write_text(
        yaml.safe_dump({"provider": "scripted", "config": {"scripted": {"script": str(script)}}})
    )
    first = cli("run", "--agent", "minimal", "--output", "json", "first question")
    assert first.returncode == 0, first.stderr
    sid = json.loads(first.stdout)["session_id"]
    child = spawn(cli, "session", "resume", sid[:10])
    try:
        child.expect(rf"resumed first question \({sid[:12]}\), 1 turns")
        child.expect(PROMPT)
        command(child, "next question", "resumed answer")
        assert current_session(child) == sid
        leave(child)
    finally:
        child.close(force=True)
    metadata = session_file(cli, sid, "metadata.json")
    assert metadata["turns"] == 2 and metadata["status"] == "completed"
    assert session_file(cli, sid, "state.json")["scripted.position"] == 2
