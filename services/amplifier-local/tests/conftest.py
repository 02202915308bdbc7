"""Shared helpers: the amplifier-local service as a real process started from
its own virtualenv, with the test acting as its Host through a real Peer.

The service is not part of the root uv workspace (llama-cpp-python builds
from source), so its tests need its venv, built by:

    uv venv services/amplifier-local/.venv
    uv pip install --python services/amplifier-local/.venv/bin/python -e services/amplifier-local

Tests that need the venv are skipped, saying so, only when it is absent.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from amplifier_ipc_protocol import Peer

SERVICE_ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = SERVICE_ROOT / ".venv" / "bin"
SERVE_COMMAND = VENV_BIN / "amplifier-local-serve"
SOURCE = SERVICE_ROOT / "src"

# Starting Python and the protocol library takes well under a second; this is
# generous for a loaded 2-core machine.
SPAWN_DEADLINE_SECONDS = 30.0
# A first complete loads the model (about a second) and generates at most a
# few hundred tokens of a 135M model; a hung generation fails well before the
# suite's own timeout.
REQUEST_DEADLINE_SECONDS = 120.0
# Grace for the service to exit once its stdin closes.
EXIT_DEADLINE_SECONDS = 10.0

SKIP_REASON = (
    f"the amplifier-local venv is not built ({SERVE_COMMAND} is absent); build it with "
    "`uv venv services/amplifier-local/.venv && uv pip install --python "
    "services/amplifier-local/.venv/bin/python -e services/amplifier-local` (about 6 minutes)"
)

# The package's pure modules (prompt building, tool-call parsing) are tested
# in the dev venv too, which does not install this service.
if str(SOURCE) not in sys.path:
    sys.path.insert(0, str(SOURCE))


class LocalService:
    """Plays the Host for one amplifier-local process and keeps every notification it sends."""

    def __init__(self, process: asyncio.subprocess.Process, stderr_path: Path) -> None:
        self.process = process
        self.stderr_path = stderr_path
        self.notifications: list[tuple[str, dict[str, Any]]] = []
        self.notified = asyncio.Event()
        assert process.stdout is not None and process.stdin is not None
        self.peer = Peer(process.stdout, process.stdin, name="test-host", on_notification=self._notified)
        self.peer.start()

    def _notified(self, method: str, params: dict[str, Any]) -> None:
        self.notifications.append((method, params))
        self.notified.set()

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return await self.peer.request(method, params, timeout=REQUEST_DEADLINE_SECONDS)

    async def complete(self, request: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("provider.complete", {"request": request})
        return result

    def of(self, method: str) -> list[dict[str, Any]]:
        """The params of every notification named ``method``, in order."""
        return [params for name, params in self.notifications if name == method]

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    async def close(self) -> int:
        await self.peer.close()
        try:
            return await asyncio.wait_for(self.process.wait(), EXIT_DEADLINE_SECONDS)
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()


async def start_local_service(
    command: list[str], cwd: Path, env: dict[str, str] | None = None
) -> LocalService:
    """Start ``command`` as the Host would: own process group, a minimal environment."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    # The prompt cache lives under AMPLIFIER_HOME: never the user's own.
    base["AMPLIFIER_HOME"] = str(cwd / "amplifier-home")
    stderr_path = cwd / f"service-{len(list(cwd.glob('service-*.log')))}.log"
    with stderr_path.open("wb") as stderr:
        process = await asyncio.wait_for(
            asyncio.create_subprocess_exec(
                *command,
                cwd=str(cwd),
                env={**base, **(env or {})},
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,
            ),
            SPAWN_DEADLINE_SECONDS,
        )
    return LocalService(process, stderr_path)


ServiceFactory = Callable[..., Awaitable[LocalService]]


@pytest.fixture
def serve_command() -> list[str]:
    """The real ``amplifier-local-serve`` of the service's venv; skips the test when it is absent."""
    if not SERVE_COMMAND.exists():
        pytest.skip(SKIP_REASON)
    return [str(SERVE_COMMAND)]


@pytest.fixture
async def start_service(tmp_path: Path) -> AsyncIterator[ServiceFactory]:
    """Start any service command in ``tmp_path`` and describe it; all are closed after the test.

    Pass ``config`` to send it with describe and configure, as the Host does.
    """
    started: list[LocalService] = []

    async def factory(
        command: list[str], config: dict[str, Any] | None = None, env: dict[str, str] | None = None
    ) -> LocalService:
        service = await start_local_service(command, tmp_path, env)
        started.append(service)
        params = {"config": {"local": config}} if config is not None else {}
        await asyncio.wait_for(service.call("describe", params), SPAWN_DEADLINE_SECONDS)
        if config is not None:
            await service.call("configure", {"config": {"local": config}})
        return service

    yield factory
    for service in started:
        await service.close()


@pytest.fixture
def local_service(serve_command: list[str], start_service: ServiceFactory) -> ServiceFactory:
    """Start the real amplifier-local service, optionally with a ``config`` for `local`."""

    async def factory(config: dict[str, Any] | None = None) -> LocalService:
        return await start_service(serve_command, config)

    return factory
