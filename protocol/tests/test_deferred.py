"""Deferred handlers and request_soon (deferred.py): passing a request on
without a task, as the Host does with request.tool_execute."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from amplifier_ipc_protocol.deferred import Deferred, Reply
from amplifier_ipc_protocol.errors import (
    InternalError,
    InvalidParams,
    ProtocolError,
    RequestCancelled,
    RequestTimeout,
    ServiceGone,
)
from protocol_testkit import DEADLINE_S, close_pair, peer_pair, raw_peer, wait_until


async def test_a_deferred_handler_answers_later_through_its_reply() -> None:
    held: list[Reply] = []
    left, right = await peer_pair(
        right_handlers={"later": Deferred(lambda params, reply: held.append(reply))}
    )
    call = asyncio.ensure_future(left.request("later", {"x": 1}, timeout=DEADLINE_S))
    await wait_until(lambda: bool(held), "the reply to be handed over")
    assert not call.done()
    held[0].result({"answer": 42})
    held[0].result({"ignored": True})  # a second answer is dropped
    assert await call == {"answer": 42}
    await close_pair(left, right)


async def test_what_a_deferred_handler_raises_before_answering_is_the_answer() -> None:
    def refuse(params: dict[str, Any], reply: Reply) -> None:
        if params.get("bug"):
            raise KeyError("oops")
        raise InvalidParams("no", data={"field": "x"})

    left, right = await peer_pair(right_handlers={"refuse": Deferred(refuse)})
    with pytest.raises(InvalidParams) as refused:
        await left.request("refuse", {}, timeout=DEADLINE_S)
    assert refused.value.data["field"] == "x"
    with pytest.raises(InternalError, match="KeyError"):
        await left.request("refuse", {"bug": True}, timeout=DEADLINE_S)
    await close_pair(left, right)


async def test_a_cancelled_deferred_request_runs_on_cancel_and_is_answered_cancelled() -> None:
    withdrawn: list[str] = []

    def hold(params: dict[str, Any], reply: Reply) -> None:
        reply.on_cancel = lambda: withdrawn.append(params["name"])

    left, right = await peer_pair(right_handlers={"hold": Deferred(hold)})
    call = asyncio.ensure_future(left.request("hold", {"name": "a"}, timeout=0.2))
    with pytest.raises(RequestTimeout):
        await call  # the caller gives up and sends cancel
    await wait_until(lambda: withdrawn == ["a"], "on_cancel to run")
    assert not right._incoming, "the cancelled request is forgotten"
    await close_pair(left, right)


async def test_the_answer_to_a_cancelled_deferred_request_says_cancelled() -> None:
    side = await raw_peer({"hold": Deferred(lambda params, reply: None)})
    side.send(b'{"jsonrpc":"2.0","id":7,"method":"hold","params":{}}\n')
    side.send(b'{"jsonrpc":"2.0","method":"cancel","params":{"id":7}}\n')
    answer = await side.receive()
    assert answer["id"] == 7 and answer["error"]["code"] == RequestCancelled.code
    side.close()


async def test_deferred_requests_are_withdrawn_when_the_other_side_closes() -> None:
    withdrawn: list[int] = []

    def hold(params: dict[str, Any], reply: Reply) -> None:
        reply.on_cancel = lambda: withdrawn.append(1)

    left, right = await peer_pair(right_handlers={"hold": Deferred(hold)})
    call = asyncio.ensure_future(left.request("hold", {}))
    await wait_until(lambda: bool(right._incoming), "the request to arrive")
    await left.close()
    await wait_until(lambda: withdrawn == [1], "on_cancel at the close")
    with pytest.raises(RequestCancelled):
        await call  # left still reads: it is told
    await close_pair(right)


async def test_request_soon_hands_the_answer_or_the_error_to_its_callback() -> None:
    def fail(params: dict[str, Any]) -> None:
        raise InvalidParams("bad input")

    left, right = await peer_pair(right_handlers={"double": lambda p: p["n"] * 2, "fail": fail})
    got: list[tuple[Any, ProtocolError | None]] = []
    left.request_soon("double", {"n": 21}, lambda result, error: got.append((result, error)))
    left.request_soon("fail", {}, lambda result, error: got.append((result, error)))
    await wait_until(lambda: len(got) == 2, "both answers")
    assert got[0] == (42, None)
    assert got[1][0] is None and isinstance(got[1][1], InvalidParams)
    assert left.pending_requests == 0
    await close_pair(left, right)


def _slow_handler() -> tuple[Any, asyncio.Event, asyncio.Event]:
    """A handler that waits longer than any test, and the events it sets when
    it starts and when it is cancelled."""
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def slow(params: dict[str, Any]) -> None:
        started.set()
        try:
            await asyncio.sleep(DEADLINE_S * 2)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    return slow, started, cancelled


async def test_request_soon_times_out_and_tells_the_other_side_to_cancel() -> None:
    slow, _, cancelled = _slow_handler()
    left, right = await peer_pair(right_handlers={"slow": slow})
    got: list[ProtocolError | None] = []
    left.request_soon("slow", {}, lambda result, error: got.append(error), timeout=0.1)
    await wait_until(lambda: bool(got), "the timeout")
    assert isinstance(got[0], RequestTimeout)
    await asyncio.wait_for(cancelled.wait(), DEADLINE_S)
    await close_pair(left, right)


async def test_request_soon_fails_with_service_gone_when_the_other_side_closes() -> None:
    left, right = await peer_pair(right_handlers={"hold": Deferred(lambda params, reply: None)})
    got: list[ProtocolError | None] = []
    left.request_soon("hold", {}, lambda result, error: got.append(error))
    await wait_until(lambda: bool(right._incoming), "the request to arrive")
    await right.close()
    await wait_until(lambda: bool(got), "the callback")
    assert isinstance(got[0], ServiceGone)
    with pytest.raises(ServiceGone):
        left.request_soon("hold", {}, lambda result, error: None)
    await close_pair(left)


async def test_a_withdrawn_request_soon_sends_cancel_and_drops_its_answer() -> None:
    slow, started, cancelled = _slow_handler()
    left, right = await peer_pair(right_handlers={"slow": slow})
    got: list[Any] = []
    request_id = left.request_soon("slow", {}, lambda result, error: got.append(error), timeout=DEADLINE_S)
    await asyncio.wait_for(started.wait(), DEADLINE_S)
    left.cancel_request(request_id, "not needed")
    await asyncio.wait_for(cancelled.wait(), DEADLINE_S)
    assert got == [] and left.pending_requests == 0
    await close_pair(left, right)
