"""Every fault of the fault service, each through a whole `amplifier-ipc run` turn.

Each test checks the four promises: a clear message naming the service, a
transcript valid and complete up to the fault, a session that resumes, and
no process of the turn left (by process group and by a scan of /proc).
"""

from __future__ import annotations

import json
import re
import signal
from typing import Any

RESUME = "- text: 'resumed fine'\n  expect: {messages_contain: ['after the fault']}\n"
RESUME_WITH_HISTORY = (
    "- text: 'resumed fine'\n  expect: {messages_contain: ['hello', 'probe', 'after the fault']}\n"
)


def services_log(cli: Any, session_id: str) -> str:
    return (cli.home / "sessions" / session_id / "services.log").read_text(errors="replace")


def finish(cli: Any, h: Any, turn: Any, resume: str = RESUME_WITH_HISTORY) -> list[dict[str, Any]]:
    """The checks every fault shares; returns the transcript written by the faulty turn."""
    session_id = turn.session_id
    h.assert_nothing_left(cli.home, session_id)
    messages = h.transcript(cli.home, session_id)
    if messages:
        h.assert_transcript_valid(messages)
    again = cli.resume(session_id, resume)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert again.result["response"] == "resumed fine"
    assert again.result["session_id"] == session_id
    after = h.transcript(cli.home, session_id)
    assert after[: len(messages)] == messages, "resuming must keep every message of the faulty turn"
    h.assert_transcript_valid(after)
    assert h.metadata(cli.home, session_id)["status"] == "completed"
    h.assert_nothing_left(cli.home, session_id)
    return messages


def completed_probe(cli: Any, h: Any, mode: str) -> tuple[Any, list[dict[str, Any]]]:
    """A fault the turn survives: the model gets an answer from fault_probe and finishes."""
    turn = cli.turn(h.PROBE_SCRIPT, mode=mode)
    assert turn.returncode == 0, turn.stdout[-3000:] + turn.stderr[-3000:]
    assert turn.result["status"] == "completed" and turn.result["response"] == "Done."
    messages = finish(cli, h, turn)
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    return turn, messages


def test_a_service_that_crashes_on_describe_fails_the_turn_naming_it_before_any_model_call(cli, h):
    turn = cli.turn(h.PROBE_SCRIPT, mode="crash_describe")
    assert turn.returncode == 1
    assert turn.result["status"] == "failed"
    error = turn.result["error"]
    assert error.startswith("service faults exited with code 3 during describe")
    assert "cannot describe: crashing as configured" in error
    assert not turn.of_type("tool_call", "stream.token"), "no model call may happen after a failed start"
    metadata = h.metadata(cli.home, turn.session_id)
    assert metadata["status"] == "failed" and metadata["error"].startswith("service faults exited")
    assert h.scripted_position(cli.home, turn.session_id) == 0
    assert finish(cli, h, turn, RESUME) == []


def test_stream_json_events_keep_their_own_type_when_their_data_has_a_type_field(cli, h):
    turn = cli.turn(h.PROBE_SCRIPT, mode="crash_describe")
    types = [line["type"] for line in turn.lines]
    assert "error" in types, f"the failed start must be an 'error' event; the types were {types}"
    ok = cli.turn(h.PROBE_SCRIPT)
    blocks = {line["type"] for line in ok.lines} & {
        "stream.content_block_start",
        "stream.content_block_end",
        "text",
    }
    assert blocks == {"stream.content_block_start", "stream.content_block_end"}, blocks


def test_a_service_that_never_answers_describe_fails_the_turn_after_the_describe_timeout(cli, h):
    turn = cli.turn(h.PROBE_SCRIPT, mode="hang_describe")
    assert turn.returncode == 1
    assert turn.result["error"].startswith("service faults did not answer describe within 15s")
    assert "mode hang_describe" in turn.result["error"], "the message shows the tail of the service's stderr"
    assert finish(cli, h, turn, RESUME) == []


def test_a_service_that_crashes_in_the_middle_of_a_tool_call_gives_the_model_a_tool_error(cli, h):
    turn, messages = completed_probe(cli, h, "crash_tool")
    (crash,) = turn.of_type("service_error")
    assert crash["service"] == "faults" and crash["error"] == "service faults exited with code 9"
    assert "crashing in the middle of fault_probe" in crash["stderr_tail"]
    result = turn.tool_result("fault_probe")
    assert result["success"] is False
    assert "service faults exited during tool fault_probe" in json.dumps(result)
    assert "service faults exited during tool fault_probe" in json.dumps(messages[2])


def test_a_service_that_exits_0_early_is_reported_and_its_tool_call_fails_at_once(cli, h):
    turn, messages = completed_probe(cli, h, "exit_early")
    (gone,) = turn.of_type("service_error")
    assert gone["service"] == "faults" and gone["error"] == "service faults exited with code 0"
    assert turn.tool_result("fault_probe")["success"] is False
    assert "service faults exited during tool fault_probe" in json.dumps(messages[2])


def test_a_tool_call_that_hangs_past_the_tool_timeout_fails_and_the_turn_goes_on(cli, h):
    turn = cli.turn(h.PROBE_SCRIPT, "--tool-timeout", "1", mode="hang_tool")
    assert turn.returncode == 0, turn.stdout[-3000:] + turn.stderr[-3000:]
    assert turn.result["status"] == "completed" and turn.result["response"] == "Done."
    result = turn.tool_result("fault_probe")
    assert result["success"] is False
    assert "tool fault_probe of service faults did not answer within 1s" in json.dumps(result)
    messages = finish(cli, h, turn)
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]


