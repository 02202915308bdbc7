"""Anthropic's Messages API through the ``anthropic`` SDK.

Config: ``model``, ``base_url``, ``max_output_tokens``, ``temperature``,
``thinking`` (true, or a budget in tokens; ``reasoning_effort`` in the request
also turns it on), ``prompt_caching`` (default true). Key: ANTHROPIC_API_KEY.
"""

from __future__ import annotations

from typing import Any

from amplifier_ipc_protocol import provider

from ..conversation import Conversation
from ..streaming import BlockStream
from ..vendor import CONNECT_TIMEOUT_SECONDS, REQUEST_TIMEOUT_SECONDS, VendorProvider


@provider(raw_request=True)
class Anthropic(VendorProvider):
    """Claude models, with streaming, tool use, extended thinking and prompt caching."""

    name = "anthropic"
    display_name = "Anthropic"
    family = "anthropic"
    key_env = ("ANTHROPIC_API_KEY",)
    default_model = "claude-opus-4-5"
    capabilities = ["streaming", "tools", "thinking", "prompt_caching", "vision"]
    sdk_modules = ("anthropic",)
    config_keys = frozenset({"thinking", "prompt_caching"})

    def check_config(self, config: dict[str, Any]) -> None:
        from amplifier_ipc_protocol import InvalidParams

        thinking = config.get("thinking")
        if "thinking" in config and not isinstance(thinking, (bool, int)):
            raise InvalidParams(
                "anthropic: thinking must be true, false or a budget in tokens (at least 1024)"
            )
        if "prompt_caching" in config and not isinstance(config["prompt_caching"], bool):
            raise InvalidParams("anthropic: prompt_caching must be true or false")

    def _sdk_client(self) -> Any:
        if self._client is None:
            import anthropic

            self._client = anthropic.AsyncAnthropic(
                api_key=self.api_key(),
                base_url=self.config.get("base_url"),
                timeout=anthropic.Timeout(REQUEST_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
                max_retries=0,  # retrying is the orchestrator's decision: it gets retryable/retry_after
            )
        return self._client

    def _thinking_budget(self, request: dict[str, Any]) -> int | None:
        from ..anthropic_wire import THINKING_BUDGETS

        setting = self.config.get("thinking")
        if isinstance(setting, int) and not isinstance(setting, bool) and setting > 0:
            return max(setting, THINKING_BUDGETS["minimal"])
        effort = request.get("reasoning_effort")
        if isinstance(effort, str) and effort in THINKING_BUDGETS:
            return THINKING_BUDGETS[effort]
        if setting is True:
            return THINKING_BUDGETS["medium"]
        return None

    async def _call(
        self, request: dict[str, Any], conversation: Conversation, stream: bool
    ) -> dict[str, Any]:
        from ..anthropic_wire import from_anthropic, to_anthropic

        client = self._sdk_client()
        temperature = request.get("temperature", self.config.get("temperature"))
        kwargs = to_anthropic(
            conversation,
            request,
            model=self.model(request),
            max_tokens=self.max_output_tokens(request),
            caching=self.config.get("prompt_caching", True) is not False,
            thinking_budget=self._thinking_budget(request),
            temperature=temperature,
        )
        if not stream:
            return from_anthropic(await client.messages.create(**kwargs))
        out = BlockStream(self.host)
        async with client.messages.stream(**kwargs) as events:
            async for event in events:
                kind = event.type
                if kind == "content_block_start" and event.content_block.type == "tool_use":
                    await out.tool_call_start(event.content_block.id, event.content_block.name)
                elif kind == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta":
                        await out.text(delta.text)
                    elif delta.type == "thinking_delta":
                        await out.thinking(delta.thinking)
                elif kind == "content_block_stop":
                    await out.close()
            final = await events.get_final_message()
        await out.close()
        return from_anthropic(final)
