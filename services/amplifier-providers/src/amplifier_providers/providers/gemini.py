"""Google's Gemini API through the ``google-genai`` SDK.

Config: ``model``, ``base_url``, ``thinking`` (true, or a budget in tokens;
``reasoning_effort`` in the request also turns it on), ``max_output_tokens``,
``temperature``. Key: GEMINI_API_KEY (or GOOGLE_API_KEY).
"""

from __future__ import annotations

from typing import Any

from amplifier_ipc_protocol import provider

from ..conversation import Conversation
from ..streaming import BlockStream
from ..vendor import REQUEST_TIMEOUT_SECONDS, VendorProvider


@provider(raw_request=True)
class Gemini(VendorProvider):
    """Gemini models, with streaming, function calls and thinking."""

    name = "gemini"
    display_name = "Google Gemini"
    family = "gemini"
    key_env = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    default_model = "gemini-2.5-flash"
    capabilities = ["streaming", "tools", "thinking", "vision"]
    sdk_modules = ("google.genai",)
    config_keys = frozenset({"thinking"})

    def check_config(self, config: dict[str, Any]) -> None:
        from amplifier_ipc_protocol import InvalidParams

        if "thinking" in config and not isinstance(config["thinking"], (bool, int)):
            raise InvalidParams("gemini: thinking must be true, false or a budget in tokens")

    def _sdk_client(self) -> Any:
        if self._client is None:
            from google import genai
            from google.genai import types

            self._client = genai.Client(
                api_key=self.api_key(),
                http_options=types.HttpOptions(
                    base_url=self.config.get("base_url"),
                    timeout=int(REQUEST_TIMEOUT_SECONDS * 1000),  # milliseconds
                    # Retrying is the orchestrator's decision: it gets retryable/retry_after.
                    retry_options=types.HttpRetryOptions(attempts=1),
                ),
            )
        return self._client

    def _thinking_budget(self, request: dict[str, Any]) -> int | None:
        from ..gemini_wire import THINKING_BUDGETS

        setting = self.config.get("thinking")
        if isinstance(setting, int) and not isinstance(setting, bool) and setting > 0:
            return setting
        effort = request.get("reasoning_effort")
        if isinstance(effort, str) and effort in THINKING_BUDGETS:
            return THINKING_BUDGETS[effort]
        return THINKING_BUDGETS["medium"] if setting is True else None

    async def _call(
        self, request: dict[str, Any], conversation: Conversation, stream: bool
    ) -> dict[str, Any]:
        from ..gemini_wire import GeminiAccumulator, to_gemini

        client = self._sdk_client()
        kwargs = to_gemini(
            conversation,
            request,
            model=self.model(request),
            max_tokens=self.max_output_tokens(request),
            thinking_budget=self._thinking_budget(request),
            temperature=request.get("temperature", self.config.get("temperature")),
        )
        accumulator = GeminiAccumulator()
        if not stream:
            accumulator.add(await client.aio.models.generate_content(**kwargs))
            return accumulator.response()
        out = BlockStream(self.host)
        async for chunk in await client.aio.models.generate_content_stream(**kwargs):
            for kind, value in accumulator.add(chunk):
                if kind == "text":
                    await out.text(value)
                elif kind == "thinking":
                    await out.thinking(value)
                else:
                    await out.tool_call_start(value["id"], value["name"])
        await out.close()
        return accumulator.response()
