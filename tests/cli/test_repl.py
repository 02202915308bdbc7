"""The REPL through a real pseudo-terminal: streaming, /status, Ctrl-C cancelling a turn, exit."""

from __future__ import annotations

from typing import Any

import pexpect

# prompt-toolkit draws "> " with style resets between the characters.
PROMPT = r">\x1b\[0m"
# A terminal's Enter key; "\n" is Ctrl-J, which inserts a newline in the REPL.
ENTER = "\r"
# Each step waits on the services of a real turn; generous for a loaded machine.
STEP_TIMEOUT_S = 60

SCRIPT = """
- text: "hello from the script"
- text: "Sleeping."
  tool_calls: [{name: bash, arguments: {command: "sleep 120"}}]
- text: "never shown"
"""


def spawn(cli: Any) -> pexpect.spawn:
    script = cli.script(SCRIPT)
    child = pexpect.spawn(
        cli_path(),
        [
            "run",
            "--agent",
            "minimal",
            "--provider",
            "scripted",
            "-C",
            f"scripted.script={script}",
            "--approval",
            "auto",
        ],
        env={**cli.env, "TERM": "xterm", "COLUMNS": "200", "LINES": "50"},
        cwd=str(cli.cwd),
        encoding="utf-8",
        timeout=STEP_TIMEOUT_S,
        dimensions=(50, 200),
    )
    return child


def cli_path() -> str:
    import sys
    from pathlib import Path

    return str(Path(sys.executable).parent / "amplifier-ipc")


def test_the_repl_streams_answers_reports_status_cancels_with_ctrl_c_and_exits(cli: Any) -> None:
    child = spawn(cli)
    try:
        child.expect("/help for commands")
        child.expect(PROMPT)
        child.send("say hello" + ENTER)
        child.expect("hello from the script")
        child.expect(PROMPT)
        child.send("/status" + ENTER)
        child.expect(r"session\s+[0-9a-f-]{36}")
        child.expect(r"turns\s+1")
        child.expect(PROMPT)
        child.send("now sleep" + ENTER)
        child.expect("bash")
        child.sendintr()
        child.expect("cancelling after the running tools finish")
        child.expect("running: bash")
        child.sendintr()
        child.expect("cancelling now")
        child.expect("cancelled")
        child.expect(PROMPT)
        child.send("/status" + ENTER)
        child.expect(r"turns\s+2")
        child.expect(PROMPT)
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def test_ctrl_c_at_an_empty_prompt_asks_before_exiting(cli: Any) -> None:
    child = spawn(cli)
    try:
        child.expect(PROMPT)
        child.sendintr()
        child.expect(r"exit\? \[y/N\]")
        child.send("n" + ENTER)
        child.expect(PROMPT)
        child.send("/help" + ENTER)
        child.expect("/status")
        child.expect(PROMPT)
        child.sendintr()
        child.expect(r"exit\? \[y/N\]")
        child.send("y" + ENTER)
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def _services_of(pid: int) -> list[str]:
    """Names (comm) of the live child processes of the REPL process ``pid``,
    apart from the fork server (a forked service is named after its service)."""
    from amplifier_ipc_protocol.stdio import direct_children

    names = []
    for child in direct_children(pid):
        try:
            with open(f"/proc/{child}/stat") as stat_file, open(f"/proc/{child}/cmdline", "rb") as cmd_file:
                stat, cmdline = stat_file.read(), cmd_file.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fork_server = b"_zygote.py" in cmdline and name.startswith("python")
        if stat.rsplit(")", 1)[1].split()[0] != "Z" and not fork_server:
            names.append(name)
    return sorted(names)


def test_the_first_turns_services_start_while_the_user_is_still_typing(cli: Any) -> None:
    import time

    child = spawn(cli)
    try:
        child.expect("/help for commands")
        child.expect(PROMPT)
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while len(_services_of(child.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_services_of(child.pid)) == 2, "foundation and providers, started before any prompt"
        child.send("say hello" + ENTER)
        child.expect("hello from the script")
        child.expect(PROMPT)
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
