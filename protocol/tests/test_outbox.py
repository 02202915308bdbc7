"""Outbox: answers at once, notifications coalesced, order kept, failures once."""

from __future__ import annotations

import asyncio

from amplifier_ipc_protocol.outbox import COALESCE_LIMIT_BYTES, Outbox
from protocol_testkit import wait_until


class RecordingWriter:
    def __init__(self, fail: bool = False) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.drained = 0
        self.fail = fail

    def write(self, data: bytes) -> None:
        if self.fail:
            raise BrokenPipeError("pipe closed")
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    async def drain(self) -> None:
        self.drained += 1


def _outbox(writer: RecordingWriter, failures: list[str] | None = None) -> Outbox:
    return Outbox(writer, asyncio.get_running_loop(), (failures if failures is not None else []).append)


async def test_sent_bytes_are_written_at_once() -> None:
    writer = RecordingWriter()
    _outbox(writer).send(b"a\n")
    assert writer.writes == [b"a\n"]


async def test_queued_bytes_are_written_together_when_the_loop_runs() -> None:
    writer = RecordingWriter()
    outbox = _outbox(writer)
    for n in range(3):
        outbox.queue(f"{n}\n".encode())
    assert writer.writes == []
    await wait_until(lambda: bool(writer.writes), "the scheduled flush")
    assert writer.writes == [b"0\n1\n2\n"]


async def test_a_send_after_queued_bytes_goes_out_after_them_in_one_write() -> None:
    writer = RecordingWriter()
    outbox = _outbox(writer)
    outbox.queue(b"token\n")
    outbox.send(b"answer\n")
    assert writer.writes == [b"token\nanswer\n"]


async def test_while_batching_everything_waits_for_the_flush() -> None:
    writer = RecordingWriter()
    outbox = _outbox(writer)
    outbox.batching = True
    outbox.send(b"a\n")
    outbox.queue(b"b\n")
    assert writer.writes == []
    outbox.batching = False
    outbox.flush()
    assert writer.writes == [b"a\nb\n"]


async def test_a_large_burst_is_written_before_the_loop_runs_and_asks_for_a_drain() -> None:
    writer = RecordingWriter()
    outbox = _outbox(writer)
    line = b"x" * 1023 + b"\n"
    for _ in range(COALESCE_LIMIT_BYTES // len(line)):
        outbox.queue(line)
    assert len(writer.writes) == 1 and len(writer.writes[0]) == COALESCE_LIMIT_BYTES
    assert outbox.drain_due
    await outbox.drain()
    assert writer.drained == 1 and not outbox.drain_due


async def test_a_failed_write_is_reported_once_and_later_writes_are_dropped() -> None:
    writer = RecordingWriter(fail=True)
    failures: list[str] = []
    outbox = _outbox(writer, failures)
    outbox.send(b"a\n")
    outbox.send(b"b\n")
    outbox.queue(b"c\n")
    outbox.flush()
    assert failures == ["write failed: pipe closed"]
    assert outbox.failed


async def test_close_flushes_then_closes_the_writer() -> None:
    writer = RecordingWriter()
    outbox = _outbox(writer)
    outbox.queue(b"last\n")
    outbox.close()
    assert writer.writes == [b"last\n"] and writer.closed
