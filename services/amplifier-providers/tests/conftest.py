"""Shared test helpers: the providers service as a real process, with the test
acting as its Host through a real Peer."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from amplifier_ipc_protocol import Peer

# Spawning Python and importing the protocol library takes well under this on
# a loaded 2-core machine; a service that takes longer is broken.
SPAWN_DEADLINE_SECONDS = 30.0
# Answers from the loopback vendor servers come in milliseconds.
REQUEST_DEADLINE_SECONDS = 30.0
# Grace for the service to exit once its stdin closes.
EXIT_DEADLINE_SECONDS = 10.0


class ServiceHost:
    """Plays the Host for one providers-service process: answers state.get /
    state.set from a dict and keeps every notification it receives."""

    def __init__(self, process: asyncio.subprocess.Process, state: dict[str, Any]) -> None:
        self.process = process
        self.state = state
        self.notifications: list[tuple[str, dict[str, Any]]] = []
        assert process.stdout is not None and process.stdin is not None
        self.peer = Peer(
            process.stdout,
            process.stdin,
            name="test-host",
            handlers={
                "state.get": self._state_get,
                "state.set": self._state_set,
                "request.state_get": self._state_get,
                "request.state_set": self._state_set,
            },
            on_notification=self._notified,
        )
        self.peer.start()

    def _state_get(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"value": self.state.get(params["key"])}

    def _state_set(self, params: dict[str, Any]) -> dict[str, Any]:
        self.state[params["key"]] = params["value"]
        return {"ok": True}

    def _notified(self, method: str, params: dict[str, Any]) -> None:
        self.notifications.append((method, params))

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return await self.peer.request(method, params, timeout=REQUEST_DEADLINE_SECONDS)

    async def complete(self, provider: str, request: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.call(
            "provider.complete", {"provider": provider, "request": request}
        )
        return result

    def streamed(self, kind: str = "token") -> str:
        return "".join(p.get("text", "") for m, p in self.notifications if m == f"stream.provider.{kind}")

    async def close(self) -> int:
        await self.peer.close()
        try:
            return await asyncio.wait_for(self.process.wait(), EXIT_DEADLINE_SECONDS)
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()


async def start_service(
    cwd: str, env: dict[str, str] | None = None, state: dict[str, Any] | None = None
) -> ServiceHost:
    """Start ``python -m amplifier_providers`` in ``cwd`` with only ``env`` added
    to a minimal base environment, as the Host would."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT")}
    process = await asyncio.wait_for(
        asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "amplifier_providers",
            cwd=cwd,
            env={**base, **(env or {})},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            start_new_session=True,
        ),
        SPAWN_DEADLINE_SECONDS,
    )
    return ServiceHost(process, state if state is not None else {})


@pytest.fixture
async def service_factory(tmp_path: Any) -> AsyncIterator[Any]:
    """Start providers-service processes in ``tmp_path``; all are closed after the test."""
    started: list[ServiceHost] = []

    async def factory(
        env: dict[str, str] | None = None, state: dict[str, Any] | None = None, cwd: str | None = None
    ) -> ServiceHost:
        host = await start_service(cwd or str(tmp_path), env, state)
        started.append(host)
        return host

    yield factory
    for host in started:
        await host.close()
