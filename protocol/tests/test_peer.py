"""The full-duplex JSON-RPC Peer (PROTOCOL §2), over real pipes."""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any

import orjson
import pytest
from amplifier_ipc_protocol.deferred import Deferred
from amplifier_ipc_protocol.errors import (
    InternalError,
    InvalidParams,
    MethodNotFound,
    ProviderError,
    RequestCancelled,
    RequestTimeout,
    ServiceGone,
)
from amplifier_ipc_protocol.peer import Peer, current_request_id
from protocol_testkit import DEADLINE_S, close_pair, peer_pair, raw_peer, wait_until


async def test_a_request_gets_the_result_of_a_plain_or_async_handler() -> None:
    async def double(params: dict[str, Any]) -> int:
        return int(params["n"]) * 2

    left, right = await peer_pair(right_handlers={"double": double, "echo": lambda p: p})
    try:
        assert await left.request("double", {"n": 21}, timeout=DEADLINE_S) == 42
        assert await left.request("echo", {"x": "é"}, timeout=DEADLINE_S) == {"x": "é"}
        assert await left.request("echo", timeout=DEADLINE_S) == {}
    finally:
        await close_pair(left, right)


async def test_answers_are_matched_by_id_when_they_come_back_in_another_order() -> None:
    release = asyncio.Event()

    async def slow(params: dict[str, Any]) -> str:
        await release.wait()
        return "slow"

    left, right = await peer_pair(right_handlers={"slow": slow, "fast": lambda p: "fast"})
    try:
        slow_call = asyncio.ensure_future(left.request("slow", timeout=DEADLINE_S))
        assert await left.request("fast", timeout=DEADLINE_S) == "fast"
        assert not slow_call.done()
        release.set()
        assert await slow_call == "slow"
    finally:
        await close_pair(left, right)


async def test_both_sides_send_requests_at_the_same_time() -> None:
    left, right = await peer_pair(
        left_handlers={"who": lambda p: "left"}, right_handlers={"who": lambda p: "right"}
    )
    try:
        results = await asyncio.gather(
            *[left.request("who", timeout=DEADLINE_S) for _ in range(50)],
            *[right.request("who", timeout=DEADLINE_S) for _ in range(50)],
        )
        assert results == ["right"] * 50 + ["left"] * 50
    finally:
        await close_pair(left, right)


async def test_a_handler_that_calls_back_into_the_other_side_does_not_block_other_answers() -> None:
    gate = asyncio.Event()

    async def state_get(params: dict[str, Any]) -> dict[str, Any]:
        await gate.wait()
        return {"value": 7}

    async def work(params: dict[str, Any]) -> Any:
        answer = await right.request("state.get", {"key": "k"}, timeout=DEADLINE_S)
        return answer["value"]

    left, right = await peer_pair(
        left_handlers={"state.get": state_get}, right_handlers={"work": work, "ping": lambda p: {}}
    )
    try:
        working = asyncio.ensure_future(left.request("work", timeout=DEADLINE_S))
        assert await left.request("ping", timeout=DEADLINE_S) == {}
        assert not working.done()
        gate.set()
        assert await working == 7
    finally:
        await close_pair(left, right)


async def test_a_protocol_error_raised_by_a_handler_arrives_as_the_same_class_with_its_data() -> None:
    def fail(params: dict[str, Any]) -> None:
        raise ProviderError("rate limited", data={"retryable": True, "retry_after": 3})

    left, right = await peer_pair(right_handlers={"fail": fail})
    try:
        with pytest.raises(ProviderError) as caught:
            await left.request("fail", timeout=DEADLINE_S)
        assert caught.value.retryable and caught.value.retry_after == 3
    finally:
        await close_pair(left, right)


