"""OpenAI's Chat Completions API through the ``openai`` SDK.

Config: ``model``, ``base_url``, ``organization``, ``reasoning_effort``,
``max_output_tokens``, ``temperature``. Key: OPENAI_API_KEY.
"""

from __future__ import annotations

from typing import Any

from amplifier_ipc_protocol import provider

from ..chat_completions import ChatCompletionsProvider
from ..vendor import CONNECT_TIMEOUT_SECONDS, REQUEST_TIMEOUT_SECONDS


@provider(raw_request=True)
class OpenAI(ChatCompletionsProvider):
    """GPT models, with streaming, tool calls and reasoning effort."""

    name = "openai"
    display_name = "OpenAI"
    family = "openai"
    key_env = ("OPENAI_API_KEY",)
    default_model = "gpt-5"
    capabilities = ["streaming", "tools", "reasoning", "vision"]
    sdk_modules = ("openai",)
    config_keys = frozenset({"organization", "reasoning_effort"})

    def _sdk_client(self) -> Any:
        if self._client is None:
            import openai

            self._client = openai.AsyncOpenAI(
                api_key=self.api_key(),
                base_url=self.config.get("base_url"),
                organization=self.config.get("organization"),
                timeout=openai.Timeout(REQUEST_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
                max_retries=0,  # retrying is the orchestrator's decision: it gets retryable/retry_after
            )
        return self._client
