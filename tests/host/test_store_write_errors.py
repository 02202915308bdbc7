"""A full disk under a session folder gives StoreWriteError saying what was kept, never a bare OSError (bug 4).

``/dev/full`` answers every write with ENOSPC, as a full disk does: a session
file symlinked to it fails the way it would on a full device.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from amplifier_ipc.host.errors import PersistenceError
from amplifier_ipc.host.persistence import (
    EVENTS_FILE,
    METADATA_FILE,
    TRANSCRIPT_FILE,
    SessionStore,
    StoreWriteError,
    read_metadata,
)

FULL = Path("/dev/full")
pytestmark = pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full")

# More than the events file's write buffer, so a write reaches the device.
MANY_EVENTS = 2000


def store_with_full(tmp_path: Path, name: str) -> SessionStore:
    store = SessionStore(tmp_path / "sessions", "s1")
    store.directory.mkdir(parents=True)
    (store.directory / name).symlink_to(FULL)
    store.open()
    return store


def test_closing_a_store_whose_buffered_events_meet_a_full_disk_raises_store_write_error_and_closes_all(
    tmp_path: Path,
):
    store = store_with_full(tmp_path, EVENTS_FILE)
    store.append_event({"type": "turn_start"})
    with pytest.raises(StoreWriteError) as caught:
        store.close()
    error = caught.value
    assert isinstance(error, PersistenceError) and isinstance(error, OSError)
    assert error.errno == errno.ENOSPC
    assert error.message.startswith(f"the disk holding {store.directory} is full (No space left on device)")
    assert "events.jsonl keeps the events written before" in error.message
    assert "free some space" in error.hint
    (store.directory / EVENTS_FILE).unlink()
    again = SessionStore(tmp_path / "sessions", "s1")
    again.open()  # the lock was released
    again.close()


def test_events_that_overflow_onto_a_full_disk_do_not_interrupt_the_turn_and_sync_reports_them(
    tmp_path: Path,
):
    store = store_with_full(tmp_path, EVENTS_FILE)
    for number in range(MANY_EVENTS):
        store.append_event({"type": "stream", "n": number, "text": "x" * 40})
    with pytest.raises(StoreWriteError, match=r"events\.jsonl could not be written"):
        store.sync()
    store.close()  # reported once: closing afterwards is clean


def test_appending_a_message_on_a_full_disk_raises_store_write_error_naming_the_transcript(tmp_path: Path):
    store = store_with_full(tmp_path, TRANSCRIPT_FILE)
    with pytest.raises(
        StoreWriteError, match=r"transcript\.jsonl could not be written; the transcript keeps"
    ):
        store.append_message({"role": "user", "content": "hi"})
    with pytest.raises(StoreWriteError):
        store.close()  # the message is still buffered: closing fails the same way, and still closes


def test_metadata_that_cannot_be_written_leaves_the_previous_file_and_no_temporary_file(tmp_path: Path):
    store = SessionStore(tmp_path / "sessions", "s1")
    store.open()
    store.write_metadata({"id": "s1", "status": "completed"})
    (store.directory / f".{METADATA_FILE}.{os.getpid()}.tmp").symlink_to(FULL)
    with pytest.raises(StoreWriteError, match=r"the previous metadata\.json is unchanged"):
        store.write_metadata({"id": "s1", "status": "running"})
    store.close()
    assert read_metadata(tmp_path / "sessions", "s1")["status"] == "completed"
    assert sorted(p.name for p in store.directory.iterdir() if p.name.startswith(".")) == [".lock"]
