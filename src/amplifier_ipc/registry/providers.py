"""Which provider a run uses: --provider > settings > definition > keys found > local model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["PROVIDER_KEYS", "LOCAL_PROVIDER", "ProviderChoice", "select_provider", "providers_with_keys"]

# Provider component -> variables that, when any is set, mean the user can use it (in preference order).
PROVIDER_KEYS: dict[str, tuple[str, ...]] = {
    "anthropic": ("ANTHROPIC_API_KEY",),
    "openai": ("OPENAI_API_KEY",),
    "azure_openai": ("AZURE_OPENAI_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "ollama": ("OLLAMA_HOST",),
}
# The offline default: a local model that needs no key and no network.
LOCAL_PROVIDER = "local"


@dataclass(frozen=True, slots=True)
class ProviderChoice:
    provider: str
    reason: str
    """Where the choice came from: flag, settings, definition, key, default."""


def providers_with_keys(variables: Mapping[str, str]) -> list[str]:
    """Providers whose key (or host) is set, in preference order."""
    return [name for name, keys in PROVIDER_KEYS.items() if any(variables.get(k) for k in keys)]


def select_provider(
    *,
    flag: str | None,
    settings: str | None,
    definition: str | None,
    variables: Mapping[str, str],
    offered: list[str] | None = None,
) -> ProviderChoice:
    """Pick the provider; ``offered`` (component names, when known) limits the key-based guess."""
    if flag:
        return ProviderChoice(flag, "flag")
    if settings:
        return ProviderChoice(settings, "settings")
    if definition:
        return ProviderChoice(definition, "definition")
    for name in providers_with_keys(variables):
        if offered is None or name in offered:
            return ProviderChoice(name, "key")
    return ProviderChoice(LOCAL_PROVIDER, "default")
