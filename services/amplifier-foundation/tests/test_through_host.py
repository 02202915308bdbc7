"""The foundation service under the real Host, with the scripted provider of
services/amplifier-providers: every process real, every message on real pipes."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from amplifier_ipc.host import Event, Host, HostLimits, ServiceSpec, SessionConfig
from amplifier_ipc.host.process import group_members

# The Host's own test services (a recording hook that answers as configured).
HOST_TEST_SERVICES = Path(__file__).resolve().parents[3] / "tests" / "services"
# Short enough that a broken test ends quickly, long enough for a loaded 2-core machine.
LIMITS = HostLimits(
    describe_timeout=15.0, hook_timeout=10.0, shutdown_grace=2.0, term_grace=1.0, cancel_grace=5.0
)
# Deadline for one whole turn.
TURN_S = 60.0


class Session:
    """One session of foundation + scripted provider (+ optional test hooks)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.workdir = root / "work"
        self.workdir.mkdir()
        self.script = root / "script.yaml"
        self.record = root / "requests.jsonl"
        self.hook_record = root / "hooks.jsonl"
        self.hosts: list[Host] = []

    def host(
        self,
        steps: list[dict[str, Any]],
        foundation: dict[str, Any] | None = None,
        hooks: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Host:
        self.script.write_text(json.dumps(steps))
        config = {"approval": {"mode": "auto"}, "status_context": {"git": False}}
        config.update(foundation or {})
        services = [
            ServiceSpec(
                name="foundation",
                command=[sys.executable, "-m", "amplifier_foundation"],
                env={"AMPLIFIER_HOME": str(self.home)},
                config=config,
            ),
            ServiceSpec(
                name="providers",
                command=[sys.executable, "-m", "amplifier_providers"],
                config={"scripted": {"script": str(self.script), "record": str(self.record)}},
            ),
        ]
        if hooks is not None:
            services.append(
                ServiceSpec(
                    name="testhooks",
                    command=[sys.executable, "-m", "tsvc_hooks"],
                    env={"PYTHONPATH": str(HOST_TEST_SERVICES), "TSVC_NAME": "testhooks"},
                    config={"recorder": {"path": str(self.hook_record), **hooks}},
                )
            )
        fields.setdefault("approval_mode", "ask")
        session = SessionConfig(
            services=services,
            orchestrator="foundation:streaming",
            context_manager="foundation:simple",
            provider="providers:scripted",
            content=["foundation:context/foundation.md"],
            working_dir=self.workdir,
            sessions_dir=self.home / "sessions",
            **fields,
        )
        host = Host(session, limits=LIMITS)
        self.hosts.append(host)
        return host

    def requests(self) -> list[dict[str, Any]]:
        return [json.loads(line)["request"] for line in self.record.read_text().splitlines()]

    def transcript(self, host: Host) -> list[dict[str, Any]]:
        path = self.home / "sessions" / host.session_id / "transcript.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]

    def hook_log(self, host: Host) -> list[dict[str, Any]]:
        path = self.home / "sessions" / host.session_id / "hook-events.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]


async def turn(host: Host, prompt: str, on_event: Callable[[Event], Any] | None = None) -> list[Event]:
    async def collect() -> list[Event]:
        events = []
        async for event in host.run(prompt):
            events.append(event)
            if on_event is not None:
                on_event(event)
        return events

    return await asyncio.wait_for(collect(), TURN_S)


def complete(events: list[Event]) -> dict[str, Any]:
    assert events[-1].type == "complete", [
        (e.type, e.data) for e in events if e.type in ("error", "complete")
    ]
    return events[-1].data


def last_tool_message(request: dict[str, Any]) -> dict[str, Any]:
    return [m for m in request["messages"] if m["role"] == "tool"][-1]


def tool_results(transcript: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in transcript if m["role"] == "tool"]


def assert_valid_transcript(transcript: list[dict[str, Any]]) -> None:
    """Every tool call answered once, right after its assistant message."""
    for index, message in enumerate(transcript):
        if message["role"] == "assistant" and message.get("tool_calls"):
            ids = [c["id"] for c in message["tool_calls"]]
            answered = [m.get("tool_call_id") for m in transcript[index + 1 : index + 1 + len(ids)]]
            assert sorted(answered) == sorted(ids), (ids, answered)
    all_ids = [m["tool_call_id"] for m in tool_results(transcript)]
    assert len(all_ids) == len(set(all_ids)), "a tool call answered twice"


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[Session]:
    made = Session(tmp_path)
    yield made
    for host in made.hosts:
        await host.close()
        for process in host.router.services.values():
            assert process.process.returncode is not None, f"{process.name} still runs"
            assert group_members(process.pgid) == [], f"{process.name}'s group still has processes"


async def test_a_text_only_turn_streams_tokens_and_stores_the_exchange(sessions: Session) -> None:
    host = sessions.host([{"text": "Hello from the script."}])
    events = await turn(host, "hi")
    assert complete(events)["status"] == "completed"
    assert complete(events)["response"] == "Hello from the script."
    assert "".join(e.data["text"] for e in events if e.type == "stream.token") == "Hello from the script."
    transcript = sessions.transcript(host)
    assert [m["role"] for m in transcript] == ["user", "assistant"]
    request = sessions.requests()[0]
    assert "foundation agent" in request["system"]
    assert {"read_file", "bash", "todo"} <= {t["name"] for t in request["tools"]}
    logged = [r["event"] for r in sessions.hook_log(host)]
    assert logged[:2] == ["execution:start", "prompt:submit"] and logged[-1] == "prompt:complete"


async def test_one_tool_call_reads_a_real_file(sessions: Session) -> None:
    (sessions.workdir / "notes.txt").write_text("the answer is 42\n")
    host = sessions.host(
        [
            {"tool_calls": [{"id": "c1", "name": "read_file", "arguments": {"path": "notes.txt"}}]},
            {"text": "42."},
        ]
    )
    events = await turn(host, "read notes")
    assert complete(events)["response"] == "42."
    assert [e.data["name"] for e in events if e.type == "tool_call"] == ["read_file"]
    assert "the answer is 42" in last_tool_message(sessions.requests()[1])["content"]
    assert_valid_transcript(sessions.transcript(host))


async def test_three_tool_calls_overlap_in_time(sessions: Session) -> None:
    # Each command marks itself, then waits for all three marks: run one at a
    # time, the first would wait out its timeout and fail.
    wait_all = (
        "for i in $(seq 400); do [ -e m1 ] && [ -e m2 ] && [ -e m3 ] && exit 0; sleep 0.05; done; exit 1"
    )
    calls = [
        {"id": f"c{n}", "name": "bash", "arguments": {"command": f"touch m{n}; {wait_all}", "timeout": 30}}
        for n in (1, 2, 3)
    ]
    host = sessions.host([{"tool_calls": calls}, {"text": "all met"}])
    await turn(host, "meet")
    results = tool_results(sessions.transcript(host))
    assert [r["tool_call_id"] for r in results] == ["c1", "c2", "c3"]
    assert all(r["metadata"]["success"] for r in results), results


async def test_a_deny_reaches_the_model_as_the_tool_result(sessions: Session) -> None:
    host = sessions.host(
        [
            {"tool_calls": [{"id": "c1", "name": "bash", "arguments": {"command": "touch made"}}]},
            {"text": "ok"},
        ],
        foundation={"approval": {"mode": "deny"}},
    )
    await turn(host, "make it")
    assert not (sessions.workdir / "made").exists()
    result = last_tool_message(sessions.requests()[1])
    assert result["content"].startswith("Error: denied: bash needs approval")


async def test_hooks_of_another_service_modify_tool_input_and_result(sessions: Session) -> None:
    (sessions.workdir / "a.txt").write_text("AAA\n")
    (sessions.workdir / "b.txt").write_text("BBB\n")
    answers = {
        "tool:pre": {"action": "MODIFY", "data": {"tool_name": "read_file", "tool_input": {"path": "b.txt"}}},
        "tool:post": {
            "action": "MODIFY",
            "data": {"result": {"success": True, "output": "checked", "error": None}},
        },
    }
    steps = [
        {"tool_calls": [{"id": "c1", "name": "read_file", "arguments": {"path": "a.txt"}}]},
        {"text": "ok"},
    ]
    host = sessions.host(steps, hooks={"answers": answers})
    await turn(host, "read a")
    seen = [json.loads(line) for line in sessions.hook_record.read_text().splitlines()]
    post = next(r for r in seen if r["event"] == "tool:post")
    assert "BBB" in post["data"]["result"]["output"]  # the modified input ran
    assert tool_results(sessions.transcript(host))[0]["content"] == "checked"


async def test_an_ephemeral_injection_reaches_the_provider_and_not_the_transcript(sessions: Session) -> None:
    host = sessions.host([{"text": "ok"}], foundation={"status_context": {"git": False, "date": True}})
    await turn(host, "where am I?")
    last = sessions.requests()[0]["messages"][-1]
    assert last["role"] == "user" and "<environment>" in last["content"]
    assert str(sessions.workdir.resolve()) in last["content"]
    assert "<environment>" not in json.dumps(sessions.transcript(host))


@pytest.mark.parametrize(("decision", "runs"), [("allow", True), ("deny", False)])
async def test_approval_asked_through_the_host_is_granted_or_denied(
    sessions: Session, decision: str, runs: bool
) -> None:
    steps = [
        {"tool_calls": [{"id": "c1", "name": "write_file", "arguments": {"path": "w.txt", "content": "x"}}]},
        {"text": "ok"},
    ]
    host = sessions.host(steps, foundation={"approval": {"mode": "ask"}})

    def answer(event: Event) -> None:
        if event.type == "approval_request":
            host.send_approval(event.data["request_id"], decision)

    events = await turn(host, "write it", on_event=answer)
    asked = [e for e in events if e.type == "approval_request"]
    assert len(asked) == 1 and "w.txt" in asked[0].data["prompt"]
    assert (sessions.workdir / "w.txt").exists() is runs
    audit = (sessions.home / "sessions" / host.session_id / "approvals.jsonl").read_text().splitlines()
    assert json.loads(audit[-1])["decision"] == ("allowed" if runs else "denied")


async def test_a_retryable_provider_error_then_success(sessions: Session) -> None:
    host = sessions.host(
        [{"error": {"code": 429, "retryable": True, "retry_after": 0}}, {"text": "second time lucky"}]
    )
    events = await turn(host, "go")
    assert complete(events)["response"] == "second time lucky"
    logged = [r["event"] for r in sessions.hook_log(host)]
    assert logged.count("provider:error") == 1 and logged.count("provider:retry") == 1


async def test_max_iterations_stops_the_loop(sessions: Session) -> None:
    call = {"name": "todo", "arguments": {"action": "read"}}
    host = sessions.host(
        [{"tool_calls": [{"id": "a", **call}]}, {"tool_calls": [{"id": "b", **call}]}],
        orchestrator_config={"max_iterations": 2},
    )
    events = await turn(host, "loop")
    assert "after 2 iterations" in complete(events)["response"]
    assert_valid_transcript(sessions.transcript(host))


async def test_graceful_cancel_finishes_the_running_tool_and_keeps_a_valid_transcript(
    sessions: Session,
) -> None:
    wait_go = "for i in $(seq 400); do [ -e go ] && echo finished && exit 0; sleep 0.05; done; exit 1"
    steps = [
        {"tool_calls": [{"id": "c1", "name": "bash", "arguments": {"command": f"touch started; {wait_go}"}}]},
        {"text": "never"},
    ]
    host = sessions.host(steps)

    def on_event(event: Event) -> None:
        if event.type == "tool_call":
            host.cancel()
        if event.type == "cancelling":
            (sessions.workdir / "go").touch()

    events = await turn(host, "work", on_event=on_event)
    assert complete(events)["status"] == "cancelled"
    transcript = sessions.transcript(host)
    assert_valid_transcript(transcript)
    assert "finished" in tool_results(transcript)[0]["content"]
    assert len(sessions.requests()) == 1


async def test_immediate_cancel_answers_every_call_and_the_next_turn_runs(sessions: Session) -> None:
    steps = [
        {
            "tool_calls": [
                {"id": f"c{n}", "name": "bash", "arguments": {"command": "sleep 120"}} for n in (1, 2)
            ]
        },
        {"text": "fresh turn"},
    ]
    host = sessions.host(steps)

    def on_event(event: Event) -> None:
        if event.type == "tool_call" and event.data["id"] == "c2":
            host.cancel(immediate=True)

    events = await turn(host, "sleep", on_event=on_event)
    assert complete(events)["status"] == "cancelled"
    transcript = sessions.transcript(host)
    assert_valid_transcript(transcript)
    assert [r["tool_call_id"] for r in tool_results(transcript)] == ["c1", "c2"]
    assert all(r["metadata"]["success"] is False for r in tool_results(transcript))
    second = await turn(host, "again")
    assert complete(second)["response"] == "fresh turn"


async def test_compaction_across_turns_keeps_tool_calls_with_their_results(sessions: Session) -> None:
    (sessions.workdir / "big.txt").write_text("".join(f"line {i} " + "x" * 60 + "\n" for i in range(60)))
    steps: list[dict[str, Any]] = []
    for n in range(4):
        steps += [
            {"tool_calls": [{"id": f"r{n}", "name": "read_file", "arguments": {"path": "big.txt"}}]},
            {"text": f"read {n}"},
        ]
    host = sessions.host(steps, foundation={"simple": {"context_window": 4_000, "output_reserve": 1_000}})
    for n in range(4):
        assert complete(await turn(host, f"read it, round {n}"))["status"] == "completed"
    last = sessions.requests()[-1]["messages"]
    assert len(last) < len(sessions.transcript(host))
    assert_valid_transcript(last)
    assert last[0]["content"] != "read it, round 0"
    compactions = [r for r in sessions.hook_log(host) if r["event"] == "context:compaction"]
    assert compactions and compactions[-1]["data"]["after"] < compactions[-1]["data"]["before"]
