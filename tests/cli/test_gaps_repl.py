"""REPL `/fork` without a turn number and `/save` without a file name, through a real pseudo-terminal.

Also their wrong uses: a turn out of range or not a number, a file in a
folder that does not exist. Each must answer and leave the REPL running.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pexpect

from .conftest import Cli

# prompt-toolkit draws "> " with style resets between the characters.
PROMPT = r">\x1b\[0m"
ENTER = "\r"
# Each step waits on the services of a real turn; generous for a loaded machine.
STEP_TIMEOUT_S = 60
CLI = str(Path(sys.executable).parent / "amplifier-ipc")
SESSION_ID = r"[0-9a-f-]{36}"


def repl(cli: Cli, script: Path) -> pexpect.spawn:
    return pexpect.spawn(
        CLI,
        ["run", "--agent", "minimal", "--provider", "scripted", "-C", f"scripted.script={script}"],
        env={**cli.env, "TERM": "xterm", "COLUMNS": "200", "LINES": "50"},
        cwd=str(cli.cwd),
        encoding="utf-8",
        timeout=STEP_TIMEOUT_S,
        dimensions=(50, 200),
    )


def command(child: pexpect.spawn, line: str, *expected: str) -> None:
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


def transcript(cli: Cli, sid: str) -> list[dict[str, Any]]:
    path = cli.home / "sessions" / sid / "transcript.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def metadata(cli: Cli, sid: str) -> dict[str, Any]:
    return dict(json.loads((cli.home / "sessions" / sid / "metadata.json").read_text()))


def test_fork_without_a_turn_copies_the_whole_session_and_a_bad_turn_is_refused(cli: Cli) -> None:
    child = repl(cli, cli.script("- text: 'answer one'\n- text: 'answer two'\n- text: 'answer three'\n"))
    try:
        child.expect(PROMPT)
        command(child, "question one", "answer one")
        command(child, "question two", "answer two")
        sid = current_session(child)
        child.send("/fork" + ENTER)
        child.expect(r"forked into (" + SESSION_ID + r") \(2 turns\)")
        fork_id = str(child.match.group(1))
        child.expect(PROMPT)
        assert fork_id != sid
        forked = metadata(cli, fork_id)
        assert forked["forked_from"] == sid
        assert forked["turns"] == forked["forked_at_turn"] == 2
        assert transcript(cli, fork_id) == transcript(cli, sid)
        shown = cli("session", "show", fork_id).stdout
        assert "answer one" in shown and "question two" in shown and "answer two" in shown

        for wrong in ("3", "0", "two"):
            command(child, f"/fork {wrong}", rf"/fork {wrong}: the turn must be a number from 1 to 2")
        sessions = {p.name for p in (cli.home / "sessions").iterdir()}
        # The REPL is still running on the same session: the next turn continues it.
        command(child, "question three", "answer three")
        assert current_session(child) == sid
        leave(child)
    finally:
        child.close(force=True)
    assert {p.name for p in (cli.home / "sessions").iterdir()} == sessions
    assert metadata(cli, sid)["turns"] == 3
    assert metadata(cli, fork_id)["turns"] == 2


def test_save_without_a_file_name_writes_session_id_md_in_the_current_folder(cli: Cli) -> None:
    child = repl(cli, cli.script("- text: 'the saved answer'\n- text: 'a later answer'\n"))
    try:
        child.expect(PROMPT)
        command(child, "/save", "nothing to save yet")
        assert not list(cli.cwd.glob("session-*.md"))
        command(child, "the saved question", "the saved answer")
        sid = current_session(child)
        command(child, "/save", rf"saved session-{sid[:8]}\.md \(2 messages\)")
        saved = (cli.cwd / f"session-{sid[:8]}.md").read_text()
        assert saved.index("## user\n\nthe saved question") < saved.index("## assistant\n\nthe saved answer")
        # Saving again after another turn replaces the file with the longer transcript.
        command(child, "a later question", "a later answer")
        command(child, "/save", rf"saved session-{sid[:8]}\.md \(4 messages\)")
        assert "a later answer" in (cli.cwd / f"session-{sid[:8]}.md").read_text()
        assert [p.name for p in cli.cwd.glob("session-*.md")] == [f"session-{sid[:8]}.md"]
        leave(child)
    finally:
        child.close(force=True)


def test_save_into_a_folder_that_does_not_exist_says_so_and_the_repl_goes_on(cli: Cli) -> None:
    child = repl(cli, cli.script("- text: 'an answer'\n- text: 'still here'\n"))
    try:
        child.expect(PROMPT)
        command(child, "a question", "an answer")
        command(
            child,
            "/save missing/out.md",
            r"cannot save missing/out\.md: No such file or directory",
            "give a file in an existing folder",
        )
        command(child, f"/save {cli.cwd}", "cannot save", "Is a directory")
        command(child, "go on", "still here")
        leave(child)
    finally:
        child.close(force=True)
    assert not (cli.cwd / "missing").exists()
