"""Single-shot runs through the real services with the scripted provider: headless output, exit codes, approvals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

GLOB_THEN_ANSWER = """
- text: "Let me look."
  tool_calls: [{name: glob, arguments: {pattern: "*.txt"}}]
- text: "There is one text file."
"""


def test_a_stream_json_run_prints_one_event_per_line_and_ends_with_the_result(
    cli: Any, parse_lines: Any
) -> None:
    (cli.cwd / "notes.txt").write_text("hi")
    result = cli.scripted(cli.script(GLOB_THEN_ANSWER))
    assert result.returncode == 0, result.stderr
    lines = parse_lines(result.stdout)
    types = [line["type"] for line in lines]
    assert types[0] == "turn_start"
    assert "stream.token" in types and "tool_call" in types and "tool_result" in types
    tool_result = next(line for line in lines if line["type"] == "tool_result")
    assert tool_result["success"] is True and "notes.txt" in tool_result["output"]
    result_line = lines[-1]
    assert result_line["type"] == "result"
    assert result_line["status"] == "completed"
    assert result_line["response"] == "There is one text file."
    assert set(result_line) >= {"session_id", "response", "usage", "duration_ms", "status"}
    assert (
        "".join(line["text"] for line in lines if line["type"] == "stream.token")
        == "Let me look.There is one text file."
    )


def test_json_output_is_one_object_at_the_end(cli: Any) -> None:
    result = cli.scripted(cli.script("- text: 'Hello there.'\n"), output="json")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.strip().splitlines()
    payload = json.loads(line)
    assert payload["response"] == "Hello there."
    assert payload["status"] == "completed"
    assert payload["usage"]["output_tokens"] > 0


def test_the_prompt_can_come_on_stdin(cli: Any) -> None:
    script = cli.script("- text: 'ok'\n  expect: {messages_contain: 'from stdin'}\n")
    result = cli(
        "run",
        "--agent",
        "minimal",
        "--provider",
        "scripted",
        "-C",
        f"scripted.script={script}",
        "--output",
        "json",
        input="from stdin\n",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["response"] == "ok"


def test_text_output_streams_the_answer_and_shows_tool_calls(cli: Any) -> None:
    (cli.cwd / "notes.txt").write_text("hi")
    result = cli.scripted(cli.script(GLOB_THEN_ANSWER), output="text")
    assert result.returncode == 0, result.stderr
    assert "Let me look." in result.stdout
    assert '⏺ glob({"pattern": "*.txt"})' in result.stdout
    assert "⎿ notes.txt" in result.stdout
    assert "There is one text file." in result.stdout


def test_a_failed_turn_exits_1_with_the_error(cli: Any, parse_lines: Any) -> None:
    script = cli.script("- error: {code: 400, message: 'bad request from the script', retryable: false}\n")
    result = cli.scripted(script)
    assert result.returncode == 1
    final = parse_lines(result.stdout)[-1]
    assert final["type"] == "result" and final["status"] == "failed"


def test_a_run_continues_a_session_by_unique_prefix(cli: Any, parse_lines: Any) -> None:
    # The scripted provider keeps its position in session state: the second turn plays entry 2.
    script = cli.script("- text: 'one'\n- text: 'two'\n  expect: {messages_contain: 'one'}\n")
    first = parse_lines(cli.scripted(script).stdout)[-1]
    again = cli.scripted(script, "--session", first["session_id"][:8], prompt="again")
    assert again.returncode == 0, again.stdout + again.stderr
    final = parse_lines(again.stdout)[-1]
    assert final["session_id"] == first["session_id"]
    assert final["response"] == "two"


def test_session_and_continue_together_are_a_usage_error(cli: Any) -> None:
    result = cli("run", "--session", "abc", "--continue", "hi")
    assert result.returncode == 2
    assert "--session and --continue cannot be used together" in result.stderr


def test_no_prompt_without_a_terminal_is_a_usage_error(cli: Any) -> None:
    result = cli("run", "--agent", "minimal", "--output", "json", input="")
    assert result.returncode == 2
    assert "no prompt given" in result.stderr


def test_bad_component_flags_and_unknown_components_are_usage_errors(cli: Any) -> None:
    bad = cli("run", "--agent", "minimal", "-C", "timeout=3", "hi")
    assert bad.returncode == 2 and "expected COMPONENT.KEY=VALUE" in bad.stderr
    unknown = cli("run", "--agent", "minimal", "-C", "nosuch.key=1", "hi")
    assert unknown.returncode == 2
    assert "config for 'nosuch' matches no component of this session" in unknown.stderr


BASH_CALL = """
- text: "Running it."
  tool_calls: [{name: bash, arguments: {command: "touch made-by-bash"}}]
