"""Line framing: one JSON object per line (PROTOCOL §1)."""

from __future__ import annotations

import math

import pytest
from amplifier_ipc_protocol.errors import InvalidParams, InvalidRequest, ParseError
from amplifier_ipc_protocol.framing import MAX_LINE_BYTES, LineSplitter, OversizedLine, decode, encode


def test_a_message_is_encoded_as_one_line_ending_in_a_newline() -> None:
    data = encode({"jsonrpc": "2.0", "method": "x", "params": {"text": "a\nb"}})
    assert data.endswith(b"\n")
    assert data.count(b"\n") == 1


def test_non_ascii_text_round_trips_as_utf8() -> None:
    message = {"text": "héllo ✓ 日本 🎉"}
    data = encode(message)
    assert "日本".encode() in data
    assert decode(data) == message


def test_a_value_that_cannot_be_encoded_is_a_clear_error_naming_its_type() -> None:
    with pytest.raises(InvalidParams, match="not JSON serializable: object"):
        encode({"value": object()})


def test_an_integer_too_large_for_json_is_a_clear_error() -> None:
    with pytest.raises(InvalidParams, match="cannot be encoded"):
        encode({"value": 2**70})


def test_sets_tuples_and_models_are_encoded_as_their_json_form() -> None:
    from amplifier_ipc_protocol.models import ToolResult

    data = decode(encode({"s": {1}, "t": (1, 2), "r": ToolResult.ok("x")}))
    assert data == {"s": [1], "t": [1, 2], "r": {"success": True, "output": "x", "error": None}}


def test_nan_is_sent_as_null_because_json_has_no_nan() -> None:
    assert decode(encode({"x": math.nan})) == {"x": None}


def test_bytes_that_are_not_json_are_a_parse_error() -> None:
    with pytest.raises(ParseError):
        decode(b"{not json")


def test_invalid_utf8_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        decode(b'{"text": "\xff\xfe"}')


def test_a_batch_is_refused_as_an_invalid_request() -> None:
    with pytest.raises(InvalidRequest, match="batches are not supported"):
        decode(b'[{"jsonrpc": "2.0", "method": "ping", "id": 1}]')


def test_json_that_is_not_an_object_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequest, match="got int"):
        decode(b"42")


def test_the_splitter_returns_complete_lines_and_holds_back_the_rest() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b'{"a": 1}\n{"b"') == [b'{"a": 1}']
    assert splitter.pending() == 4
    assert splitter.feed(b": 2}\n") == [b'{"b": 2}']
    assert splitter.pending() == 0


def test_blank_and_whitespace_lines_are_skipped() -> None:
    assert LineSplitter().feed(b"\n  \n\r\n{}\n") == [b"{}"]


def test_a_line_split_over_many_chunks_is_joined() -> None:
    splitter = LineSplitter()
    out: list[bytes | OversizedLine] = []
    for byte in b'{"text": "abc"}\n':
        out += splitter.feed(bytes([byte]))
    assert out == [b'{"text": "abc"}']


def test_a_line_at_the_limit_is_kept_and_one_byte_longer_is_reported_oversized() -> None:
    splitter = LineSplitter(limit=10)
    assert splitter.feed(b"x" * 10 + b"\n") == [b"x" * 10]
    assert splitter.feed(b"y" * 11 + b"\n") == [OversizedLine(11)]


def test_an_oversized_line_arriving_in_chunks_is_discarded_as_it_comes_and_reading_carries_on() -> None:
    splitter = LineSplitter(limit=10)
    assert splitter.feed(b"a" * 8) == []
    assert splitter.feed(b"a" * 8) == []
    assert splitter.pending() == 16
    assert splitter.feed(b"a" * 8) == []
    assert splitter.feed(b"aa\n{}\n") == [OversizedLine(26), b"{}"]
    assert splitter.pending() == 0


def test_the_default_limit_is_64_mib() -> None:
    assert MAX_LINE_BYTES == 64 * 1024 * 1024
    assert LineSplitter().limit == MAX_LINE_BYTES


def test_a_chunk_of_one_whole_line_is_that_line_and_a_blank_one_is_nothing() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b'{"a": 1}\n') == [b'{"a": 1}']
    assert splitter.feed(b" \t\n") == []
    assert splitter.feed(b"\n") == []
    assert splitter.pending() == 0
