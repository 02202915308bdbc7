from amplifier_ipc.host.events import CONTENT_BLOCK_START, TOKEN, Event


def test_a_content_block_event_keeps_its_own_type_and_names_the_block_type() -> None:
    event = Event(CONTENT_BLOCK_START, {"type": "text", "index": 0}, session_id="s1")
    out = event.to_json()
    assert out["type"] == CONTENT_BLOCK_START
    assert out["block_type"] == "text"
    assert out["index"] == 0


def test_a_child_event_carries_its_parent_and_depth() -> None:
    out = Event(TOKEN, {"text": "hi"}, session_id="c", parent_id="p", depth=1).to_json()
    assert (out["text"], out["parent_id"], out["depth"]) == ("hi", "p", 1)
