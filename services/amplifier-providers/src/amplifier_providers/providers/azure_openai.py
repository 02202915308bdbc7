"""Azure OpenAI through the ``openai`` SDK's Azure client.

Config: ``endpoint`` (https://<resource>.openai.azure.com), ``deployment``,
``api_version``, ``model`` (the deployed model, for ``provider.info``),
``reasoning_effort``, ``max_output_tokens``, ``temperature``.
Key: AZURE_OPENAI_API_KEY.
"""

from __future__ import annotations

from typing import Any

from amplifier_ipc_protocol import provider

from ..chat_completions import ChatCompletionsProvider
from ..errors import provider_error
from ..vendor import CONNECT_TIMEOUT_SECONDS, REQUEST_TIMEOUT_SECONDS

# A generally available Azure OpenAI data-plane version with tools and streaming usage.
DEFAULT_API_VERSION = "2024-10-21"


@provider(raw_request=True)
class AzureOpenAI(ChatCompletionsProvider):
    """OpenAI models deployed on Azure: the request goes to the deployment."""

    name = "azure_openai"
    display_name = "Azure OpenAI"
    family = "openai"
    key_env = ("AZURE_OPENAI_API_KEY",)
    capabilities = ["streaming", "tools", "reasoning", "vision"]
    sdk_modules = ("openai",)
    config_keys = frozenset({"endpoint", "deployment", "api_version", "reasoning_effort"})

    def check_config(self, config: dict[str, Any]) -> None:
        from amplifier_ipc_protocol import InvalidParams

        for key in ("endpoint", "deployment"):
            if key in config and not (isinstance(config[key], str) and config[key]):
                raise InvalidParams(f"azure_openai: {key} must be a non-empty string")

    def model(self, request: dict[str, Any]) -> str:
        deployment = self.config.get("deployment")
        if not deployment:
            raise provider_error(
                "azure_openai needs a deployment: set config azure_openai.deployment (and .endpoint)",
                status=None,
                retryable=False,
            )
        return str(deployment)

    def describe_models(self) -> dict[str, Any]:
        info = super().describe_models()
        info["defaults"]["deployment"] = self.config.get("deployment")
        return info

    def _sdk_client(self) -> Any:
        if self._client is None:
            import openai

            endpoint = self.config.get("endpoint") or self.config.get("base_url")
            if not endpoint:
                raise provider_error(
                    "azure_openai needs an endpoint: set config azure_openai.endpoint "
                    "(https://<resource>.openai.azure.com)",
                    status=None,
                    retryable=False,
                )
            self._client = openai.AsyncAzureOpenAI(
                api_key=self.api_key(),
                azure_endpoint=endpoint,
                api_version=self.config.get("api_version") or DEFAULT_API_VERSION,
                timeout=openai.Timeout(REQUEST_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
                max_retries=0,
            )
        return self._client
