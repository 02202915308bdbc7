"""One turn through real services: events, routing, system prompt, persistence."""

from __future__ import annotations

import json

from amplifier_ipc.host import persistence


async def test_a_turn_yields_turn_start_tokens_and_complete_with_the_response(kit):
    host = kit.host(kit.config([{"text": "hello there"}]))
    events = await kit.turn(host, "say hello")
    assert events[0].type == "turn_start"
    assert events[0].data["services"] == ["core", "provider", "tools"]
    tokens = "".join(e.data["text"] for e in kit.of_type(events, "stream.token"))
    assert tokens.split() == ["hello", "there"]
    done = kit.complete(events)
    assert done["status"] == "completed"
    assert done["response"] == "hello there"
    assert done["usage"] == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    assert {"services_ms", "prepare_ms", "execute_ms", "teardown_ms", "total_ms"} <= set(done["timings"])
    assert all(e.session_id == host.session_id for e in events)
