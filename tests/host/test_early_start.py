"""A single-shot run's services are forked before the Host is imported
(early.py); the Host adopts exactly those it would have started, and the
others are ended at exit."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from amplifier_ipc.host import early, forked, forkserver

from .conftest import SERVICES_DIR, Kit


@pytest.fixture(autouse=True)
async def ready_server() -> None:
    server = forkserver.shared()
    assert server is not None
    await forked.wait_ready(server)


@pytest.fixture
def adoptions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids the Host took from the early starts, in order."""
    taken: list[int] = []
    original = forkserver.take_early

    def take(*args: Any) -> tuple[int, list[int]] | None:
        found = original(*args)
        if found is not None:
            taken.append(found[0])
        return found

    monkeypatch.setattr(forkserver, "take_early", take)
    return taken


def _early_pids() -> list[int]:
    forkserver.take_early(("no such command",), "", {})  # waits for the early thread
    return [pid for pid, _fds in forkserver._EARLY.values()]


async def test_the_host_adopts_the_services_forked_before_it_existed(kit: Kit, adoptions: list[int]) -> None:
    config = early.start(kit.config([{"text": "early bird"}]))
    assert config.session_id is not None, "the session id is chosen before the services start"
    waiting = _early_pids()
    assert len(waiting) == 3, "core, provider and tools: none has a cached describe yet"
    events = await kit.turn(kit.host(config))
    assert kit.complete(events)["response"] == "early bird"
    assert sorted(adoptions) == sorted(waiting), "the Host started none of its own"
    assert forkserver._EARLY == {}
    assert (kit.sessions / config.session_id / "transcript.jsonl").is_file()


async def test_services_forked_for_another_session_are_not_adopted_and_end_at_exit(
    kit: Kit, adoptions: list[int]
) -> None:
    config = early.start(kit.config([{"text": "hi"}]))
    waiting = _early_pids()
    other = dataclasses.replace(config, session_id=None)  # another environment: another session id
    events = await kit.turn(kit.host(other))
    assert kit.complete(events)["status"] == "completed"
    assert adoptions == []
    assert sorted(_early_pids()) == sorted(waiting)
    forkserver._end_unused()  # what exit does
    for pid in waiting:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # ended and collected
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_process_that_exits_before_its_host_starts_leaves_no_early_service(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from amplifier_ipc.host import early, forked, forkserver
        from amplifier_ipc.host.config import ServiceSpec, SessionConfig

        asyncio.run(forked.wait_ready(forkserver.shared()))
        spec = ServiceSpec(
            name="tools", command=[sys.executable, "-m", "tsvc_tools"],
            env={{"PYTHONPATH": {str(SERVICES_DIR)!r}, "TSVC_NAME": "tools"}},
        )
        config = early.start(SessionConfig(
            services=[spec], orchestrator="core:loop", context_manager="memory", working_dir=Path({str(tmp_path)!r})
        ))
        forkserver.take_early(("none",), "", {{}})
        print(config.session_id, [pid for pid, _ in forkserver._EARLY.values()][0], flush=True)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    session_id, pid = done.stdout.split()
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return  # ended and collected by the process that started it
    if state == "Z":  # ended; re-parented to this test process (a subreaper) before it was collected
        os.waitpid(int(pid), 0)
        return
    os.kill(int(pid), signal.SIGKILL)
    pytest.fail(f"the early service {pid} of session {session_id} outlived its process")
