"""One provider call of the agent loop: stream relay and retries."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

from amplifier_ipc_protocol.errors import ProviderError

__all__ = ["ProviderCall", "RetryPolicy", "retry_delay"]

# Retries of one provider call after retryable errors (rate limits, 5xx,
# dropped connections) before the turn fails.
DEFAULT_MAX_RETRIES = 3
# First backoff delay; doubled per attempt.
RETRY_BASE_DELAY_S = 1.0
# Ceiling of one backoff delay, and of a server's retry_after we will honour,
# so one turn cannot sit idle for minutes.
RETRY_MAX_DELAY_S = 30.0
# Random spread added to each delay so parallel sessions do not retry in step.
RETRY_JITTER_FRACTION = 0.1

_RELAYED = {
    "stream.provider.token": "stream.token",
    "stream.provider.thinking": "stream.thinking",
    "stream.provider.content_block_start": "stream.content_block_start",
    "stream.provider.content_block_end": "stream.content_block_end",
    "stream.provider.tool_call_start": "stream.tool_call_start",
}

Emit = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


class RetryPolicy:
    """How many times and how long to wait; from orchestrator config."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.max_retries = int(config.get("max_retries", DEFAULT_MAX_RETRIES))
        self.base_delay = float(config.get("retry_base_delay", RETRY_BASE_DELAY_S))
        self.max_delay = float(config.get("retry_max_delay", RETRY_MAX_DELAY_S))


def retry_delay(policy: RetryPolicy, attempt: int, retry_after: float | None) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based)."""
    if retry_after is not None and retry_after >= 0:
        return min(retry_after, policy.max_delay)
    delay: float = min(policy.base_delay * 2.0 ** (attempt - 1), policy.max_delay)
    return delay + delay * RETRY_JITTER_FRACTION * random.random()


class ProviderCall:
    """Relays a provider's stream notifications to the Host as the
    orchestrator's own ``stream.*`` notifications, in order, firing
    ``content_block:*`` hooks as blocks open and close."""

    def __init__(self, host: Any, emit: Emit, session_id: str) -> None:
        self._host = host
        self._emit = emit
        self._session_id = session_id
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()
        self.streamed_text = False
        self.streamed_thinking = False
        for method in _RELAYED:
            host.on(method, self._receiver(method))

    def _receiver(self, method: str) -> Callable[[dict[str, Any]], None]:
        def receive(params: dict[str, Any]) -> None:
            self._queue.put_nowait((method, params))

        return receive

    async def _relay(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            method, params = item
            params = {k: v for k, v in params.items() if k != "request_id"}
            if method == "stream.provider.token":
                self.streamed_text = True
            elif method == "stream.provider.thinking":
                self.streamed_thinking = True
            await self._host.notify(_RELAYED[method], params)
            if method.endswith("content_block_start") or method.endswith("content_block_end"):
                event = "content_block:start" if method.endswith("start") else "content_block:end"
                await self._emit(event, {"session_id": self._session_id, **params})

    async def complete(
        self, request: dict[str, Any], policy: RetryPolicy, provider: str | None
    ) -> dict[str, Any]:
        """The provider's ChatResponse, after retrying retryable errors."""
        attempt = 0
        self.streamed_text = self.streamed_thinking = False
        while True:
            relay = asyncio.ensure_future(self._relay())
            try:
                response: dict[str, Any] = await self._host.provider_complete(request, provider)
            except ProviderError as exc:
                await self._finish(relay)
                attempt += 1
                retrying = exc.retryable and attempt <= policy.max_retries
                await self._emit(
                    "provider:error",
                    {
                        "session_id": self._session_id,
                        "error": exc.message,
                        "status": exc.data.get("status"),
                        "retryable": exc.retryable,
                        "attempt": attempt,
                        "will_retry": retrying,
                    },
                )
                if not retrying:
                    raise
                delay = retry_delay(policy, attempt, exc.retry_after)
                await self._emit(
                    "provider:retry",
                    {
                        "session_id": self._session_id,
                        "attempt": attempt,
                        "delay": delay,
                        "error": exc.message,
                    },
                )
                await asyncio.sleep(delay)
                continue
            except BaseException:
                relay.cancel()
                raise
            await self._finish(relay)
            return response

    async def _finish(self, relay: asyncio.Future[None]) -> None:
        # Notifications sent before the answer are already queued: the Peer
        # reads the pipe in order, so a None sentinel lands after them.
        self._queue.put_nowait(None)
        await relay
