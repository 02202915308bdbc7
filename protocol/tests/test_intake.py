"""take_over: a StreamReader's bytes go straight to the Peer, then it is given back."""

from __future__ import annotations

import asyncio
import os

from amplifier_ipc_protocol.intake import take_over

# Bounds every wait here; nothing should take a fraction of it.
DEADLINE_S = 20.0


async def test_bytes_already_held_come_first_then_new_ones_as_they_arrive() -> None:
    stream = asyncio.StreamReader()
    stream.feed_data(b"held")
    fed: list[bytes] = []
    ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    give_back = take_over(stream, fed.append, ended)
    stream.feed_data(b"new")
    assert fed == [b"held", b"new"]
    stream.feed_eof()
    assert await ended == "end of stream"
    give_back()
    stream.feed_data(b"after")
    assert fed == [b"held", b"new"]


async def test_a_stream_that_already_ended_ends_at_once() -> None:
    stream = asyncio.StreamReader()
    stream.feed_data(b"last")
    stream.feed_eof()
    fed: list[bytes] = []
    ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    take_over(stream, fed.append, ended)
    assert fed == [b"last"]
    assert ended.result() == "end of stream"


async def test_a_read_error_ends_it_with_the_reason() -> None:
    stream = asyncio.StreamReader()
    ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    take_over(stream, lambda data: None, ended)
    stream.set_exception(ConnectionResetError("reset by peer"))
    assert ended.result() == "read failed: reset by peer"


async def _pipe_stream() -> tuple[asyncio.StreamReader, asyncio.BaseTransport, int]:
    read_fd, write_fd = os.pipe()
    stream = asyncio.StreamReader()
    transport, _ = await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(stream), os.fdopen(read_fd, "rb", buffering=0)
    )
    return stream, transport, write_fd


async def _pipe_chunks_go_to_feed_then_back_to_the_stream() -> None:
    stream, transport, write_fd = await _pipe_stream()
    fed: list[bytes] = []
    got_one = asyncio.Event()

    def feed(data: bytes) -> None:
        fed.append(data)
        got_one.set()

    ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    give_back = take_over(stream, feed, ended)
    assert transport.get_protocol().data_received is feed, "the pipe's protocol calls feed itself"  # type: ignore[attr-defined]
    os.write(write_fd, b"line\n")
    await asyncio.wait_for(got_one.wait(), DEADLINE_S)
    assert fed == [b"line\n"]
    give_back()
    os.write(write_fd, b"after\n")
    assert await asyncio.wait_for(stream.readline(), DEADLINE_S) == b"after\n"
    assert fed == [b"line\n"]
    os.close(write_fd)
    assert await asyncio.wait_for(stream.read(), DEADLINE_S) == b""
    transport.close()


async def test_a_pipes_chunks_go_straight_to_feed_and_back_to_the_stream_after() -> None:
    await _pipe_chunks_go_to_feed_then_back_to_the_stream()


def test_the_same_on_asyncios_own_loop() -> None:
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_pipe_chunks_go_to_feed_then_back_to_the_stream())
    finally:
        loop.close()
