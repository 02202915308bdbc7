"""Persistence: transcript, metadata, state, events, resume, and the reader API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from amplifier_ipc.host import PersistenceError, SessionNotFound, persistence
from amplifier_ipc.host.persistence import SessionStore


def call(call_id: str, name: str, **arguments: Any) -> dict[str, Any]:
    return {"id": call_id, "name": name, "arguments": arguments}


async def test_every_message_is_in_the_transcript_and_the_metadata_records_the_turn(kit):
    steps = [{"tool_calls": [call("c1", "echo", text="x")]}, {"text": "done"}]
    host = kit.host(kit.config(steps, agent="tester"))
    await kit.turn(host, "first prompt")
    transcript = persistence.read_transcript(kit.sessions, host.session_id)
    assert [m["role"] for m in transcript] == ["user", "assistant", "tool", "assistant"]
    metadata = persistence.read_metadata(kit.sessions, host.session_id)
    assert metadata["id"] == host.session_id and metadata["agent"] == "tester"
    assert metadata["name"] == "first prompt" and metadata["status"] == "completed"
    assert metadata["turns"] == 1 and metadata["usage"]["total_tokens"] == 30
    assert metadata["parent_id"] is None and metadata["working_dir"] == str(kit.workdir)
    assert metadata["error"] is None and metadata["created"] <= metadata["updated"]
    logged = [json.loads(line)["type"] for line in (kit.sessions / host.session_id / "events.jsonl").open()]
    assert logged[0] == "turn_start" and logged[-1] == "complete" and "stream.token" not in logged


async def test_a_second_turn_resumes_the_context_and_the_state(kit):
    config = kit.config([{"text": "one"}], core={"count_turns": True})
    host = kit.host(config)
    await kit.turn(host, "first")
    events = await kit.turn(host, "second")
    assert kit.of_type(events, "turn_start")[0].data["resumed"] is True
    messages = kit.provider_requests()[-1]["messages"]
    assert [m.get("content") for m in messages if m["role"] == "user"] == ["first", "second"]
    assert persistence.read_state(kit.sessions, host.session_id) == {"loop.turns": 2}
    assert persistence.read_metadata(kit.sessions, host.session_id)["turns"] == 2


async def test_a_new_host_resumes_a_session_by_id(kit):
    first = kit.host(kit.config([{"text": "one"}]))
    await kit.turn(first, "remember me")
    second = kit.host(kit.config([{"text": "two"}], session_id=first.session_id))
    await kit.turn(second, "again")
    users = [m["content"] for m in kit.provider_requests()[-1]["messages"] if m["role"] == "user"]
    assert users == ["remember me", "again"]


async def test_a_tool_service_can_set_state_that_the_next_turn_reads(kit):
    steps = [{"tool_calls": [call("c1", "remember", key="tools.colour", value="blue")]}, {"text": "ok"}]
    host = kit.host(kit.config(steps))
    events = await kit.turn(host)
    assert kit.of_type(events, "tool_result")[0].data["output"] == "blue"
    assert persistence.read_state(kit.sessions, host.session_id) == {"tools.colour": "blue"}


def test_a_transcript_with_unanswered_tool_calls_gets_synthetic_results():
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "", "tool_calls": [call("a", "x"), call("b", "y")]},
        {"role": "tool", "tool_call_id": "a", "name": "x", "content": "ok"},
    ]
    added = persistence.repair_transcript(messages)
    assert [(m["tool_call_id"], m["name"], m["metadata"]["success"]) for m in added] == [("b", "y", False)]
    assert persistence.repair_transcript(messages + added) == []


def test_a_cut_short_last_line_is_ignored_but_a_damaged_middle_line_is_an_error(tmp_path):
    folder = tmp_path / "s1"
    folder.mkdir()
    (folder / "transcript.jsonl").write_text('{"role": "user", "content": "a"}\n{"role": "assis')
    assert persistence.read_transcript(tmp_path, "s1") == [{"role": "user", "content": "a"}]
    (folder / "transcript.jsonl").write_text('{"role": "user"\n{"role": "user", "content": "a"}\n')
    with pytest.raises(PersistenceError, match="line 1 is not JSON"):
        persistence.read_transcript(tmp_path, "s1")


@pytest.mark.parametrize("bad", ["../etc", "a/b", "", ".hidden", "a..b", "x" * 300, "a b"])
def test_session_ids_that_could_escape_the_sessions_folder_are_refused(tmp_path, bad):
    with pytest.raises(PersistenceError, match="invalid session id"):
        persistence.validate_session_id(bad)
    with pytest.raises(PersistenceError):
        persistence.read_metadata(tmp_path, bad)


def test_a_prefix_resolves_to_its_one_session_and_an_ambiguous_one_lists_them(tmp_path):
    for session_id in ("abc123", "abd456"):
        store = SessionStore(tmp_path, session_id)
        store.open()
        store.write_metadata({"id": session_id, "status": "completed", "updated": session_id})
        store.close()
    assert persistence.resolve_session_id(tmp_path, "abc") == "abc123"
    with pytest.raises(PersistenceError, match="matches several sessions: abc123, abd456"):
        persistence.resolve_session_id(tmp_path, "ab")
    with pytest.raises(SessionNotFound, match="no session id starts with 'zz'"):
        persistence.resolve_session_id(tmp_path, "zz")
    assert [m["id"] for m in persistence.list_sessions(tmp_path)] == ["abd456", "abc123"]


def test_a_running_session_whose_host_is_gone_reads_as_interrupted(tmp_path):
    store = SessionStore(tmp_path, "s1")
    store.open()
    store.write_metadata({"id": "s1", "status": "running"})
    assert persistence.read_metadata(tmp_path, "s1")["status"] == "running"
    store.close()  # the Host is gone: nobody holds the lock
    assert persistence.read_metadata(tmp_path, "s1")["status"] == "interrupted"


def test_a_session_in_use_cannot_be_opened_twice(tmp_path):
    first = SessionStore(tmp_path, "s1")
    first.open()
    try:
        with pytest.raises(PersistenceError, match="in use by another process"):
            SessionStore(tmp_path, "s1").open()
    finally:
        first.close()


def test_reading_a_session_that_does_not_exist_says_how_to_find_one(tmp_path):
    with pytest.raises(SessionNotFound) as caught:
        persistence.read_metadata(tmp_path, "nope")
    assert "session list" in caught.value.hint
