"""A fake Host for the foundation service: the real service process, driven
by the protocol library's Host double (``amplifier_ipc_protocol.testing``),
which answers every ``request.*`` itself (scripted provider replies, recorded
hook events, context and tool requests routed back into this service, state
in a dict, scripted approvals). This adds what the orchestrator's tests need:
``execute`` a prompt, and start one as a task to cancel it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from amplifier_ipc_protocol.testing import (
    SESSION_ID,
    HostDouble,
    python_module,
    service_env,
)

# Deadline for any single wait in these tests; generous for a loaded 2-core machine.
WAIT_S = 20.0


def text_response(text: str, **usage: int) -> dict[str, Any]:
    """A ChatResponse holding only text."""
    return {
        "content": [{"type": "text", "text": text}],
        "usage": {
            "input_tokens": usage.get("input_tokens", 10),
            "output_tokens": usage.get("output_tokens", 5),
        },
        "finish_reason": "end_turn",
    }


def tool_response(*calls: tuple[str, str, dict[str, Any]], text: str = "") -> dict[str, Any]:
    """A ChatResponse asking for tool calls ``(id, name, arguments)``."""
    content = [{"type": "text", "text": text}] if text else []
    return {
        "content": content,
        "tool_calls": [{"id": i, "name": n, "arguments": a} for i, n, a in calls],
        "usage": {"input_tokens": 10, "output_tokens": 5},
        "finish_reason": "tool_use",
    }


class FakeHost(HostDouble):
    """The foundation service under a HostDouble; ``home`` is its AMPLIFIER_HOME."""

    home: Path

    async def execute(self, prompt: str, **params: Any) -> dict[str, Any]:
        body = {"prompt": prompt, "system_prompt": "You are a test.", "session_id": SESSION_ID, "config": {}}
        body.update(params)
        result: dict[str, Any] = await self.call("orchestrator.execute", body, timeout=WAIT_S)
        return result

    def start_execute(self, prompt: str, **params: Any) -> tuple[int, asyncio.Task[dict[str, Any]]]:
        """Run ``execute`` as a task; returns (its request id, the task). The id
        is the Peer's next id (read privately: Peer.request does not expose it)."""
        request_id: int = self.peer._next_id
        return request_id, asyncio.ensure_future(self.execute(prompt, **params))

    async def tool(self, name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
        return await self.execute_tool(name, tool_input, timeout=WAIT_S)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture
async def start_host(tmp_path: Path, workdir: Path) -> AsyncIterator[Callable[..., Awaitable[FakeHost]]]:
    """``await start_host(config={...})``: a described and configured service."""
    hosts: list[HostDouble] = []
    home = tmp_path / "home"

    async def start(config: dict[str, Any] | None = None) -> FakeHost:
        env = service_env(home=home, amplifier_home=home)
        host = await FakeHost.spawn(python_module("amplifier_foundation"), cwd=workdir, env=env)
        host.home = home
        hosts.append(host)
        await host.describe_service(config)
        if config:
            await host.configure(config)
        return host

    yield start
    for host in hosts:
        await host.close()
