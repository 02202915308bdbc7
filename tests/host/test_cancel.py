"""Cancellation, approvals, pre-spawn and teardown on signals."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from amplifier_ipc.host import HostLimits, persistence
from amplifier_ipc.host.process import group_members

# Deadline for conditions these tests wait on.
WAIT_S = 20.0


def call(call_id: str, name: str, **arguments: Any) -> dict[str, Any]:
    return {"id": call_id, "name": name, "arguments": arguments}


def waiting_steps(path: Path) -> list[dict[str, Any]]:
    return [{"tool_calls": [call("w1", "wait_file", path=str(path))]}, {"text": "not reached"}]


async def test_a_graceful_cancel_lets_the_running_tool_finish_then_stops(kit):
    release = kit.root / "release"
    host = kit.host(kit.config(waiting_steps(release)))
    events = []
    async for event in host.run("go"):
        events.append(event)
        if event.type == "tool_call":
            host.cancel()
            release.touch()
    done = kit.complete(events)
    assert done["status"] == "cancelled"
    assert done["response"].endswith("[stopped]")
    assert kit.of_type(events, "cancelling")[0].data["immediate"] is False
    transcript = persistence.read_transcript(kit.sessions, host.session_id)
    assert transcript[-1]["content"] == "waited"  # the tool's real result, not a synthetic one
    assert persistence.read_metadata(kit.sessions, host.session_id)["status"] == "cancelled"


@pytest.mark.parametrize("how", ["immediate", "twice"])
async def test_an_immediate_cancel_stops_at_once_and_leaves_a_valid_transcript(kit, how):
    host = kit.host(kit.config(waiting_steps(kit.root / "never")))
    events = []
    async for event in host.run("go"):
        events.append(event)
        if event.type == "tool_call":
            if how == "immediate":
                host.cancel(immediate=True)
            else:
                host.cancel()
                host.cancel()
    assert kit.complete(events)["status"] == "cancelled"
    assert kit.of_type(events, "cancelling")[-1].data["immediate"] is True
    transcript = persistence.read_transcript(kit.sessions, host.session_id)
    assert [m["role"] for m in transcript] == ["user", "assistant", "tool"]
    assert transcript[-1]["tool_call_id"] == "w1" and "cancelled" in transcript[-1]["content"]


async def test_cancelling_the_task_that_runs_the_turn_tears_everything_down(kit):
    host = kit.host(kit.config(waiting_steps(kit.root / "never")))
    started = asyncio.Event()

    async def consume() -> None:
        async for event in host.run("go"):
            if event.type == "tool_call":
                started.set()

    task = asyncio.ensure_future(consume())
    await asyncio.wait_for(started.wait(), WAIT_S)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    kit.assert_no_processes_left(host)
    assert persistence.read_metadata(kit.sessions, host.session_id)["status"] == "cancelled"


SIGTERM_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    sys.path.insert(0, sys.argv[1])
    from conftest import Kit
    from pathlib import Path
    from amplifier_ipc.host import Host

    async def main():
        kit = Kit.__new__(Kit)
        kit.root = Path(sys.argv[2]); kit.sessions = kit.root / "sessions"; kit.workdir = kit.root / "work"
        kit.record = kit.root / "provider-requests.jsonl"
        host = Host(kit.config(json.loads(sys.argv[3]), session_id=sys.argv[4]))
        async for event in host.run("go"):
            if event.type == "tool_call" and event.data["name"] == "wait_file":
                groups = [p.pgid for p in host.router.services.values()]
                (kit.root / "groups.json").write_text(json.dumps(groups))

    asyncio.run(main())
    """
)


