"""Every fault a service can throw at the Host, with real misbehaving processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from amplifier_ipc.host import HostLimits, persistence
from amplifier_ipc.host.process import group_members

# Deadline for conditions these tests wait on (processes exiting, files appearing).
WAIT_S = 20.0


def call(call_id: str, name: str, **arguments: Any) -> dict[str, Any]:
    return {"id": call_id, "name": name, "arguments": arguments}


def faulty(kit, fault: str):
    return kit.service("faulty", "tsvc_faulty", TSVC_FAULT=fault)


async def failed_start(kit, fault: str, **limits: float) -> dict[str, Any]:
    host = kit.host(
        kit.config(extra=[faulty(kit, fault)]), limits=HostLimits(shutdown_grace=1, term_grace=1, **limits)
    )
    events = await kit.turn(host)
    assert kit.complete(events)["status"] == "failed"
    assert kit.provider_requests() == [], "no model call may happen after a failed start"
    metadata = persistence.read_metadata(kit.sessions, host.session_id)
    assert metadata["status"] == "failed" and metadata["error"]
    return kit.of_type(events, "error")[0].data


async def test_a_service_that_exits_during_describe_is_named_with_its_stderr(kit):
    error = await failed_start(kit, "exit_on_describe")
    assert error["service"] == "faulty"
    assert "service faulty exited with code 3 during describe" in error["message"]
    assert "missing dependency, cannot describe" in error["message"]


async def test_a_service_that_never_answers_describe_times_out(kit):
    error = await failed_start(kit, "hang", describe_timeout=1.0)
    assert "service faulty did not answer describe within 1s" in error["message"]
    assert "started with fault 'hang'" in error["message"]


async def test_a_describe_answer_of_another_protocol_version_is_refused(kit):
    error = await failed_start(kit, "bad_describe")
    assert "faulty answered describe wrongly: protocol_version is 99" in error["message"]


async def test_a_tool_without_an_object_schema_is_a_describe_error(kit):
    error = await failed_start(kit, "bad_schema")
    assert "tool faulty_echo has no object input_schema" in error["message"]


async def test_a_service_whose_command_does_not_exist_says_so(kit):
    missing = kit.service("ghost", "tsvc_tools")
    missing.command = [str(kit.root / "no-such-binary")]
    host = kit.host(kit.config(extra=[missing]))
    events = await kit.turn(host)
    error = kit.of_type(events, "error")[0].data
    assert "service ghost could not be started" in error["message"] and "no-such-binary" in error["message"]
    assert "install" in error["hint"]


async def test_garbage_on_a_services_stdout_is_logged_and_the_turn_goes_on(kit):
    steps = [{"tool_calls": [call("c1", "faulty_echo", text="through")]}, {"text": "done"}]
    host = kit.host(kit.config(steps, extra=[faulty(kit, "garbage")]))
    events = await kit.turn(host)
    assert kit.complete(events)["response"] == "done"
    assert kit.of_type(events, "tool_result")[0].data["success"] is True
    log = (kit.sessions / host.session_id / "services.log").read_text()
    assert "[faulty] (host) bad line" in log and "this is not json" in log


async def test_a_tool_service_that_exits_mid_call_gives_the_model_a_tool_error_and_the_turn_goes_on(kit):
    steps = [{"tool_calls": [call("c1", "crash")]}, {"text": "recovered"}]
    host = kit.host(kit.config(steps))
    events = await kit.turn(host)
    done = kit.complete(events)
    assert done["status"] == "completed" and done["response"] == "recovered"
    tool_message = kit.provider_requests()[1]["messages"][-1]
    assert tool_message["metadata"] == {"success": False}
    assert "service tools exited during tool crash" in tool_message["content"]
    service_errors = kit.of_type(events, "service_error")
    assert service_errors[0].data["service"] == "tools"
    assert "crashing on purpose" in service_errors[0].data["stderr_tail"]


async def test_an_orchestrator_crash_ends_the_turn_with_an_error_and_keeps_the_transcript(kit):
    steps = [{"tool_calls": [call("c1", "echo", text="x")]}, {"text": "never"}]
    host = kit.host(kit.config(steps, core={"crash_at_step": 1}))
    events = await kit.turn(host)
    assert kit.complete(events)["status"] == "failed"
    error = kit.of_type(events, "error")[0].data
    assert "the orchestrator failed" in error["message"] and error["service"] == "core"
    transcript = persistence.read_transcript(kit.sessions, host.session_id)
    assert [m["role"] for m in transcript] == ["user", "assistant", "tool"]
    assert persistence.read_metadata(kit.sessions, host.session_id)["status"] == "failed"


async def test_a_service_that_ignores_eof_and_sigterm_is_killed(kit):
    host = kit.host(
        kit.config(extra=[faulty(kit, "ignore_term")]), limits=HostLimits(shutdown_grace=0.3, term_grace=0.3)
    )
    events = await kit.turn(host)
    assert kit.complete(events)["status"] == "completed"
    assert host.router.services["faulty"].process.returncode == -signal.SIGKILL


async def test_a_grandchild_that_ignores_sigterm_does_not_outlive_the_turn(kit):
    pidfile = kit.root / "grandchild.pid"
    steps = [{"tool_calls": [call("c1", "grandchild", pidfile=str(pidfile))]}, {"text": "done"}]
    host = kit.host(kit.config(steps), limits=HostLimits(shutdown_grace=0.5, term_grace=0.5))
    events = await kit.turn(host)
    assert kit.complete(events)["status"] == "completed"
    pid = int(pidfile.read_text())
    assert not _alive(pid)


async def test_a_ten_megabyte_tool_output_reaches_the_model_whole(kit):
    size = 10 * 1024 * 1024
    steps = [{"tool_calls": [call("c1", "big", size=size)]}, {"text": "read it"}]
    host = kit.host(kit.config(steps))
    events = await kit.turn(host)
    assert kit.complete(events)["response"] == "read it"
    assert len(kit.provider_requests()[1]["messages"][-1]["content"]) == size


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return False
    return data[data.rfind(b")") + 2 : data.rfind(b")") + 3] != b"Z"


async def _until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


HOST_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    sys.path.insert(0, sys.argv[1])
    from conftest import Kit
    from pathlib import Path
    from amplifier_ipc.host import Host, forked, forkserver

    async def main():
        await forked.wait_ready(forkserver.shared())  # the services are forked, as in the CLI
        kit = Kit.__new__(Kit)
        kit.root = Path(sys.argv[2]); kit.sessions = kit.root / "sessions"; kit.workdir = kit.root / "work"
        kit.record = kit.root / "provider-requests.jsonl"
        steps = json.loads(sys.argv[3])
        host = Host(kit.config(steps, session_id=sys.argv[4]))
        async for event in host.run("go"):
            if event.type == "tool_call" and event.data["name"] == "wait_file":
                groups = [p.pgid for p in host.router.services.values()]
                forked_ = all(type(p.process).__name__ == "ForkedProcess" for p in host.router.services.values())
                record = {"groups": groups, "forked": forked_, "fork_servers": sorted(forkserver.server_pids())}
                (kit.root / "groups.json").write_text(json.dumps(record))

    asyncio.run(main())
    """
)


