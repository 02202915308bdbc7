"""Least privilege, each guard through a real `amplifier-ipc run`: keys, write paths, bash, approvals, redaction.

Dangerous commands are always wrapped so that they would be harmless if a
guard failed (`echo rm -rf /` matches the profile as `rm -rf /` does).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

# What PROTOCOL §8 gives every service, plus what Python or the OS add on their own.
BASE_ENV = {
    "PATH",
    "HOME",
    "LANG",
    "TERM",
    "TMPDIR",
    "AMPLIFIER_HOME",
    "AMPLIFIER_SESSION_ID",
    "LC_CTYPE",
    "PWD",
}
# Shaped like a real Anthropic key so that the redaction patterns must catch it; not a real key.
FAKE_KEY = "sk-ant-api03-FAKEfakeFAKEfake0123456789abcdefghijKLMNOPqrstuv-leakcheck"


def tool_calls(*calls: tuple[str, dict[str, Any]]) -> str:
    listed = ", ".join(json.dumps({"name": name, "arguments": arguments}) for name, arguments in calls)
    return f"- text: 'Working.'\n  tool_calls: [{listed}]\n- text: 'Done.'\n"


def by_command(turn: Any) -> dict[str, dict[str, Any]]:
    """bash results keyed by their command (parallel calls finish in any order)."""
    commands = {c["id"]: c["input"]["command"] for c in turn.of_type("tool_call")}
    return {commands[r["id"]]: r for r in turn.of_type("tool_result")}


def by_call(turn: Any) -> list[dict[str, Any]]:
    """Tool results in the order the model asked for them."""
    results = {r["id"]: r for r in turn.of_type("tool_result")}
    return [results[c["id"]] for c in turn.of_type("tool_call")]


def test_a_tool_service_sees_no_provider_key_from_the_environment_or_keys_env(cli, h):
    keys_file = cli.home / "keys.env"
    keys_file.write_text("GEMINI_API_KEY=gemini-from-keys-env\n")
    os.chmod(keys_file, 0o600)
    try:
        cli.env.update(
            ANTHROPIC_API_KEY="sk-ant-from-environment", OPENAI_API_KEY="sk-openai-from-environment"
        )
        turn = cli.turn(tool_calls(("env_probe", {"names": [*h.PROVIDER_KEYS]})))
    finally:
        keys_file.unlink()
    assert turn.returncode == 0, turn.stdout[-2000:] + turn.stderr[-2000:]
    seen = json.loads(turn.tool_result("env_probe")["output"])
    assert seen["present"] == []
    assert set(seen["visible"]) <= BASE_ENV, sorted(set(seen["visible"]) - BASE_ENV)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "target.txt").write_text("original\n")
    return folder


def test_file_tools_cannot_write_outside_the_working_directory_even_through_symlinks(cli, h, outside):
    (cli.cwd / "linked-dir").symlink_to(outside)
    (cli.cwd / "linked-file.txt").symlink_to(outside / "target.txt")
    (cli.cwd / ".git").mkdir()
    calls = [
        ("write_file", {"path": "../escape.txt", "content": "x"}),
        ("write_file", {"path": str(outside / "absolute.txt"), "content": "x"}),
        ("write_file", {"path": "linked-dir/through-link.txt", "content": "x"}),
        ("write_file", {"path": "linked-file.txt", "content": "overwritten\n"}),
        ("edit_file", {"path": "linked-file.txt", "old_string": "original", "new_string": "edited"}),
        ("write_file", {"path": ".git/config", "content": "x"}),
    ]
    turn = cli.turn(tool_calls(*calls), "--approval", "auto")
    assert turn.returncode == 0, turn.stdout[-2000:]
    results = by_call(turn)
    assert [r["success"] for r in results] == [False] * len(calls), json.dumps(results)[:3000]
    cwd = cli.cwd.resolve()
    rule = f"it is outside the allowed write paths ({cwd}); write inside them, or add the folder to files config allowed_write_paths"
    messages = [json.dumps(r["output"]) for r in results]
    for (_, arguments), message in zip(calls[:5], messages[:5], strict=True):
        assert f"writing {arguments['path']} is not allowed: {rule}" in message
    assert (
        f"writing .git/config is denied: it is under {cwd / '.git'} (files config denied_write_paths)"
        in messages[5]
    )
    assert sorted(p.name for p in outside.iterdir()) == ["target.txt"]
    assert (outside / "target.txt").read_text() == "original\n"
    assert not (cli.cwd.parent / "escape.txt").exists() and not (cli.cwd / ".git" / "config").exists()


DANGEROUS = {
    "standard": [
        ("echo rm -rf /", "deletes the root or home folder"),
        ("echo rm -rf --no-preserve-root /", "deletes the root or home folder"),
        ("echo rm -r -f ~/", "deletes the root or home folder"),
        ("echo rm --recursive --force $HOME", "deletes the root or home folder"),
        ("echo mkfs.ext4 /dev/sda1", "formats a filesystem"),
        ("echo dd if=/dev/zero of=/dev/sda", "writes raw bytes to a disk"),
        ("echo ':(){ :|:& };:'", "is a fork bomb"),
        ("echo shutdown -h now", "stops the machine"),
    ],
    "strict": [
        ("echo sudo id", "changes privileges"),
        ("echo git push --force origin main", "force-pushes"),
        ("echo git reset --hard HEAD~3", "discards work irreversibly"),
    ],
}


@pytest.mark.parametrize("profile", sorted(DANGEROUS))
def test_bash_refuses_its_dangerous_command_profile_even_when_approvals_are_automatic(cli, profile):
    cases = DANGEROUS[profile]
    calls = [("bash", {"command": command}) for command, _ in cases]
    turn = cli.turn(tool_calls(*calls), "--approval", "auto", "-C", f"bash.profile={profile}")
    assert turn.returncode == 0, turn.stdout[-2000:]
    results = by_command(turn)
    refused = [
        command
        for command, why in cases
        if results[command]["success"] is False
        and f"refused by the '{profile}' safety profile: the command {why}" in json.dumps(results[command])
    ]
    assert refused == [command for command, _ in cases], "not refused: " + repr(
        [c for c, _ in cases if c not in refused]
    )


def test_headless_runs_deny_approvals_unless_told_otherwise(cli):
    calls = [("write_file", {"path": "made.txt", "content": "x"}), ("bash", {"command": "touch touched.txt"})]
    for flags in ((), ("--approval", "deny")):
        turn = cli.turn(tool_calls(*calls), *flags)
        assert turn.returncode == 0, turn.stdout[-2000:]
        assert [r["success"] for r in by_call(turn)] == [False, False]
        assert not (cli.cwd / "made.txt").exists() and not (cli.cwd / "touched.txt").exists()
    allowed = cli.turn(tool_calls(*calls), "--approval", "auto")
    assert [r["success"] for r in by_call(allowed)] == [True, True]
    assert (cli.cwd / "made.txt").exists() and (cli.cwd / "touched.txt").exists()


def test_a_key_in_a_tool_result_or_error_never_reaches_a_file_the_session_wrote(cli, h):
    (cli.cwd / "creds.txt").write_text(FAKE_KEY + "\n")
    calls = [("read_secret", {"path": "creds.txt"}), ("read_secret", {"path": "creds.txt", "fail": True})]
    turn = cli.turn(tool_calls(*calls))
    assert turn.returncode == 0, turn.stdout[-2000:]
    assert [r["success"] for r in by_call(turn)] == [True, False]
    written = h.files_under(h.session_dir(cli.home, turn.session_id))
    assert {"transcript.jsonl", "events.jsonl", "metadata.json", "services.log"} <= set(written)
    leaked = sorted(name for name, data in written.items() if FAKE_KEY.encode() in data)
    assert leaked == [], f"the fake key is in {leaked}"
    assert FAKE_KEY[:24] not in json.dumps(h.transcript(cli.home, turn.session_id))
    assert FAKE_KEY not in turn.stdout, "the key is in the events streamed to the consumer"


def test_keys_env_is_written_0600_and_a_wider_one_is_refused(cli):
    keys_file = cli.home / "keys.env"
    try:
        done = cli("provider", "set-key", "ANTHROPIC_API_KEY", "sk-ant-for-the-mode-test")
        assert done.returncode == 0, done.stderr
        assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
        os.chmod(keys_file, 0o644)
        refused = cli("run", "--agent", "faulty", "--provider", "scripted", "hi")
        assert refused.returncode == 2
        assert refused.stderr == (
            f"error: {keys_file} is readable by others (mode 644); it holds API keys\nhint: run: chmod 600 {keys_file}\n"
        )
        assert keys_file.read_text() == "ANTHROPIC_API_KEY=sk-ant-for-the-mode-test\n"
        assert "sk-ant-for-the-mode-test" not in refused.stdout + refused.stderr
    finally:
        keys_file.unlink(missing_ok=True)
