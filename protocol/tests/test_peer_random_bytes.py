"""Property: no bytes on the wire crash or wedge a Peer. After any garbage
(ended by a newline), a valid request still gets its answer in time."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocol_testkit import raw_peer

# Generous: an answer normally takes well under a millisecond.
ANSWER_DEADLINE_S = 10.0

_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(),
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def _dumps(value: Any) -> bytes:
    # The stdlib writes what orjson refuses (huge integers, NaN), which makes
    # better garbage.
    return json.dumps(value).encode()


_keys = st.sampled_from(["jsonrpc", "id", "method", "params", "result", "error", "code", "message", "data"])
_methods = st.sampled_from(["ping", "cancel", "shutdown", "hang", "nope", "", "state.get"])
# Objects shaped like JSON-RPC messages reach deeper code than plain noise.
_rpc_like = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "1.0", 2]),
        "id": st.one_of(
            st.integers(), st.text(max_size=4), st.none(), st.floats(allow_nan=False), st.booleans()
        ),
        "method": st.one_of(_methods, _json_values),
        "params": _json_values,
        "result": _json_values,
        "error": st.one_of(
            _json_values, st.fixed_dictionaries({"code": st.integers(), "message": _json_values})
        ),
    },
).map(_dumps)
_garbage = st.one_of(
    st.binary(max_size=2048),
    _rpc_like,
    st.dictionaries(_keys, _json_values, max_size=6).map(_dumps),
    st.lists(_rpc_like, max_size=4).map(lambda lines: b"\n".join(lines)),
)


async def _hang(params: dict[str, Any]) -> None:
    await asyncio.Event().wait()


async def _survives(garbage: bytes) -> None:
    raw = await raw_peer({"ping": lambda p: {}, "hang": _hang})
    try:
        raw.send(garbage + b"\n" + b'{"jsonrpc":"2.0","id":"probe-0","method":"ping"}\n')
        async with asyncio.timeout(ANSWER_DEADLINE_S):
            while True:
                answer = await raw.receive()
                if answer.get("id") == "probe-0":
                    assert answer.get("result") == {}, answer
                    break
        assert not raw.peer.closed
    finally:
        raw.close()
        await asyncio.wait_for(raw.peer.wait_closed(), ANSWER_DEADLINE_S)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_garbage)
def test_after_any_garbage_a_valid_request_still_gets_its_answer(garbage: bytes) -> None:
    asyncio.run(_survives(garbage))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_garbage, min_size=2, max_size=20))
def test_a_long_stream_of_garbage_never_wedges_one_peer(chunks: list[bytes]) -> None:
    async def run() -> None:
        raw = await raw_peer({"ping": lambda p: {}, "hang": _hang})
        try:
            for index, chunk in enumerate(chunks):
                probe = f"probe-{index}"
                raw.send(
                    chunk + b"\n" + orjson.dumps({"jsonrpc": "2.0", "id": probe, "method": "ping"}) + b"\n"
                )
                async with asyncio.timeout(ANSWER_DEADLINE_S):
                    while (await raw.receive()).get("id") != probe:
                        pass
        finally:
            raw.close()
            await asyncio.wait_for(raw.peer.wait_closed(), ANSWER_DEADLINE_S)

    asyncio.run(run())