async def test_a_host_killed_mid_turn_leaves_no_process_and_the_session_resumes_with_every_message(kit):
    never = kit.root / "never-created"
    steps = [
        {"tool_calls": [call("c1", "echo", text="first")]},
        {"tool_calls": [call("c2", "wait_file", path=str(never))]},
        {"text": "resumed fine"},
    ]
    script = kit.root / "host_script.py"
    script.write_text(HOST_SCRIPT)
    session_id = persistence.new_session_id()
    child = subprocess.Popen(
        [
            sys.executable,
            str(script),
            str(Path(__file__).parent),
            str(kit.root),
            json.dumps(steps),
            session_id,
        ],
        stderr=subprocess.PIPE,
    )
    groups_file = kit.root / "groups.json"
    try:
        await _until(lambda: groups_file.exists() or child.poll() is not None, "the wait_file tool call")
        assert groups_file.exists(), child.stderr.read().decode() if child.stderr else ""
    finally:
        child.kill()
        child.wait()
    record = json.loads(groups_file.read_text())
    groups, fork_servers = record["groups"], record["fork_servers"]
    assert record["forked"] and fork_servers, "the services came from the fork server"
    await _until(lambda: not any(group_members(g) for g in groups), "services to exit on EOF")
    await _until(lambda: not any(_alive(pid) for pid in fork_servers), "the fork server to exit on EOF")
    assert persistence.read_metadata(kit.sessions, session_id)["status"] == "interrupted"
    before = persistence.read_transcript(kit.sessions, session_id)
    assert [m["role"] for m in before] == ["user", "assistant", "tool", "assistant"]

    host = kit.host(kit.config([{"text": "resumed fine"}], session_id=session_id))
    events = await kit.turn(host, "again")
    assert kit.complete(events)["response"] == "resumed fine"
    assert kit.of_type(events, "turn_start")[0].data["resumed"] is True
    seen = kit.provider_requests()[-1]["messages"]
    assert seen[:4] == before
    assert seen[4]["role"] == "tool" and seen[4]["tool_call_id"] == "c2"
    assert "interrupted" in seen[4]["content"]
    assert seen[5] == {"role": "user", "content": "again"}
    assert os.path.exists(kit.sessions / session_id / "transcript.jsonl")
