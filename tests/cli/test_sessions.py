"""session list/show/fork/delete/cleanup on sessions made by real runs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def two_turn_session(cli: Any, parse_lines: Any) -> str:
    script = cli.script("- text: 'first answer'\n- text: 'second answer'\n")
    first = parse_lines(cli.scripted(script, prompt="first question").stdout)[-1]
    cli.scripted(script, "--session", first["session_id"], prompt="second question")
    return str(first["session_id"])


def test_session_list_shows_the_session_newest_first_with_its_turns(cli: Any, two_turn_session: str) -> None:
    result = cli("session", "list")
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if two_turn_session[:12] in line)
    assert "first question" in row and "minimal" in row and " 2 " in row and "completed" in row


def test_session_show_prints_the_transcript(cli: Any, two_turn_session: str) -> None:
    result = cli("session", "show", two_turn_session[:10])
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert (
        text.index("first question")
        < text.index("first answer")
        < text.index("second question")
        < text.index("second answer")
    )


def test_fork_at_a_turn_keeps_only_that_many_turns(cli: Any, two_turn_session: str) -> None:
    result = cli("session", "fork", two_turn_session, "--at-turn", "1")
    assert result.returncode == 0, result.stderr
    fork_id = result.stdout.strip()
    shown = cli("session", "show", fork_id).stdout
    assert "first answer" in shown and "second question" not in shown
    metadata = json.loads((cli.home / "sessions" / fork_id / "metadata.json").read_text())
    assert metadata["forked_from"] == two_turn_session and metadata["turns"] == 1
    out_of_range = cli("session", "fork", two_turn_session, "--at-turn", "5")
    assert out_of_range.returncode == 2 and "--at-turn must be between 1 and 2" in out_of_range.stderr


def test_an_ambiguous_prefix_lists_the_matches(cli: Any, two_turn_session: str) -> None:
    fork_id = cli("session", "fork", two_turn_session).stdout.strip()
    sessions = cli.home / "sessions"
    # Two ids that share a prefix, made by renaming the fork's folder.
    twin = two_turn_session[:4] + "zz-twin"
    (sessions / fork_id).rename(sessions / twin)
    result = cli("session", "show", two_turn_session[:4])
    assert result.returncode == 2
    assert "matches several sessions" in result.stderr and twin in result.stderr


@pytest.mark.parametrize("bad", ["../etc", "a/b", ".."])
def test_ids_with_path_tricks_are_refused(cli: Any, bad: str) -> None:
    result = cli("session", "show", bad)
    assert result.returncode == 2
    assert "invalid session id" in result.stderr


def test_an_unknown_id_says_how_to_list_sessions(cli: Any) -> None:
    result = cli("session", "delete", "ffffffff")
    assert result.returncode == 2
    assert "no session id starts with 'ffffffff'" in result.stderr
    assert "session list" in result.stderr


def test_delete_and_cleanup_remove_sessions(cli: Any, two_turn_session: str) -> None:
    fork_id = cli("session", "fork", two_turn_session).stdout.strip()
    assert cli("session", "delete", fork_id).returncode == 0
    assert not (cli.home / "sessions" / fork_id).exists()
    metadata_path = cli.home / "sessions" / two_turn_session / "metadata.json"
    metadata = json.loads(metadata_path.read_text())
    metadata["updated"] = "2000-01-01T00:00:00.000+00:00"
    metadata_path.write_text(json.dumps(metadata))
    result = cli("session", "cleanup", "--older-than", "30")
    assert result.returncode == 0
    assert not Path(cli.home / "sessions" / two_turn_session).exists()
    assert "deleted" in result.stderr


def test_resume_without_a_terminal_points_to_the_single_shot_form(cli: Any, two_turn_session: str) -> None:
    result = cli("session", "resume", two_turn_session)
    assert result.returncode == 2
    assert f"amplifier-ipc run --session {two_turn_session} PROMPT" in result.stderr
    assert os.path.isdir(cli.home / "sessions" / two_turn_session)
