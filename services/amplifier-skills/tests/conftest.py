"""A test-side Host: starts the service as a real process and answers its
``state.get``/``state.set`` from a dict, so a second process given the same
dict is the next turn of the same session."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from amplifier_ipc_protocol import Peer

# A service exits on stdin EOF; this bounds the wait so a hung one fails the test.
EXIT_DEADLINE_S = 15.0
# Answers of a local service are quick; this only catches a hang.
REQUEST_DEADLINE_S = 60.0


class HostDouble:
    """What the Host answers a service: session state kept in ``state``."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        self.peer: Peer | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.describe: dict[str, Any] = {}
        self.stderr: list[str] = []
        """The service's stderr lines so far (also echoed to the test's stderr)."""

    def handlers(self) -> dict[str, Any]:
        def get(params: dict[str, Any]) -> dict[str, Any]:
            return {"value": self.state.get(params["key"])}

        def put(params: dict[str, Any]) -> dict[str, Any]:
            self.state[params["key"]] = params["value"]
            return {"ok": True}

        return {"state.get": get, "request.state_get": get, "state.set": put, "request.state_set": put}

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        assert self.peer is not None
        return await self.peer.request(method, params or {}, timeout=REQUEST_DEADLINE_S)


async def _drain(stream: asyncio.StreamReader, lines: list[str]) -> None:
    while line := await stream.readline():
        text = line.decode("utf-8", errors="replace").rstrip()
        lines.append(text)
        sys.stderr.write(text + "\n")


@asynccontextmanager
async def run_service(
    module: str,
    *,
    cwd: Path,
    home: Path,
    state: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
) -> AsyncIterator[HostDouble]:
    """One turn: start ``python -m module``, describe (with config), configure;
    on leaving, close its stdin and wait for it to exit."""
    host = HostDouble(state if state is not None else {})
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "AMPLIFIER_HOME": str(home / ".amplifier"),
        "AMPLIFIER_SESSION_ID": "test-session",
    }
    if "PYTHONPATH" in os.environ:  # a test may serve a package written to a temporary folder
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stdin is not None and process.stderr is not None
    host.process = process
    draining = asyncio.create_task(_drain(process.stderr, host.stderr))
    host.peer = Peer(process.stdout, process.stdin, name=f"host:{module}", handlers=host.handlers())
    host.peer.start()
    try:
        params = {"config": config} if config else {}
        host.describe = await host.call("describe", params)
        if config:
            await host.call("configure", {"config": config})
        yield host
    finally:
        await host.peer.close()
        try:
            await asyncio.wait_for(process.wait(), EXIT_DEADLINE_S)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError(
                f"{module} did not exit within {EXIT_DEADLINE_S}s of stdin closing"
            ) from None
        finally:
            await draining


@pytest.fixture
def service() -> Callable[..., AbstractAsyncContextManager[HostDouble]]:
    """``async with service(module, cwd=, home=, state=, config=) as host``."""
    return run_service
