"""The foundation hooks, called by name through the real service."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from amplifier_foundation.hooks._secrets import MASK, redact

from .conftest import FakeHost

SECRET = "sk-ant-api03-" + "A" * 40


async def emit(host: FakeHost, name: str, event: str, data: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = await host.peer.request(
        "hook.emit", {"event": event, "data": {"session_id": "test-session", **data}, "name": name}
    )
    return result


def pre(tool: str, **tool_input: Any) -> dict[str, Any]:
    return {"tool_name": tool, "tool_call_id": "c1", "tool_input": tool_input}


def audit(home: Path) -> list[dict[str, Any]]:
    path = home / "sessions" / "test-session" / "approvals.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_approval_asks_for_writes_and_commands_but_not_reads_or_read_only_commands(
    start_host: Any,
) -> None:
    host: FakeHost = await start_host()
    asked = await emit(host, "approval", "tool:pre", pre("bash", command="make install"))
    assert asked["action"] == "ASK_USER" and "make install" in asked["approval_prompt"]
    assert asked["approval_options"] == ["allow", "deny"] and asked["approval_default"] == "deny"
    assert (await emit(host, "approval", "tool:pre", pre("write_file", path="x")))["action"] == "ASK_USER"
    assert (await emit(host, "approval", "tool:pre", pre("read_file", path="x")))["action"] == "CONTINUE"
    assert (await emit(host, "approval", "tool:pre", pre("bash", command="git status")))[
        "action"
    ] == "CONTINUE"
    decisions = [(r["tool"], r["decision"], r["reason"]) for r in audit(host.home)]
    assert decisions == [
        ("bash", "asked", "needs approval"),
        ("write_file", "asked", "needs approval"),
        ("bash", "allowed", "read-only command"),
    ]


async def test_approval_allow_rules_and_modes_decide_without_asking_and_are_audited(start_host: Any) -> None:
    host: FakeHost = await start_host(config={"approval": {"allow": ["bash:pytest*", "write_file:docs/*"]}})
    assert (await emit(host, "approval", "tool:pre", pre("bash", command="pytest -q")))[
        "action"
    ] == "CONTINUE"
    assert (await emit(host, "approval", "tool:pre", pre("write_file", path="docs/a.md")))[
        "action"
    ] == "CONTINUE"
    assert (await emit(host, "approval", "tool:pre", pre("write_file", path="src/a.py")))[
        "action"
    ] == "ASK_USER"
    await host.peer.request("configure", {"config": {"approval": {"mode": "deny"}}})
    denied = await emit(host, "approval", "tool:pre", pre("edit_file", path="a"))
    assert denied["action"] == "DENY" and "approval mode is 'deny'" in denied["reason"]
    await host.peer.request("configure", {"config": {"approval": {"mode": "auto"}}})
    assert (await emit(host, "approval", "tool:pre", pre("bash", command="rm x")))["action"] == "CONTINUE"
    await emit(host, "approval", "approval:granted", {**pre("bash", command="make"), "decision": "allow"})
    reasons = [r["reason"] for r in audit(host.home)]
    assert reasons == [
        "allow rule bash:pytest*",
        "allow rule write_file:docs/*",
        "needs approval",
        "approval mode deny",
        "approval mode auto",
        "user: allow",
    ]


async def test_the_audit_log_never_holds_a_secret_from_a_command(start_host: Any) -> None:
    host: FakeHost = await start_host()
    await emit(host, "approval", "tool:pre", pre("bash", command=f"curl -H 'x-api-key: {SECRET}' x"))
    assert SECRET not in json.dumps(audit(host.home))


async def test_logging_appends_every_event_with_session_and_time_to_hook_events_jsonl_masking_secrets(
    start_host: Any,
) -> None:
    host: FakeHost = await start_host()
    await emit(host, "logging", "prompt:submit", {"prompt": "hello"})
    await emit(host, "logging", "tool:pre", pre("bash", command=f"export ANTHROPIC_API_KEY={SECRET}"))
    lines = (host.home / "sessions" / "test-session" / "hook-events.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["event"] for r in records] == ["prompt:submit", "tool:pre"]
    assert all(r["session_id"] == "test-session" and isinstance(r["ts"], float) for r in records)
    assert SECRET not in lines[1] and MASK in lines[1]


async def test_redaction_modifies_event_data_but_leaves_tool_pre_input_alone(start_host: Any) -> None:
    host: FakeHost = await start_host()
    post = await emit(host, "redaction", "tool:post", {"result": {"output": f"key={SECRET}"}})
    assert post["action"] == "MODIFY" and SECRET not in json.dumps(post["data"])
    assert post["data"]["session_id"] == "test-session"
    untouched = await emit(host, "redaction", "tool:pre", pre("bash", command=f"echo {SECRET}"))
    assert untouched["action"] == "CONTINUE"
    clean = await emit(host, "redaction", "tool:post", {"result": {"output": "nothing secret"}})
    assert clean["action"] == "CONTINUE"


def test_redaction_masks_keys_tokens_and_private_keys() -> None:
    samples = [
        SECRET,
        "sk-proj-" + "b" * 30,
        "ghp_" + "c" * 36,
        "AKIA" + "D" * 16,
        "xoxb-1234567890-abcdef",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
        "Authorization: Bearer abcdefghijklmnopqrstuvwxyz",
    ]
    for sample in samples:
        masked = redact({"text": f"before {sample} after"})["text"]
        assert MASK in masked and "before" in masked and "after" in masked, sample
        assert sample.split()[-1][-10:] not in masked, sample
    assert redact({"password": "hunter2", "input_tokens": 5}) == {"password": MASK, "input_tokens": 5}
    assert redact({"text": "an ordinary sentence"}) == {"text": "an ordinary sentence"}


async def test_status_context_injects_cwd_git_status_and_date_ephemerally(
    start_host: Any, workdir: Path
) -> None:
    subprocess.run(["git", "init", "-q", str(workdir)], check=True)
    (workdir / "new.txt").write_text("x")
    host: FakeHost = await start_host()
    result = await emit(host, "status_context", "provider:request", {"iteration": 1})
    assert result["action"] == "INJECT_CONTEXT" and result["ephemeral"] is True
    text = result["context_injection"]
    assert (
        f"Working directory: {workdir.resolve()}" in text and "?? new.txt" in text and "Today's date:" in text
    )


# Generous: git status in a fresh repository takes milliseconds, but CI shares 2 cores.
GIT_DEADLINE_S = 20.0


def _counting_git(folder: Path) -> tuple[dict[str, str], Path]:
    """A ``git`` first on PATH that notes each run, then runs the real one."""
    import os
    import shutil

    real = shutil.which("git")
    assert real is not None
    runs = folder / "git-runs.log"
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").write_text(f'#!/bin/sh\necho "$@" >> {runs}\nexec {real} "$@"\n')
    (bin_dir / "git").chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, runs


async def _counted_host(tmp_path: Path, workdir: Path) -> tuple[FakeHost, Path]:
    from amplifier_ipc_protocol.testing import python_module, service_env

    extra, runs = _counting_git(tmp_path)
    home = tmp_path / "home"
    env = service_env(home=home, amplifier_home=home, extra=extra)
    host = await FakeHost.spawn(python_module("amplifier_foundation"), cwd=workdir, env=env)
    await host.describe_service(None)
    return host, runs


async def _wait_until(condition: Any, what: str) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + GIT_DEADLINE_S
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def _runs(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


async def test_status_context_starts_git_status_with_the_turn_and_the_provider_call_takes_it(
    tmp_path: Path, workdir: Path
) -> None:
    subprocess.run(["git", "init", "-q", str(workdir)], check=True)
    (workdir / "before.txt").write_text("x")
    host, runs = await _counted_host(tmp_path, workdir)
    try:
        assert (await emit(host, "status_context", "execution:start", {}))["action"] == "CONTINUE"
        await _wait_until(lambda: _runs(runs) == 1, "git status started before any provider call")
        result = await emit(host, "status_context", "provider:request", {"iteration": 1})
        assert "?? before.txt" in result["context_injection"]
        assert _runs(runs) == 1, "the provider call took the status started with the turn"
    finally:
        await host.close()


async def test_status_context_after_a_tool_call_shows_what_the_tool_changed(
    tmp_path: Path, workdir: Path
) -> None:
    subprocess.run(["git", "init", "-q", str(workdir)], check=True)
    host, runs = await _counted_host(tmp_path, workdir)
    try:
        await emit(host, "status_context", "execution:start", {})
        await _wait_until(lambda: _runs(runs) == 1, "git status started with the turn")
        (workdir / "written-by-a-tool.txt").write_text("x")
        await emit(host, "status_context", "tool:post", {"tool_name": "write_file"})
        result = await emit(host, "status_context", "provider:request", {"iteration": 1})
        assert "?? written-by-a-tool.txt" in result["context_injection"]
        assert _runs(runs) == 2, "one started with the turn (then stopped), one after the tool"
    finally:
        await host.close()


async def test_todo_reminder_lists_open_todos_and_stays_quiet_when_all_are_done(start_host: Any) -> None:
    host: FakeHost = await start_host()
    assert (await emit(host, "todo_reminder", "provider:request", {}))["action"] == "CONTINUE"
    host.state["todo.items"] = [{"content": "ship", "status": "pending"}]
    reminder = await emit(host, "todo_reminder", "provider:request", {})
    assert reminder["action"] == "INJECT_CONTEXT" and "[ ] ship" in reminder["context_injection"]
    assert reminder["ephemeral"] is True
    host.state["todo.items"] = [{"content": "ship", "status": "completed"}]
    assert (await emit(host, "todo_reminder", "provider:request", {}))["action"] == "CONTINUE"


async def test_progress_monitor_warns_after_many_reads_and_on_repeated_calls(start_host: Any) -> None:
    host: FakeHost = await start_host(
        config={"progress_monitor": {"reads_without_write": 3, "repeated_calls": 2}}
    )
    results = [
        await emit(
            host, "progress_monitor", "tool:post", {"tool_name": "read_file", "tool_input": {"path": p}}
        )
        for p in ("a", "b")
    ]
    assert [r["action"] for r in results] == ["CONTINUE", "CONTINUE"]
    third = await emit(
        host, "progress_monitor", "tool:post", {"tool_name": "grep", "tool_input": {"pattern": "x"}}
    )
    assert "3 read-only calls" in third["context_injection"] and third["append_to_last_tool_result"] is True
    again = await emit(
        host, "progress_monitor", "tool:post", {"tool_name": "read_file", "tool_input": {"path": "a"}}
    )
    assert "same read_file call 2 times" in again["context_injection"]
    await emit(
        host, "progress_monitor", "tool:post", {"tool_name": "write_file", "tool_input": {"path": "z"}}
    )
    fresh = await emit(
        host, "progress_monitor", "tool:post", {"tool_name": "glob", "tool_input": {"pattern": "*"}}
    )
    assert fresh["action"] == "CONTINUE"
