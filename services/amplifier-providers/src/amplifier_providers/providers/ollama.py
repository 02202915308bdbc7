"""Models served by Ollama, through the ``ollama`` SDK.

Config: ``base_url`` (default http://127.0.0.1:11434), ``model``,
``context_window`` (sent as ``num_ctx``, so ``provider.info`` tells the truth),
``max_output_tokens``, ``think`` (true/false, or "low"/"medium"/"high" for
models that take a level), ``temperature``. Key: OLLAMA_API_KEY, only for
hosted Ollama.
"""

from __future__ import annotations

from typing import Any

from amplifier_ipc_protocol import provider

from ..conversation import Conversation
from ..streaming import BlockStream
from ..vendor import REQUEST_TIMEOUT_SECONDS, VendorProvider

DEFAULT_HOST = "http://127.0.0.1:11434"


@provider(raw_request=True)
class Ollama(VendorProvider):
    """Local models through an Ollama server, with streaming, tool calls and thinking."""

    name = "ollama"
    display_name = "Ollama"
    family = "local"
    key_env = ("OLLAMA_API_KEY",)
    key_required = False
    default_model = "llama3.2"
    capabilities = ["streaming", "tools", "thinking"]
    sdk_modules = ("ollama",)
    config_keys = frozenset({"think"})

    def check_config(self, config: dict[str, Any]) -> None:
        from amplifier_ipc_protocol import InvalidParams

        think = config.get("think")
        if "think" in config and not (isinstance(think, bool) or think in ("low", "medium", "high")):
            raise InvalidParams('ollama: think must be true, false, "low", "medium" or "high"')

    def _sdk_client(self) -> Any:
        if self._client is None:
            import ollama

            key = self.api_key()
            self._client = ollama.AsyncClient(
                host=self.config.get("base_url") or DEFAULT_HOST,
                timeout=REQUEST_TIMEOUT_SECONDS,
                headers={"authorization": f"Bearer {key}"} if key else None,
            )
        return self._client

    def _think(self, request: dict[str, Any]) -> bool | str | None:
        setting = self.config.get("think")
        if isinstance(setting, (bool, str)):
            return setting
        effort = request.get("reasoning_effort")
        return effort if effort in ("low", "medium", "high") else None

    async def _call(
        self, request: dict[str, Any], conversation: Conversation, stream: bool
    ) -> dict[str, Any]:
        from ..ollama_wire import OllamaAccumulator, to_ollama

        client = self._sdk_client()
        kwargs = to_ollama(
            conversation,
            request,
            model=self.model(request),
            max_tokens=self.max_output_tokens(request),
            context_window=int(self.describe_models()["defaults"]["context_window"]),
            think=self._think(request),
            temperature=request.get("temperature", self.config.get("temperature")),
            stream=stream,
        )
        accumulator = OllamaAccumulator()
        if not stream:
            accumulator.add(await client.chat(**kwargs))
            return accumulator.response()
        out = BlockStream(self.host)
        async for chunk in await client.chat(**kwargs):
            text, thinking, started = accumulator.add(chunk)
            await out.thinking(thinking)
            await out.text(text)
            for call in started:
                await out.tool_call_start(call["id"], call["name"])
        await out.close()
        return accumulator.response()