async def test_a_handler_bug_becomes_an_internal_error_with_a_traceback() -> None:
    async def buggy(params: dict[str, Any]) -> None:
        raise KeyError("missing")

    left, right = await peer_pair(right_handlers={"buggy": buggy})
    try:
        with pytest.raises(InternalError, match="buggy failed: KeyError") as caught:
            await left.request("buggy", timeout=DEADLINE_S)
        assert "Traceback" in caught.value.data["traceback"]
    finally:
        await close_pair(left, right)


async def test_an_unknown_method_is_method_not_found() -> None:
    left, right = await peer_pair()
    try:
        with pytest.raises(MethodNotFound, match="nope"):
            await left.request("nope", timeout=DEADLINE_S)
    finally:
        await close_pair(left, right)


async def test_a_result_that_cannot_be_encoded_is_answered_as_an_internal_error() -> None:
    left, right = await peer_pair(right_handlers={"odd": lambda p: object()})
    try:
        with pytest.raises(InternalError, match="result cannot be sent"):
            await left.request("odd", timeout=DEADLINE_S)
    finally:
        await close_pair(left, right)


async def test_params_that_cannot_be_encoded_fail_the_call_before_anything_is_sent() -> None:
    left, right = await peer_pair(right_handlers={"echo": lambda p: p})
    try:
        with pytest.raises(InvalidParams, match="cannot be encoded"):
            await left.request("echo", {"x": object()}, timeout=DEADLINE_S)
        assert left.pending_requests == 0
        assert await left.request("echo", {"x": 1}, timeout=DEADLINE_S) == {"x": 1}
    finally:
        await close_pair(left, right)


async def test_a_request_past_its_timeout_fails_and_the_other_side_is_told_to_cancel() -> None:
    cancelled = asyncio.Event()

    async def hang(params: dict[str, Any]) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    left, right = await peer_pair(right_handlers={"hang": hang})
    try:
        with pytest.raises(RequestTimeout, match=r"did not answer hang within 0\.05s"):
            await left.request("hang", timeout=0.05)
        await asyncio.wait_for(cancelled.wait(), DEADLINE_S)
    finally:
        await close_pair(left, right)


async def test_cancelling_the_caller_sends_cancel_to_the_other_side() -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def hang(params: dict[str, Any]) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    left, right = await peer_pair(right_handlers={"hang": hang})
    try:
        call = asyncio.ensure_future(left.request("hang"))
        await asyncio.wait_for(started.wait(), DEADLINE_S)
        call.cancel()
        await asyncio.wait_for(cancelled.wait(), DEADLINE_S)
        assert left.pending_requests == 0
    finally:
        await close_pair(left, right)


async def test_the_cancel_notification_cancels_the_handler_and_its_answer_is_cancelled() -> None:
    raw = await raw_peer({"hang": _hang_until_cancelled})
    try:
        raw.send(b'{"jsonrpc":"2.0","id":"a","method":"hang"}\n')
        await wait_until(lambda: "a" in raw.peer._incoming, "handler start")
        raw.send(b'{"jsonrpc":"2.0","method":"cancel","params":{"id":"a","reason":"user"}}\n')
        answer = await raw.receive()
        assert answer["id"] == "a"
        assert answer["error"]["code"] == RequestCancelled.code
    finally:
        raw.close()


async def test_a_request_cancelled_before_its_handler_started_is_still_answered_cancelled() -> None:
    # Regression: a task cancelled before its first step never ran the code that answers.
    raw = await raw_peer({"hang": _hang_until_cancelled, "ping": lambda p: {}})
    try:
        raw.send(
            b'{"jsonrpc":"2.0","id":1,"method":"hang"}\n{"jsonrpc":"2.0","method":"cancel","params":{"id":1}}\n'
            b'{"jsonrpc":"2.0","id":2,"method":"ping"}\n'
        )
        answers = {}
        for _ in range(2):
            answer = await raw.receive()
            answers[answer["id"]] = answer
        assert answers[1]["error"]["code"] == RequestCancelled.code
        assert answers[2]["result"] == {}
        assert raw.peer._incoming == {}
    finally:
        raw.close()


