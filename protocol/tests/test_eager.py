"""start_task: a real Task, started eagerly where Python supports it."""

from __future__ import annotations

import asyncio
import contextvars

import pytest
from amplifier_ipc_protocol.eager import EAGER, start_task

marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="outside")


async def test_the_coroutine_runs_inside_a_real_task_so_timeouts_work() -> None:
    async def uses_timeout() -> bool:
        async with asyncio.timeout(60):
            return asyncio.current_task() is not None

    assert await start_task(asyncio.get_running_loop(), uses_timeout()) is True


@pytest.mark.skipif(not EAGER, reason="tasks start eagerly only on Python 3.12+")
async def test_a_coroutine_that_never_waits_is_done_when_start_returns() -> None:
    task = start_task(asyncio.get_running_loop(), _quick())
    assert task.done() and task.result() == "quick"


async def _quick() -> str:
    return "quick"


async def test_a_coroutine_that_waits_continues_and_gives_its_result() -> None:
    gate = asyncio.Event()

    async def slow() -> str:
        await gate.wait()
        return "result"

    task = start_task(asyncio.get_running_loop(), slow(), name="slow")
    assert task.get_name() == "slow"
    gate.set()
    assert await task == "result"


async def test_context_variables_set_by_the_coroutine_do_not_leak_to_the_caller() -> None:
    async def sets() -> str:
        marker.set("inside")
        await asyncio.sleep(0)
        return marker.get()

    task = start_task(asyncio.get_running_loop(), sets())
    assert marker.get() == "outside"
    assert await task == "inside"