def test_a_tool_call_that_hangs_is_cancelled_by_two_interrupts_and_its_call_gets_a_result(cli, h):
    proc = cli.popen(h.PROBE_SCRIPT, mode="hang_tool")
    assert proc.stdout is not None and proc.stderr is not None
    lines = []
    for raw in proc.stdout:
        lines.append(json.loads(raw))
        if lines[-1]["type"] == "tool_call":
            break
    marker = cli.cwd / "fault-probe-hanging"
    h.wait_until(marker.exists, h.RUN_TIMEOUT_S, "the fault service to start the hanging call")
    proc.send_signal(signal.SIGINT)
    for raw in proc.stdout:
        lines.append(json.loads(raw))
        if lines[-1]["type"] == "cancelling":
            break
    assert lines[-1]["running"] == ["fault_probe"], "the first interrupt says what is still running"
    proc.send_signal(signal.SIGINT)
    lines += [json.loads(raw) for raw in proc.stdout]
    assert proc.wait(timeout=h.RUN_TIMEOUT_S) == 130
    assert "Traceback" not in proc.stderr.read()
    result = lines[-1]
    assert result["type"] == "result" and result["status"] == "cancelled"
    turn = h.Turn(130, "", "", lines)
    assert h.metadata(cli.home, turn.session_id)["status"] == "cancelled"
    messages = finish(
        cli, h, turn, "- text: 'resumed fine'\n  expect: {messages_contain: ['hello', 'after the fault']}\n"
    )
    assert (
        messages[-1]["role"] == "tool" and "cancelled: the user stopped the turn" in messages[-1]["content"]
    )


def test_garbage_on_a_services_stdout_is_logged_under_its_name_and_the_turn_goes_on(cli, h):
    turn, _ = completed_probe(cli, h, "garbage")
    assert turn.tool_result("fault_probe")["output"] == "probe: hi"
    log = services_log(cli, turn.session_id)
    assert "[faults] (host) bad line from the other side (line is not valid JSON" in log
    assert "[faults] (host) bad line from the other side (batches are not supported" in log


def test_a_line_over_64_mib_is_discarded_with_a_message_and_the_answer_after_it_is_used(cli, h):
    turn, _ = completed_probe(cli, h, "huge_line")
    assert turn.tool_result("fault_probe")["output"] == "probe: hi"
    assert "exceeds the 64 MiB limit; it was discarded" in services_log(cli, turn.session_id)
    assert "[faults] (host) bad line" in services_log(cli, turn.session_id)


def test_an_answer_that_arrives_a_few_bytes_at_a_time_is_reassembled(cli, h):
    turn, messages = completed_probe(cli, h, "slow_stream")
    expected = "probe: hi " + "slow " * 200
    assert turn.tool_result("fault_probe")["output"] == expected
    assert messages[2]["content"] == expected


def test_an_answer_with_an_id_nobody_asked_for_is_ignored_and_logged(cli, h):
    turn, messages = completed_probe(cli, h, "wrong_id")
    assert turn.tool_result("fault_probe")["output"] == "probe: hi"
    assert "WRONG ANSWER" not in json.dumps(messages) and "WRONG ANSWER" not in turn.stdout
    assert re.search(
        r"\[faults\] \(host\) answer for unknown request id 'not-\d+' ignored",
        services_log(cli, turn.session_id),
    )


def test_a_second_answer_to_the_same_request_is_ignored_and_logged(cli, h):
    turn, messages = completed_probe(cli, h, "answer_twice")
    assert turn.tool_result("fault_probe")["output"] == "probe: hi"
    assert "SECOND ANSWER" not in json.dumps(messages) and "SECOND ANSWER" not in turn.stdout
    assert re.search(
        r"\[faults\] \(host\) answer for unknown request id \d+ ignored", services_log(cli, turn.session_id)
    )


def test_a_service_that_ignores_eof_and_sigterm_is_killed_and_the_kill_is_logged(cli, h):
    turn, _ = completed_probe(cli, h, "ignore_term")
    host_lines = [
        line for line in services_log(cli, turn.session_id).splitlines() if line.startswith("[faults] (host)")
    ]
    assert any("SIGKILL" in line or "killed" in line for line in host_lines), (
        "the log should say the Host had to kill faults; it says: " + repr(host_lines)
    )


def test_killing_a_service_that_ignores_sigterm_prints_no_traceback(cli, h):
    turn = cli.turn(h.PROBE_SCRIPT, mode="ignore_term")
    assert turn.returncode == 0
    h.assert_nothing_left(cli.home, turn.session_id)
    assert "Traceback" not in turn.stderr and "Event loop is closed" not in turn.stderr, turn.stderr


def test_a_grandchild_that_ignores_sigterm_in_the_services_group_does_not_survive_the_turn(cli, h):
    turn, _ = completed_probe(cli, h, "grandchild")
    groups, grandchildren = h.logged_pids(h.session_dir(cli.home, turn.session_id) / "services.log")
    assert groups and grandchildren, "the fault service logged its group and its grandchild"


def test_a_grandchild_that_leaves_the_services_process_group_does_not_survive_the_turn(cli, h):
    turn = cli.turn(h.PROBE_SCRIPT, mode="grandchild_escapes")
    assert turn.returncode == 0
    _, grandchildren = h.logged_pids(h.session_dir(cli.home, turn.session_id) / "services.log")
    assert grandchildren
    h.assert_nothing_left(cli.home, turn.session_id)
