"""The loop services and the Host run on (loops.py): uvloop, with asyncio's subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import pytest
from amplifier_ipc_protocol import loops
from protocol_testkit import DEADLINE_S, piped_to_service

pytestmark = pytest.mark.skipif(
    loops.loop_factory() is asyncio.new_event_loop, reason="uvloop is not installed here"
)


def test_the_loop_is_uvloop_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = loops.new_event_loop()
    try:
        assert loops.loop_name(loop) == "uvloop"
    finally:
        loop.close()
    monkeypatch.setenv(loops.LOOP_ENV, "asyncio")
    assert loops.loop_factory() is asyncio.new_event_loop
    assert loops.run(_running_loop_name()) == "asyncio"


async def _running_loop_name() -> str:
    return loops.loop_name()


async def test_the_tests_run_on_the_loop_that_ships() -> None:
    assert loops.loop_name() == "uvloop"


async def test_a_child_gets_pipes_so_dev_stdout_works() -> None:
    # uvloop's own subprocesses get socketpairs, where /dev/stdout cannot be opened.
    process = await asyncio.create_subprocess_exec(
        "/bin/sh",
        "-c",
        "echo out > /dev/stdout; echo err > /dev/stderr; cat /dev/stdin",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(b"in\n"), DEADLINE_S)
    assert (out, err, process.returncode) == (b"out\nin\n", b"err\n", 0)


async def test_a_child_inherits_no_descriptor_but_its_stdio() -> None:
    inheritable_r, inheritable_w = os.pipe()
    os.set_inheritable(inheritable_w, True)  # uvloop would hand this to the child
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import os; print(sorted(int(fd) for fd in os.listdir('/proc/self/fd')))",
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(process.communicate(), DEADLINE_S)
    finally:
        os.close(inheritable_r)
        os.close(inheritable_w)
    fds = json.loads(out)
    assert fds[:3] == [0, 1, 2]
    assert inheritable_w not in fds
    assert len(fds) <= 4, f"only stdio and the listing's own descriptor: {fds}"


async def test_exit_codes_signals_and_shell_commands_are_reported_as_asyncio_does() -> None:
    exited = await asyncio.create_subprocess_shell("exit 7")
    assert await asyncio.wait_for(exited.wait(), DEADLINE_S) == 7
    sleeper = await asyncio.create_subprocess_exec("sleep", "60", start_new_session=True)
    assert os.getpgid(sleeper.pid) == sleeper.pid
    sleeper.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(sleeper.wait(), DEADLINE_S) == -signal.SIGTERM
    quick = await asyncio.create_subprocess_exec("true")
    await asyncio.sleep(0.05)  # exits, perhaps before its exit is watched
    assert await asyncio.wait_for(quick.wait(), DEADLINE_S) == 0


async def test_a_missing_program_raises_as_asyncio_does() -> None:
    with pytest.raises(FileNotFoundError):
        await asyncio.create_subprocess_exec("/no/such/program")
    with pytest.raises(ValueError, match="bufsize"):
        await asyncio.create_subprocess_exec("true", bufsize=1)


async def test_a_service_runs_on_uvloop_and_on_asyncio_when_told_to() -> None:
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tool.execute",
        "params": {"name": "echo", "input": {"text": "loop"}},
    }
    names = []
    for env in ({}, {loops.LOOP_ENV: "asyncio"}):
        answers, _ = await piped_to_service([request], env)
        names.append(answers[1]["result"]["output"])
    assert names == ["uvloop", "asyncio"]


def test_without_uvloop_installed_the_loop_is_asyncios(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loops, "_LOOP_CLASS", None)
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes ``import uvloop`` fail
    assert loops.loop_factory() is asyncio.new_event_loop