async def test_sigterm_to_the_host_process_tears_down_every_group_before_it_exits(kit):
    pidfile = kit.root / "grandchild.pid"
    steps = [
        {"tool_calls": [call("g", "grandchild", pidfile=str(pidfile))]},
        {"tool_calls": [call("w", "wait_file", path=str(kit.root / "never"))]},
    ]
    script = kit.root / "script.py"
    script.write_text(SIGTERM_SCRIPT)
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
    deadline = time.monotonic() + WAIT_S
    while not groups_file.exists() and child.poll() is None:
        assert time.monotonic() < deadline, "the turn never reached its wait_file call"
        await asyncio.sleep(0.02)
    assert groups_file.exists(), child.stderr.read().decode() if child.stderr else ""
    child.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(child.wait, WAIT_S) == -signal.SIGTERM
    # the Host tore down (not just EOF): the orphaned grandchild that ignores SIGTERM is gone too
    assert not any(group_members(g) for g in json.loads(groups_file.read_text()))
    assert not Path(f"/proc/{int(pidfile.read_text())}").exists() or _zombie(int(pidfile.read_text()))
    assert persistence.read_metadata(kit.sessions, session_id)["status"] == "cancelled"


def _zombie(pid: int) -> bool:
    data = Path(f"/proc/{pid}/stat").read_bytes()
    return data[data.rfind(b")") + 2 : data.rfind(b")") + 3] == b"Z"


# -- approvals ----------------------------------------------------------------


def approval(**fields: Any) -> dict[str, Any]:
    return {"approval": {"prompt": "Run it?", "options": ["allow", "deny"], "default": "deny", **fields}}


async def test_an_approval_request_is_an_event_the_consumer_answers(kit):
    host = kit.host(kit.config(core=approval(timeout=30)))
    events = []
    async for event in host.run("go"):
        events.append(event)
        if event.type == "approval_request":
            with pytest.raises(ValueError, match="not one of"):
                host.send_approval(event.data["request_id"], "maybe")
            host.send_approval(event.data["request_id"], "allow")
    request = kit.of_type(events, "approval_request")[0].data
    assert (
        request["prompt"] == "Run it?"
        and request["options"] == ["allow", "deny"]
        and request["service"] == "core"
    )
    assert kit.complete(events)["response"].endswith("[approval: allow]")


async def test_an_unanswered_approval_applies_its_default_after_its_timeout(kit):
    host = kit.host(kit.config(core=approval(timeout=0.2)))
    events = await kit.turn(host)
    assert kit.of_type(events, "approval_request")
    assert kit.complete(events)["response"].endswith("[approval: deny]")
    with pytest.raises(KeyError, match="no approval request"):
        host.send_approval(kit.of_type(events, "approval_request")[0].data["request_id"], "allow")


async def test_without_a_consumer_able_to_answer_the_default_applies_at_once(kit):
    host = kit.host(kit.config(core=approval(timeout=300)), interactive=False)
    events = await kit.turn(host)
    assert not kit.of_type(events, "approval_request")
    assert kit.complete(events)["response"].endswith("[approval: deny]")


async def test_approval_mode_auto_approves_without_asking(kit):
    host = kit.host(kit.config(core=approval(timeout=300), approval_mode="auto"))
    events = await kit.turn(host)
    assert not kit.of_type(events, "approval_request")
    assert kit.complete(events)["response"].endswith("[approval: allow]")


# -- pre-spawn ----------------------------------------------------------------


async def test_pre_spawned_services_serve_the_next_turn_and_are_discarded_on_close(kit):
    host = kit.host(kit.config(), prespawn=True)
    assert host._prespawned is not None  # started at once: a loop is running
    first = await host._prespawned
    first_pids = {name: p.process.pid for name, p in first.processes.items()}
    await kit.turn(host)
    assert {name: p.process.pid for name, p in host.router.services.items()} == first_pids
    assert host._prespawned is not None  # the next turn's services start as this one ends
    spare = await host._prespawned
    assert all(p.alive for p in spare.processes.values())
    assert not set(first_pids.values()) & {p.process.pid for p in spare.processes.values()}
    await host.close()
    for process in spare.processes.values():
        assert process.process.returncode is not None and group_members(process.pgid) == []


async def test_a_pre_spawned_service_that_died_while_waiting_is_replaced(kit):
    host = kit.host(kit.config(), prespawn=True, limits=HostLimits(shutdown_grace=0.5, term_grace=0.5))
    assert host._prespawned is not None
    group = await host._prespawned
    group.processes["tools"].kill()
    await group.processes["tools"].wait_exit()
    events = await kit.turn(host)
    assert kit.complete(events)["status"] == "completed"
    assert host.router.services["tools"].process.pid != group.processes["tools"].process.pid
    await host.close()
    kit.assert_no_processes_left(host)