- text: "Done."
"""


def _bash_result(lines: list[dict[str, Any]]) -> dict[str, Any]:
    return next(line for line in lines if line["type"] == "tool_result" and line["name"] == "bash")


def test_without_a_terminal_approvals_are_denied_by_default(cli: Any, parse_lines: Any) -> None:
    result = cli.scripted(cli.script(BASH_CALL))
    lines = parse_lines(result.stdout)
    bash = _bash_result(lines)
    assert bash["success"] is False
    assert not (cli.cwd / "made-by-bash").exists()


def test_approval_auto_lets_the_tool_run_without_a_terminal(cli: Any, parse_lines: Any) -> None:
    result = cli.scripted(cli.script(BASH_CALL), "--approval", "auto")
    bash = _bash_result(parse_lines(result.stdout))
    assert bash["success"] is True
    assert (cli.cwd / "made-by-bash").exists()


def test_an_interrupted_run_exits_130(cli: Any) -> None:
    script = cli.script(
        "- text: 'Waiting.'\n  tool_calls: [{name: bash, arguments: {command: 'sleep 60'}}]\n- text: 'never'\n"
    )
    proc = subprocess.Popen(
        [
            cli_path(),
            "run",
            "--agent",
            "minimal",
            "--provider",
            "scripted",
            "-C",
            f"scripted.script={script}",
            "--approval",
            "auto",
            "--output",
            "stream-json",
            "wait",
        ],
        env=cli.env,
        cwd=cli.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if json.loads(line)["type"] == "tool_call":
            break
    proc.send_signal(signal.SIGINT)
    # Wait for the first to land: two signals sent back to back can merge into one.
    for line in proc.stdout:
        event = json.loads(line)
        if event["type"] == "cancelling":
            assert event["immediate"] is False
            break
    proc.send_signal(signal.SIGINT)  # the second one does not wait for the running tool (sleep 60)
    rest = proc.stdout.read()
    assert proc.wait(timeout=60) == 130
    events = [json.loads(line) for line in rest.strip().splitlines()]
    assert any(e["type"] == "cancelling" and e["immediate"] for e in events)
    assert not any(e["type"] == "tool_result" and e.get("success") for e in events), (
        "the sleep was not awaited"
    )
    final = events[-1]
    assert final["type"] == "result" and final["status"] == "cancelled"


def cli_path() -> str:
    import sys
    from pathlib import Path

    return str(Path(sys.executable).parent / "amplifier-ipc")


def test_keys_reach_only_services_that_list_them(cli: Any, parse_lines: Any) -> None:
    # bash runs in the foundation service, which lists no keys: it must not see one from the environment.
    cli.env["ANTHROPIC_API_KEY"] = "sk-must-not-leak"
    script = cli.script(
        '- text: "x"\n  tool_calls: [{name: bash, arguments: {command: "env"}}]\n- text: "done"\n'
    )
    result = cli.scripted(script, "--approval", "auto")
    bash = _bash_result(parse_lines(result.stdout))
    assert bash["success"] is True
    assert "sk-must-not-leak" not in json.dumps(bash)
    assert os.environ.get("ANTHROPIC_API_KEY") != "sk-must-not-leak"


WRITE_CALL = """
- text: "Writing."
  tool_calls: [{name: write_file, arguments: {path: "out.txt", content: "x"}}]
- text: "Done."
"""


def test_allowed_dirs_from_the_settings_bound_the_file_tools(
    cli: Any, parse_lines: Any, tmp_path: Any
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert cli("allowed-dirs", "add", str(elsewhere), "--scope", "project").returncode == 0
    result = cli.scripted(cli.script(WRITE_CALL), "--approval", "auto")
    write = next(line for line in parse_lines(result.stdout) if line["type"] == "tool_result")
    assert write["success"] is False
    assert not (cli.cwd / "out.txt").exists()
    assert cli("allowed-dirs", "add", str(cli.cwd), "--scope", "project").returncode == 0
    again = cli.scripted(cli.script(WRITE_CALL, "again.yaml"), "--approval", "auto")
    write = next(line for line in parse_lines(again.stdout) if line["type"] == "tool_result")
    assert write["success"] is True, write
    assert (cli.cwd / "out.txt").read_text() == "x"


def test_a_first_run_installs_what_is_missing_showing_progress_then_answers(fresh_cli: Any) -> None:
    """Lazy install on the first run, text output: the progress lines go to stderr
    (no terminal: plain lines, no spinner) and the turn then runs as usual."""
    root = Path(__file__).resolve().parents[2]
    for folder in ("services", "definitions"):
        registered = fresh_cli("discover", str(root / folder), "--register")
        assert registered.returncode == 0, registered.stderr
    script = fresh_cli.script("- text: 'Installed and answering.'\n")
    done = fresh_cli.scripted(script, output="text", prompt="hi")
    assert done.returncode == 0, done.stderr
    assert "Installed and answering." in done.stdout
    assert "installing foundation" in done.stderr and "installing providers" in done.stderr
    again = fresh_cli.scripted(script, output="text", prompt="hi")
    assert again.returncode == 0, again.stderr
    assert "installing" not in again.stderr, "installed once, not on every run"
