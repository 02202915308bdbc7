"""What a component uses to reach the Host (PROTOCOL §5).

The Server gives every component instance a ``host`` attribute holding a
``HostClient``. Calls made while a request is being handled (a provider
streaming during ``provider.complete``) are tagged with that request's id, so
the Host can relay them to whoever asked.
"""

from __future__ import annotations

from typing import Any

from . import methods as m
from .peer import Peer, current_request_id

__all__ = ["HostClient"]


class HostClient:
    def __init__(self, peer: Peer) -> None:
        self._peer = peer

    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        return await self._peer.request(method, params, timeout=timeout)

    def on(self, method: str, handler: Any) -> None:
        """Handle a notification from the Host (an orchestrator receiving the
        ``stream.provider.*`` notifications relayed during its provider call)."""
        self._peer.on(method, handler)

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        if method.startswith("stream.provider."):
            request_id = current_request_id.get()
            if request_id is not None:
                params = {**(params or {}), "request_id": request_id}
        # Peer.notify's work, without a second coroutine: this is every streamed token.
        if self._peer.notify_nowait(method, params):
            await self._peer.drain()

    # -- state ------------------------------------------------------------

    async def state_get(self, key: str) -> Any:
        result = await self._peer.request(m.STATE_GET, {"key": key})
        return result.get("value") if isinstance(result, dict) else None

    async def state_set(self, key: str, value: Any) -> None:
        await self._peer.request(m.STATE_SET, {"key": key, "value": value})

    # -- the turn ---------------------------------------------------------

    async def tool_execute(self, name: str, input: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self._peer.request(
            m.REQUEST_TOOL_EXECUTE, {"name": name, "input": input}
        )
        return result

    async def hook_emit(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self._peer.request(m.REQUEST_HOOK_EMIT, {"event": event, "data": data})
        return result

    async def context_add_message(self, message: dict[str, Any]) -> None:
        await self._peer.request(m.REQUEST_CONTEXT_ADD_MESSAGE, {"message": message})

    async def context_get_messages(self, provider_info: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        params = {"provider_info": provider_info} if provider_info is not None else {}
        result = await self._peer.request(m.REQUEST_CONTEXT_GET_MESSAGES, params)
        messages: list[dict[str, Any]] = result.get("messages", [])
        return messages

    async def context_clear(self) -> None:
        await self._peer.request(m.REQUEST_CONTEXT_CLEAR, {})

    async def provider_complete(self, request: dict[str, Any], provider: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"request": request}
        if provider is not None:
            params["provider"] = provider
        result: dict[str, Any] = await self._peer.request(m.REQUEST_PROVIDER_COMPLETE, params)
        return result

    async def approval(
        self, prompt: str, options: list[str], *, timeout: float = 300, default: str = "deny"
    ) -> str:
        result = await self._peer.request(
            m.REQUEST_APPROVAL,
            {"prompt": prompt, "options": options, "timeout": timeout, "default": default},
        )
        decision: str = result.get("decision", default)
        return decision

    async def session_spawn(self, agent: str, instruction: str, **options: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self._peer.request(
            m.REQUEST_SESSION_SPAWN, {"agent": agent, "instruction": instruction, **options}
        )
        return result

    async def session_resume(self, session_id: str, instruction: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._peer.request(
            m.REQUEST_SESSION_RESUME, {"session_id": session_id, "instruction": instruction}
        )
        return result
