"""A fake Host for the foundation service: the real service process, driven
by a test-side Peer that answers every ``request.*`` itself.

- ``request.provider_complete`` pops scripted responses (a dict, a
  ProtocolError to raise, or an async callable ``(request, host) -> dict``)
  and records every ChatRequest;
- ``request.hook_emit`` records events and answers from ``hook_results``
  (event -> HookResult or callable);
- ``request.context_*`` are routed to the service's own context manager and
  recorded as the transcript;
- ``request.tool_execute`` goes back to the service's ``tool.execute`` unless
  the test put a handler in ``tool_handlers``;
- state lives in a dict; ``request.approval`` pops ``approvals``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from amplifier_ipc_protocol import Peer
from amplifier_ipc_protocol.errors import ProtocolError

# Deadline for any single wait in these tests; generous for a loaded 2-core machine.
WAIT_S = 20.0
# Grace for the service to exit after its stdin closes, before it is killed.
EXIT_GRACE_S = 5.0
SESSION_ID = "test-session"

ProviderStep = (
    dict[str, Any] | ProtocolError | Callable[[dict[str, Any], "FakeHost"], Awaitable[dict[str, Any]]]
)


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


class FakeHost:
    def __init__(self, process: asyncio.subprocess.Process, home: Path) -> None:
        self.process = process
        self.home = home
        self.provider_steps: list[ProviderStep] = []
        self.provider_requests: list[dict[str, Any]] = []
        self.hook_results: dict[str, Any] = {}
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.notifications: list[tuple[str, dict[str, Any]]] = []
        self.transcript: list[dict[str, Any]] = []
        self.state: dict[str, Any] = {}
        self.approvals: list[str] = []
        self.approval_requests: list[dict[str, Any]] = []
        self.tool_handlers: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {}
        self.tool_inputs: list[tuple[str, dict[str, Any]]] = []
        self.changed = asyncio.Condition()
        self.peer = Peer(
            process.stdout,  # type: ignore[arg-type]
            process.stdin,  # type: ignore[arg-type]
            name="foundation",
            handlers=self._handlers(),
            on_notification=self._on_notification,
        )
        self.peer.start()

    # -- what the service asks ------------------------------------------

    def _handlers(self) -> dict[str, Any]:
        return {
            "request.provider_complete": self._provider_complete,
            "request.hook_emit": self._hook_emit,
            "request.context_add_message": self._context_add,
            "request.context_get_messages": self._context_get,
            "request.context_clear": lambda p: self.peer.request("context.clear", {}),
            "request.tool_execute": self._tool_execute,
            "request.state_get": self._state_get,
            "state.get": self._state_get,
            "request.state_set": self._state_set,
            "state.set": self._state_set,
            "request.approval": self._approval,
        }

    async def _poke(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def _on_notification(self, method: str, params: dict[str, Any]) -> None:
        self.notifications.append((method, params))
        await self._poke()

    async def _provider_complete(self, params: dict[str, Any]) -> dict[str, Any]:
        self.provider_requests.append(params["request"])
        if not self.provider_steps:
            raise AssertionError("the orchestrator asked the provider more times than the test scripted")
        step = self.provider_steps.pop(0)
        if isinstance(step, ProtocolError):
            raise step
        if callable(step):
            return await step(params["request"], self)
        return step

    async def _hook_emit(self, params: dict[str, Any]) -> dict[str, Any]:
        event, data = params["event"], params["data"]
        self.events.append((event, data))
        await self._poke()
        answer = self.hook_results.get(event)
        if callable(answer):
            answer = answer(data)
            if asyncio.iscoroutine(answer):
                answer = await answer
        return answer or {"action": "CONTINUE", "data": data}

    async def _context_add(self, params: dict[str, Any]) -> dict[str, Any]:
        self.transcript.append(params["message"])
        result: dict[str, Any] = await self.peer.request("context.add_message", params)
        await self._poke()
        return result

    async def _context_get(self, params: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.peer.request("context.get_messages", params)
        return result

    async def _tool_execute(self, params: dict[str, Any]) -> dict[str, Any]:
        self.tool_inputs.append((params["name"], params["input"]))
        await self._poke()
        handler = self.tool_handlers.get(params["name"])
        if handler is not None:
            return await handler(params["input"])
        result: dict[str, Any] = await self.peer.request("tool.execute", params)
        return result

    def _state_get(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"value": self.state.get(params["key"])}

    def _state_set(self, params: dict[str, Any]) -> dict[str, Any]:
        self.state[params["key"]] = params["value"]
        return {"ok": True}

    def _approval(self, params: dict[str, Any]) -> dict[str, Any]:
        self.approval_requests.append(params)
        return {"decision": self.approvals.pop(0) if self.approvals else params.get("default", "deny")}

    # -- what the test does ----------------------------------------------

    async def execute(self, prompt: str, **params: Any) -> dict[str, Any]:
        body = {"prompt": prompt, "system_prompt": "You are a test.", "session_id": SESSION_ID, "config": {}}
        body.update(params)
        result: dict[str, Any] = await self.peer.request("orchestrator.execute", body, timeout=WAIT_S)
        return result

    def start_execute(self, prompt: str, **params: Any) -> tuple[int, asyncio.Task[dict[str, Any]]]:
        """Run ``execute`` as a task; returns (its request id, the task). The id
        is the Peer's next id (read privately: Peer.request does not expose it)."""
        request_id: int = self.peer._next_id
        return request_id, asyncio.ensure_future(self.execute(prompt, **params))

    async def tool(self, name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.peer.request(
            "tool.execute", {"name": name, "input": tool_input}, timeout=WAIT_S
        )
        return result

    async def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        """Wait until ``condition()`` holds, or fail after WAIT_S naming ``what``."""
        async with self.changed:
            try:
                await asyncio.wait_for(self.changed.wait_for(condition), WAIT_S)
            except TimeoutError:
                raise AssertionError(f"timed out waiting for {what}") from None

    def event_names(self) -> list[str]:
        return [name for name, _ in self.events]

    def notified(self, method: str) -> list[dict[str, Any]]:
        return [p for m, p in self.notifications if m == method]

    async def close(self) -> None:
        await self.peer.close()
        try:
            await asyncio.wait_for(self.process.wait(), EXIT_GRACE_S)
        except TimeoutError:
            os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()
            raise AssertionError("the service did not exit after its stdin closed") from None


async def spawn_foundation(home: Path, cwd: Path, session_id: str = SESSION_ID) -> asyncio.subprocess.Process:
    """Start ``python -m amplifier_foundation`` the way the Host does."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "AMPLIFIER_HOME": str(home),
        "AMPLIFIER_SESSION_ID": session_id,
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "amplifier_foundation",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=None,
        cwd=str(cwd),
        env=env,
        start_new_session=True,
        limit=2**31 - 1,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture
async def start_host(tmp_path: Path, workdir: Path) -> AsyncIterator[Callable[..., Awaitable[FakeHost]]]:
    """``await start_host(config={...})``: a described and configured service."""
    hosts: list[FakeHost] = []

    async def start(config: dict[str, Any] | None = None) -> FakeHost:
        process = await spawn_foundation(tmp_path / "home", workdir)
        host = FakeHost(process, tmp_path / "home")
        hosts.append(host)
        host.describe = await host.peer.request(
            "describe", {"config": config} if config else None, timeout=WAIT_S
        )
        if config:
            await host.peer.request("configure", {"config": config}, timeout=WAIT_S)
        return host

    yield start
    for host in hosts:
        await host.close()