async def test_a_plain_handler_returning_a_coroutine_cancelled_before_it_started_leaves_no_unawaited_coroutine() -> (
    None
):
    # Regression: the Host's router wraps its coroutine handlers in plain
    # functions; cancelled before its first step, the coroutine was dropped
    # unawaited ("coroutine 'Router._hook_emit' was never awaited").
    raw = await raw_peer({"hang": lambda p: _hang_until_cancelled(p), "ping": lambda p: {}})
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            raw.send(
                b'{"jsonrpc":"2.0","id":1,"method":"hang"}\n{"jsonrpc":"2.0","method":"cancel","params":{"id":1}}\n'
                b'{"jsonrpc":"2.0","id":2,"method":"ping"}\n'
            )
            answers = {}
            for _ in range(2):
                answer = await raw.receive()
                answers[answer["id"]] = answer
            gc.collect()
        assert answers[1]["error"]["code"] == RequestCancelled.code
        assert not [w for w in caught if "never awaited" in str(w.message)]
    finally:
        raw.close()


async def test_a_graceful_cancel_leaves_the_handler_running_and_reaches_the_cancel_handler() -> None:
    seen: list[dict[str, Any]] = []
    stop = asyncio.Event()

    async def work(params: dict[str, Any]) -> str:
        await stop.wait()
        return "finished"

    def on_cancel(params: dict[str, Any]) -> None:
        seen.append(params)
        stop.set()

    raw = await raw_peer({"work": work, "cancel": on_cancel})
    try:
        raw.send(b'{"jsonrpc":"2.0","id":1,"method":"work"}\n')
        raw.send(b'{"jsonrpc":"2.0","method":"cancel","params":{"id":1,"graceful":true}}\n')
        answer = await raw.receive()
        assert answer == {"jsonrpc": "2.0", "id": 1, "result": "finished"}
        assert seen == [{"id": 1, "graceful": True}]
    finally:
        raw.close()


async def test_every_pending_request_fails_at_once_with_service_gone_when_the_other_side_closes() -> None:
    raw = await raw_peer()
    calls = [asyncio.ensure_future(raw.peer.request("x")) for _ in range(3)]
    await wait_until(lambda: raw.peer.pending_requests == 3, "requests sent")
    raw.close()
    for call in calls:
        with pytest.raises(ServiceGone, match="before answering x"):
            await asyncio.wait_for(call, DEADLINE_S)
    with pytest.raises(ServiceGone, match="cannot send y"):
        await raw.peer.request("y")


async def test_handlers_still_running_are_cancelled_when_the_other_side_closes() -> None:
    cancelled = asyncio.Event()

    async def hang(params: dict[str, Any]) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    raw = await raw_peer({"hang": hang})
    raw.send(b'{"jsonrpc":"2.0","id":1,"method":"hang"}\n')
    await wait_until(lambda: 1 in raw.peer._incoming, "handler start")
    raw.close()
    await asyncio.wait_for(cancelled.wait(), DEADLINE_S)


async def test_notifications_arrive_in_order_and_unhandled_ones_reach_the_fallback() -> None:
    got: list[Any] = []
    left, right = await peer_pair(
        right_handlers={"tick": lambda p: got.append(p["n"])},
        on_notification=lambda method, params: got.append(method),
    )
    try:
        for n in range(100):
            left.notify_nowait("tick", {"n": n})
        await left.notify("other", {})
        await wait_until(lambda: len(got) == 101, "notifications")
        assert got == [*range(100), "other"]
    finally:
        await close_pair(left, right)


