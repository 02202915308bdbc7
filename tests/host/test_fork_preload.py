"""What the fork server has imported when it forks a service, and what a forked service is named."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from amplifier_ipc.host import _zygote, forked, forkserver

# Generous: the fork server imports a few modules once idle; a loaded CI machine is slow.
IDLE_PRELOAD_DEADLINE_S = 20.0
# Between two probes while waiting for the idle preload: each probe is a request,
# so the fork server must be left idle longer than it waits before importing.
PROBE_INTERVAL_S = _zygote.IDLE_PRELOAD_S + 0.2

# Says its own process name and which of the modules imported only when idle it has.
PROBE = """
import json, sys
idle = {idle!r}
with open("/proc/self/comm") as comm:
    name = comm.read().strip()
print(json.dumps({{
    "name": name,
    "loaded": [m for m in idle if m in sys.modules],
    "fork_server_module": "_zygote" in sys.modules,
}}), flush=True)
"""


@pytest.fixture
async def server() -> AsyncIterator[forkserver.ForkServer]:
    """A fork server of this test's own (the shared one may have been idle for long)."""
    server = forkserver.ForkServer(sys.executable)
    try:
        await forked.wait_ready(server)
        yield server
    finally:
        server.close()


async def _probe(server: forkserver.ForkServer, work: Path, name: str) -> dict[str, Any]:
    script = work / "probe.py"
    script.write_text(PROBE.format(idle=list(_zygote.PRELOAD_WHEN_IDLE)))
    env = {"PATH": os.environ["PATH"], "HOME": str(work)}
    if "LANG" in os.environ:
        env["LANG"] = os.environ["LANG"]
    fork = forked.plan([sys.executable, str(script)], env, work)
    assert fork is not None
    process = await forked.spawn(server, fork, name=name, cwd=str(work), env=env)
    line = await process.stdout.readline()
    assert await process.wait() == 0
    process.close_pipes()
    report: dict[str, Any] = json.loads(line)
    return report


async def test_a_forked_service_is_named_after_its_service(
    server: forkserver.ForkServer, tmp_path: Path
) -> None:
    report = await _probe(server, tmp_path, "a-service-with-a-long-name")
    assert report["name"] == "a-service-with-"  # what the kernel keeps: 15 bytes


async def test_a_forked_service_cannot_import_the_fork_server_as_a_module_of_its_own(
    server: forkserver.ForkServer, tmp_path: Path
) -> None:
    report = await _probe(server, tmp_path, "probe")
    assert report["fork_server_module"] is False


async def test_modules_only_some_tools_use_are_imported_once_the_fork_server_is_idle(
    server: forkserver.ForkServer, tmp_path: Path
) -> None:
    first = await _probe(server, tmp_path, "first")
    assert first["loaded"] == [], "the first services of a turn are forked before the idle imports"
    deadline = time.monotonic() + IDLE_PRELOAD_DEADLINE_S
    while True:
        later = await _probe(server, tmp_path, "later")
        if later["loaded"] == list(_zygote.PRELOAD_WHEN_IDLE):
            break
        assert time.monotonic() < deadline, f"still not imported: {later}"
        await asyncio.sleep(PROBE_INTERVAL_S)


def test_the_fork_server_imports_nothing_outside_the_standard_library() -> None:
    for name in (*_zygote.PRELOAD, *_zygote.PRELOAD_WHEN_IDLE):
        top = name.partition(".")[0]
        assert top in sys.stdlib_module_names, name


ECHO = """
import sys
print(sys.argv[1], flush=True)
"""


async def test_several_services_are_forked_in_one_exchange_each_on_its_own_pipes(
    server: forkserver.ForkServer, tmp_path: Path
) -> None:
    script = tmp_path / "echo.py"
    script.write_text(ECHO)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    if "LANG" in os.environ:
        env["LANG"] = os.environ["LANG"]
    other_locale = {**env, "LANG": "xx_XX.UTF-8" if env.get("LANG") != "xx_XX.UTF-8" else "C"}
    requests = []
    for word, request_env in (("one", env), ("refused", other_locale), ("two", env)):
        fork = forked.plan([sys.executable, str(script), word], request_env, tmp_path)
        assert fork is not None
        requests.append((fork, word, str(tmp_path), request_env))
    one, refused, two = server.fork_many_now(requests)  # blocking: no event loop needed
    assert refused is None, "another locale than the server's is left to exec"
    for started, word in ((one, "one"), (two, "two")):
        assert started is not None
        pid, (stdin, stdout, stderr) = started
        with os.fdopen(stdout, "rb") as out:
            assert out.readline() == f"{word}\n".encode()
        os.close(stdin)
        os.close(stderr)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
