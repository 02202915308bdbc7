"""A full disk under AMPLIFIER_HOME (a small tmpfs): a clear error, and nothing already written is damaged."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Big enough for the registrations and one short session, small enough to fill in a moment.
TMPFS_SIZE = "4m"
FILL_CHUNK = b"\0" * 65536


def _mount(target: Path) -> str | None:
    """Mount a tmpfs at ``target``; the reason when this machine does not allow it."""
    if os.geteuid() != 0:
        return f"mounting a tmpfs needs root (the tests run as uid {os.geteuid()})"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(target)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        return f"mount -t tmpfs is not permitted here: {done.stderr.strip() or done.returncode}"
    return None


@pytest.fixture
def small_home(installed_home: Path, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "tmpfs-home"
    root.mkdir()
    reason = _mount(root)
    if reason:
        pytest.skip(reason)
    try:
        for name in ("agents.yaml", "behaviors.yaml"):
            shutil.copy2(installed_home / name, root / name)
        shutil.copytree(installed_home / "definitions", root / "definitions")
        (root / "environments").symlink_to((installed_home / "environments").resolve())
        yield root
    finally:
        if subprocess.run(["umount", str(root)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(root)], capture_output=True)


def fill(folder: Path) -> Path:
    """Write a file in ``folder`` until the device is full."""
    filler = folder / "filler.bin"
    with open(filler, "wb", buffering=0) as handle:
        while True:
            try:
                handle.write(FILL_CHUNK)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
    with open(filler, "ab", buffering=0) as handle:  # the last few bytes too
        while True:
            try:
                handle.write(b"\0")
            except OSError:
                break
    return filler


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != ".lock"}


def test_a_full_disk_fails_the_turn_clearly_and_damages_nothing_already_written(
    small_home: Path, cli: Any, h: Any
):
    cli.home = small_home
    cli.env = h.clean_env(small_home)
    first = cli.turn(h.PROBE_SCRIPT)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    session_id = first.session_id
    folder = h.session_dir(small_home, session_id)
    written = snapshot(folder)
    messages = h.transcript(small_home, session_id)
    filler = fill(small_home)

    second = cli.turn("- text: 'never'\n", "--session", session_id, prompt="on a full disk", name="full.yaml")
    assert second.returncode == 1, second.stdout[-2000:] + second.stderr[-2000:]
    said = second.stdout + second.stderr
    assert "No space left on device" in said, said[-3000:]
    h.assert_nothing_left(small_home, session_id)

    after = snapshot(folder)
    assert after["transcript.jsonl"].startswith(written["transcript.jsonl"])
    assert h.transcript(small_home, session_id)[: len(messages)] == messages
    assert after["state.json"] == written["state.json"]
    assert h.metadata(small_home, session_id)["turns"] >= 1
    assert "Traceback" not in second.stderr, second.stderr[-3000:]

    fresh = cli.turn("- text: 'never'\n", prompt="a new session on a full disk", name="new.yaml")
    assert fresh.returncode == 1
    assert "No space left on device" in fresh.stdout + fresh.stderr
    assert "Traceback" not in fresh.stderr, fresh.stderr[-3000:]

    filler.unlink()
    again = cli.resume(
        session_id, "- text: 'resumed fine'\n  expect: {messages_contain: ['hello', 'after the fault']}\n"
    )
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert h.transcript(small_home, session_id)[: len(messages)] == messages