async def test_a_failing_notification_handler_is_reported_and_does_not_stop_the_peer() -> None:
    reports: list[str] = []

    async def broken(params: dict[str, Any]) -> None:
        raise ValueError("bad notification")

    raw = await raw_peer({"broken": broken, "ping": lambda p: {}})
    raw.peer._report = reports.append
    raw.send(b'{"jsonrpc":"2.0","method":"broken","params":{}}\n{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
    assert (await raw.receive())["result"] == {}
    await wait_until(lambda: any("bad notification" in r for r in reports), "report")
    raw.close()


async def test_a_failing_fallback_is_reported_and_a_deferred_method_ignores_notifications() -> None:
    reports: list[str] = []
    seen: list[str] = []

    def fallback(method: str, params: dict[str, Any]) -> None:
        seen.append(method)
        if method == "boom":
            raise ValueError("fallback failed")

    raw = await raw_peer(
        {"later": Deferred(lambda params, reply: seen.append("deferred"))}, on_notification=fallback
    )
    raw.peer._report = reports.append
    raw.send(
        b'{"jsonrpc":"2.0","method":"boom","params":{}}\n'
        b'{"jsonrpc":"2.0","method":"later","params":{}}\n'
        b'{"jsonrpc":"2.0","method":"after","params":{}}\n'
    )
    await wait_until(lambda: "after" in seen, "the notification after the failure")
    assert seen == ["boom", "after"], "the Deferred method's notification reached nobody"
    assert any("fallback failed" in report for report in reports)
    raw.close()


@pytest.mark.parametrize(
    ("line", "code", "answer_id"),
    [
        (b"{not json", -32700, None),
        (b'{"text": "\xff"}', -32700, None),
        (b"[1, 2]", -32600, None),
        (b'"text"', -32600, None),
        (b'{"jsonrpc":"2.0","id":null,"method":"ping"}', -32600, None),
        (b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}', -32600, None),
        (b'{"jsonrpc":"2.0","id":3,"method":5}', -32600, 3),
        (b'{"jsonrpc":"2.0","id":4,"method":"ping","params":[1]}', -32602, 4),
        (b'{"jsonrpc":"2.0","id":5}', -32600, 5),
    ],
)
async def test_a_bad_line_is_answered_and_the_next_request_still_gets_its_answer(
    line: bytes, code: int, answer_id: Any
) -> None:
    raw = await raw_peer({"ping": lambda p: {}})
    try:
        raw.send(line + b"\n" + b'{"jsonrpc":"2.0","id":"next","method":"ping"}\n')
        error = await raw.receive()
        assert error["id"] == answer_id
        assert error["error"]["code"] == code
        assert isinstance(error["error"]["data"], dict)
        assert await raw.receive() == {"jsonrpc": "2.0", "id": "next", "result": {}}
    finally:
        raw.close()


async def test_a_request_without_the_jsonrpc_field_is_still_served() -> None:
    raw = await raw_peer({"ping": lambda p: {}})
    try:
        raw.send(b'{"id":1,"method":"ping"}\n')
        assert (await raw.receive())["result"] == {}
    finally:
        raw.close()


async def test_an_id_already_in_flight_is_refused() -> None:
    raw = await raw_peer({"hang": _hang_until_cancelled})
    try:
        raw.send(b'{"jsonrpc":"2.0","id":1,"method":"hang"}\n')
        await wait_until(lambda: 1 in raw.peer._incoming, "handler start")
        raw.send(b'{"jsonrpc":"2.0","id":1,"method":"hang"}\n')
        answer = await raw.receive()
        assert answer["error"]["code"] == -32600
        assert "already in flight" in answer["error"]["message"]
    finally:
        raw.close()


async def test_answers_to_unknown_ids_and_null_id_errors_are_reported_not_answered() -> None:
    reports: list[str] = []
    raw = await raw_peer({"ping": lambda p: {}})
    raw.peer._report = reports.append
    raw.send(
        b'{"jsonrpc":"2.0","id":99,"result":1}\n{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}\n'
    )
    raw.send(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
    assert (await raw.receive())["id"] == 1
    assert any("unknown request id 99" in r for r in reports)
    assert any("could not read a message: x" in r for r in reports)
    raw.close()


async def test_a_handler_knows_the_id_of_the_request_it_serves() -> None:
    left, right = await peer_pair(right_handlers={"whoami": lambda p: current_request_id.get()})
    try:
        first = await left.request("whoami", timeout=DEADLINE_S)
        second = await left.request("whoami", timeout=DEADLINE_S)
        assert isinstance(first, int) and second == first + 1
    finally:
        await close_pair(left, right)


async def test_a_message_of_several_megabytes_travels_whole() -> None:
    big = "x" * (5 * 1024 * 1024)
    left, right = await peer_pair(right_handlers={"echo": lambda p: p})
    try:
        assert await left.request("echo", {"big": big}, timeout=DEADLINE_S) == {"big": big}
    finally:
        await close_pair(left, right)


async def _hang_until_cancelled(params: dict[str, Any]) -> None:
    await asyncio.Event().wait()


class _ChunkReader:
    """Any object with an async read(n): not an asyncio StreamReader."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def read(self, n: int = -1) -> bytes:
        return self._chunks.pop(0) if self._chunks else b""


class _ListWriter:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        pass

    async def drain(self) -> None:
        pass


async def test_a_peer_reads_from_any_object_with_an_async_read_method() -> None:
    writer = _ListWriter()
    reader = _ChunkReader(
        [b'{"jsonrpc":"2.0","id":1,"me', b'thod":"ping"}\n{bad\n', b'{"id":2,"method":"ping"}\n']
    )
    peer = Peer(reader, writer, handlers={"ping": lambda p: {}}, report=lambda text: None)
    await asyncio.wait_for(peer.run(), DEADLINE_S)
    lines = [orjson.loads(line) for line in bytes(writer.data).splitlines()]
    assert [(line.get("id"), "result" in line) for line in lines] == [(1, True), (None, False), (2, True)]
    assert peer.closed and peer.close_reason == "end of stream"


async def test_bytes_already_buffered_in_a_stream_reader_are_served_first() -> None:
    stream = asyncio.StreamReader()
    stream.feed_data(b'{"id":1,"method":"ping"}\n')
    stream.feed_eof()
    writer = _ListWriter()
    peer = Peer(stream, writer, handlers={"ping": lambda p: {}})
    await asyncio.wait_for(peer.run(), DEADLINE_S)
    assert orjson.loads(bytes(writer.data)) == {"jsonrpc": "2.0", "id": 1, "result": {}}


async def test_a_coroutine_handler_runs_inside_a_task_so_asyncio_timeout_works() -> None:
    # Regression: handlers run eagerly outside any task broke asyncio.timeout().
    async def timed(params: dict[str, Any]) -> bool:
        async with asyncio.timeout(DEADLINE_S):
            return asyncio.current_task() is not None

    left, right = await peer_pair(right_handlers={"timed": timed})
    try:
        assert await left.request("timed", timeout=DEADLINE_S) is True
    finally:
        await close_pair(left, right)


async def test_a_plain_handler_returning_an_awaitable_is_awaited() -> None:
    async def later() -> str:
        return "later"

    left, right = await peer_pair(right_handlers={"wrapped": lambda params: later()})
    try:
        assert await left.request("wrapped", timeout=DEADLINE_S) == "later"
    finally:
        await close_pair(left, right)


async def test_a_notification_that_cannot_be_served_gets_no_answer_and_the_peer_carries_on() -> None:
    reports: list[str] = []
    raw = await raw_peer({"ping": lambda p: {}})
    raw.peer._report = reports.append
    raw.send(b'{"jsonrpc":"2.0","method":"unknown.thing"}\n{"jsonrpc":"2.0","method":"ping","params":[1]}\n')
    raw.send(b'{"jsonrpc":"2.0","id":"after","method":"ping"}\n')
    assert await raw.receive() == {"jsonrpc": "2.0", "id": "after", "result": {}}
    assert reports == ["notification ping ignored: params must be an object"]
    raw.close()
