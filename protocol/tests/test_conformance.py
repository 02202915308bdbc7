"""The conformance check passes a good service and fails a broken one clearly."""

from __future__ import annotations

import re
import subprocess
import sys

from amplifier_ipc_protocol.conformance import format_report, main, run_conformance
from protocol_testkit import FIXTURES, service_env

# A whole conformance run spawns one service and waits at most a few seconds.
RUN_TIMEOUT_S = 120


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "amplifier_ipc_protocol.conformance", "--", *command],
        capture_output=True,
        text=True,
        env=service_env(),
        timeout=RUN_TIMEOUT_S,
    )


def test_the_sample_service_passes_every_check() -> None:
    done = _run(sys.executable, "-m", "sample_svc")
    assert done.returncode == 0, done.stdout + done.stderr
    for name in (
        "describe shape",
        "ping",
        "unknown method",
        "malformed line, then a valid request",
        "batch refused",
        "unknown tool",
        "invalid input",
        "content traversal",
        "cancel",
        "stdout holds only protocol messages",
        "exit on EOF within the grace period",
    ):
        assert f"PASS  {name}" in done.stdout, done.stdout
    assert "PASSED: all 11 checks" in done.stdout


def test_a_broken_service_fails_with_a_clear_line_per_broken_rule() -> None:
    done = _run(sys.executable, str(FIXTURES / "broken_svc.py"))
    assert done.returncode == 1
    out = done.stdout
    assert "FAIL  unknown method" in out and "expected error -32601, got result {}" in out
    assert "FAIL  malformed line, then a valid request" in out and "expected error -32700, got -32603" in out
    assert "FAIL  unknown tool" in out
    assert "FAIL  content traversal" in out and "content.read of ../../../../etc/passwd" in out
    assert "stdout carried non-protocol output: b'broken service starting\\n'" in out
    assert re.search(r"FAIL  exit on EOF within the grace period +still running 2s after stdin closed", out)
    assert "SKIP  invalid input" in out
    assert "FAILED: 7 of 11 checks" in out


async def test_a_service_that_cannot_describe_itself_fails_the_first_check_and_shows_its_stderr() -> None:
    report = await run_conformance(
        [sys.executable, "-c", "import sys; sys.stderr.write('no such thing\\n'); sys.exit(3)"]
    )
    assert not report.passed
    assert [c.name for c in report.checks] == ["describe shape"]
    assert "closed stdout (exit code" in report.checks[0].detail
    assert "  | no such thing" in format_report(report)


async def test_a_command_that_does_not_exist_is_a_failed_start() -> None:
    report = await run_conformance(["/nonexistent/service-binary"])
    assert not report.passed
    assert report.checks[0].name == "start"
    assert "cannot start '/nonexistent/service-binary'" in report.checks[0].detail


def test_without_a_command_the_usage_says_what_to_give(capsys: object) -> None:
    assert main([]) == 2
    assert main(["--"]) == 2
