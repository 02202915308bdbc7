"""start_eagerly: a coroutine's first step runs at once; a task only if it waits."""

from __future__ import annotations

import asyncio
import contextvars

from amplifier_ipc_protocol.eager import start_eagerly

marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="outside")


async def test_a_coroutine_that_never_waits_finishes_inline_without_a_task() -> None:
    ran: list[str] = []

    async def quick() -> None:
        ran.append("done")

    assert start_eagerly(asyncio.get_running_loop(), quick()) is None
    assert ran == ["done"]


async def test_a_coroutine_that_waits_continues_in_a_task_with_its_result() -> None:
    gate = asyncio.Event()
    steps: list[str] = []

    async def slow() -> str:
        steps.append("first")
        await gate.wait()
        steps.append("second")
        return "result"

    task = start_eagerly(asyncio.get_running_loop(), slow())
    assert steps == ["first"]
    assert task is not None
    gate.set()
    assert await task == "result"
    assert steps == ["first", "second"]


async def test_a_task_cancelled_before_it_ran_delivers_the_cancel_inside_the_coroutine() -> None:
    seen: list[str] = []

    async def waits() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("cancelled inside")
            raise

    task = start_eagerly(asyncio.get_running_loop(), waits())
    assert task is not None
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    assert seen == ["cancelled inside"]
    assert task.cancelled()


async def test_context_variables_set_by_the_coroutine_do_not_leak_to_the_caller() -> None:
    gate = asyncio.Event()

    async def sets() -> str:
        marker.set("inside")
        await gate.wait()
        return marker.get()

    task = start_eagerly(asyncio.get_running_loop(), sets())
    assert marker.get() == "outside"
    gate.set()
    assert task is not None and await task == "inside"


async def test_an_exception_in_the_first_step_reaches_the_caller() -> None:
    async def fails() -> None:
        raise ValueError("at once")

    try:
        start_eagerly(asyncio.get_running_loop(), fails())
    except ValueError as exc:
        assert str(exc) == "at once"
    else:
        raise AssertionError("expected ValueError")


async def test_an_exception_after_waiting_is_the_tasks_exception() -> None:
    async def fails_later() -> None:
        await asyncio.sleep(0)
        raise ValueError("later")

    task = start_eagerly(asyncio.get_running_loop(), fails_later())
    assert task is not None
    try:
        await task
    except ValueError as exc:
        assert str(exc) == "later"
    else:
        raise AssertionError("expected ValueError")
