"""The Server as a real subprocess: stdout protection, EOF, cancel, bad bytes."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from amplifier_ipc_protocol.errors import RequestCancelled
from amplifier_ipc_protocol.framing import MAX_LINE_BYTES
from protocol_testkit import (
    DEADLINE_S,
    SampleService,
    piped_to_service,
    start_service,
    stop_service,
    wait_until,
)


@pytest.fixture
async def reported() -> list[str]:
    return []


@pytest.fixture
async def service(reported: list[str]) -> Any:
    running = await start_service(on_bad_line=reported.append)
    try:
        yield running
    finally:
        await stop_service(running)


async def call(service: SampleService, method: str, params: dict[str, Any] | None = None) -> Any:
    return await service.peer.request(method, params, timeout=DEADLINE_S)


def _pid_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return True
    return data[data.rfind(b")") + 2 : data.rfind(b")") + 3] == b"Z"


async def test_a_stray_print_in_a_tool_goes_to_stderr_not_the_wire(
    service: SampleService, reported: list[str]
) -> None:
    result = await call(service, "tool.execute", {"name": "echo", "input": {"text": "print"}})
    assert result["output"] == "print"
    await wait_until(lambda: "stray print from a tool" in service.stderr_text(), "the print on stderr")
    assert await call(service, "ping") == {}
    assert reported == []


async def test_a_child_process_writing_to_stdout_goes_to_stderr_not_the_wire(
    service: SampleService, reported: list[str]
) -> None:
    await call(service, "tool.execute", {"name": "echo", "input": {"text": "child"}})
    await wait_until(
        lambda: "child writes to its stdout" in service.stderr_text(), "the child's output on stderr"
    )
    assert await call(service, "ping") == {}
    assert reported == []


async def test_the_service_exits_promptly_when_its_stdin_closes(service: SampleService) -> None:
    await call(service, "describe")
    assert service.process.stdin is not None
    service.process.stdin.close()
    assert await asyncio.wait_for(service.process.wait(), DEADLINE_S) == 0


async def test_requests_read_before_stdin_ends_are_answered_and_a_hung_one_is_not_waited_for() -> None:
    """``echo REQUEST | service`` answers (writing-services.md does it); a
    request still running after EOF_ANSWER_GRACE_S is cancelled, not awaited."""
    requests = [
        {"jsonrpc": "2.0", "id": 1, "method": "describe"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tool.execute",
            "params": {"name": "echo", "input": {"text": "hi"}},
        },
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tool.execute",
            "params": {"name": "echo", "input": {"text": "sleep"}},
        },
    ]
    answers, returncode = await piped_to_service(requests)
    assert answers[1]["result"]["name"] == "sample-svc"
    assert answers[2]["result"]["output"] == "hi"
    assert 3 not in answers or "error" in answers[3], "the hung request is not answered with a result"
    assert returncode == 0


async def test_child_processes_the_service_started_are_terminated_when_it_exits(
    service: SampleService,
) -> None:
    result = await call(service, "tool.execute", {"name": "echo", "input": {"text": "spawn"}})
    child = int(result["output"])
    assert not _pid_gone(child)
    assert service.process.stdin is not None
    service.process.stdin.close()
    await asyncio.wait_for(service.process.wait(), DEADLINE_S)
    await wait_until(lambda: _pid_gone(child), f"child {child} to be terminated")


async def test_a_tool_blocked_in_a_thread_does_not_keep_the_service_alive_after_eof(
    service: SampleService,
) -> None:
    # Regression: asyncio.run waited without limit for executor threads.
    blocked = asyncio.ensure_future(
        call(service, "tool.execute", {"name": "echo", "input": {"text": "block"}})
    )
    await call(service, "ping")
    assert service.process.stdin is not None
    service.process.stdin.close()
    await asyncio.wait_for(service.process.wait(), DEADLINE_S)
    with pytest.raises(Exception, match="gone"):
        await blocked


async def test_a_cancelled_request_is_answered_cancelled_and_the_service_carries_on(
    service: SampleService,
) -> None:
    request_id = service.peer._next_id
    sleeping = asyncio.ensure_future(
        call(service, "tool.execute", {"name": "echo", "input": {"text": "sleep"}})
    )
    await wait_until(lambda: service.peer.pending_requests == 1, "the request to be sent")
    assert await call(service, "ping") == {}
    await service.peer.notify("cancel", {"id": request_id, "reason": "test"})
    with pytest.raises(RequestCancelled):
        await sleeping
    assert await call(service, "ping") == {}


async def test_a_handler_calling_back_into_the_host_does_not_block_other_answers() -> None:
    gate = asyncio.Event()
    stored: dict[str, Any] = {}

    async def state_set(params: dict[str, Any]) -> dict[str, Any]:
        await gate.wait()
        stored[params["key"]] = params["value"]
        return {"ok": True}

    async def state_get(params: dict[str, Any]) -> dict[str, Any]:
        return {"value": stored.get(params["key"])}

    running = await start_service(host_handlers={"state.set": state_set, "state.get": state_get})
    try:
        waiting = asyncio.ensure_future(
            call(running, "tool.execute", {"name": "echo", "input": {"text": "state"}})
        )
        for _ in range(3):
            assert await call(running, "ping") == {}
        assert (await call(running, "tool.execute", {"name": "add", "input": {"a": 40}}))["output"] == 42
        assert not waiting.done()
        gate.set()
        result = await asyncio.wait_for(waiting, DEADLINE_S)
        assert result["output"] == str(stored["echo"])
    finally:
        await stop_service(running)


async def test_bytes_that_are_not_utf8_are_answered_with_a_parse_error_and_skipped(
    service: SampleService, reported: list[str]
) -> None:
    await service.write_raw(b'{"jsonrpc": "2.0", "id": 1, "method": "\xff\xfe"}\n\xc3\x28\n')
    assert await call(service, "ping") == {}
    await wait_until(lambda: sum("could not read a message" in r for r in reported) == 2, "two parse errors")
    assert all("line is not valid JSON" in r for r in reported)


async def test_a_line_over_64_mib_is_answered_and_skipped(
    service: SampleService, reported: list[str]
) -> None:
    await service.write_raw(b'{"x": "' + b"a" * MAX_LINE_BYTES + b'"}\n')
    assert await call(service, "ping") == {}
    await wait_until(lambda: any("exceeds the 64 MiB limit" in r for r in reported), "the oversize answer")


async def test_a_line_just_under_the_limit_is_still_served(service: SampleService) -> None:
    text = "a" * (MAX_LINE_BYTES - 200)
    result = await call(service, "tool.execute", {"name": "echo", "input": {"text": text}})
    assert len(result["output"]) == len(text)


async def test_the_service_has_no_stdin_for_its_children(service: SampleService) -> None:
    # fd 0 of the service is /dev/null: a child reading stdin cannot steal the Host's messages.
    await call(service, "ping")
    target = os.readlink(f"/proc/{service.process.pid}/fd/0")
    assert target == "/dev/null"


async def test_a_provider_service_imports_the_wire_models_after_describe_not_before() -> None:
    models = "amplifier_ipc_protocol.models"
    lean = await start_service("lean_svc")
    try:
        before = await call(lean, "tool.execute", {"name": "loaded", "input": {"module": models}})
        assert before["output"] is False, "nothing may import pydantic before describe"
        await call(lean, "describe")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE_S
        while True:
            now = await call(lean, "tool.execute", {"name": "loaded", "input": {"module": models}})
            if now["output"] is True:
                break
            assert loop.time() < deadline, "the models were not preloaded after describe"
            await asyncio.sleep(0.01)
    finally:
        await stop_service(lean)
