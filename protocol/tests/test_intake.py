"""take_over: a StreamReader's bytes go straight to the Peer, then it is given back."""

from __future__ import annotations

import asyncio

from amplifier_ipc_protocol.intake import take_over


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
