"""Any server that speaks OpenAI's Chat Completions (vLLM, llama.cpp server,
LM Studio, ...), through the ``openai`` SDK pointed at its base URL.

Config: ``base_url`` (required, e.g. http://127.0.0.1:8000/v1), ``model``
(required), ``context_window`` and ``max_output_tokens`` (what the served
model allows; told in ``provider.info``), ``temperature``. Key:
OPENAI_COMPATIBLE_API_KEY, only if the server wants one.
"""

from __future__ import annotations

from typing import Any

from amplifier_ipc_protocol import provider

from ..chat_completions import ChatCompletionsProvider
from ..errors import provider_error
from ..vendor import CONNECT_TIMEOUT_SECONDS, REQUEST_TIMEOUT_SECONDS

# Local servers ignore the key, but the SDK refuses to start without one.
PLACEHOLDER_KEY = "not-needed"


@provider(raw_request=True)
class OpenAICompatible(ChatCompletionsProvider):
    """A self-hosted model behind an OpenAI-compatible endpoint."""

    name = "openai_compatible"
    display_name = "OpenAI-compatible server"
    family = "local"
    key_env = ("OPENAI_COMPATIBLE_API_KEY",)
    key_required = False
    max_tokens_field = "max_tokens"
    capabilities = ["streaming", "tools"]
    sdk_modules = ("openai",)

    def _sdk_client(self) -> Any:
        if self._client is None:
            import openai

            base_url = self.config.get("base_url")
            if not base_url:
                raise provider_error(
                    "openai_compatible needs the server's URL: set config openai_compatible.base_url "
                    "(for example http://127.0.0.1:8000/v1)",
                    status=None,
                    retryable=False,
                )
            self._client = openai.AsyncOpenAI(
                api_key=self.api_key() or PLACEHOLDER_KEY,
                base_url=base_url,
                timeout=openai.Timeout(REQUEST_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
                max_retries=0,
            )
        return self._client
