"""What ``provider.info`` tells about each vendor's models.

Context windows and output limits as the vendors publish them; a model that is
not listed here still works, with the vendor's defaults below.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MODELS", "FALLBACK", "model_entry", "provider_info"]

MODELS: dict[str, list[dict[str, Any]]] = {
    "anthropic": [
        {"id": "claude-opus-4-5", "context_window": 200_000, "max_output_tokens": 64_000},
        {"id": "claude-haiku-4-5", "context_window": 200_000, "max_output_tokens": 64_000},
    ],
    "openai": [
        {"id": "gpt-5", "context_window": 400_000, "max_output_tokens": 128_000},
        {"id": "gpt-5-mini", "context_window": 400_000, "max_output_tokens": 128_000},
        {"id": "gpt-4.1", "context_window": 1_047_576, "max_output_tokens": 32_768},
        {"id": "gpt-4o", "context_window": 128_000, "max_output_tokens": 16_384},
    ],
    "gemini": [
        {"id": "gemini-2.5-pro", "context_window": 1_048_576, "max_output_tokens": 65_536},
        {"id": "gemini-2.5-flash", "context_window": 1_048_576, "max_output_tokens": 65_536},
    ],
}

# For a model the catalog does not list: conservative figures that any current
# model of the vendor meets.
FALLBACK: dict[str, dict[str, int]] = {
    "anthropic": {"context_window": 200_000, "max_output_tokens": 8_192},
    "openai": {"context_window": 128_000, "max_output_tokens": 16_384},
    "gemini": {"context_window": 1_048_576, "max_output_tokens": 8_192},
    "local": {"context_window": 8_192, "max_output_tokens": 2_048},
}


def model_entry(family: str, model: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The catalog entry of ``model``, or the vendor's fallback figures, with
    ``context_window``/``max_output_tokens`` from config taking precedence."""
    entry = next((dict(m) for m in MODELS.get(family, []) if m["id"] == model), None)
    if entry is None:
        entry = {"id": model, **FALLBACK.get(family, FALLBACK["local"])}
    for key in ("context_window", "max_output_tokens"):
        if overrides and isinstance(overrides.get(key), int):
            entry[key] = overrides[key]
    return entry


def provider_info(
    provider_id: str,
    display_name: str,
    family: str,
    model: str,
    capabilities: list[str],
    config: dict[str, Any],
) -> dict[str, Any]:
    """A ``provider.info`` answer: the configured model first, then the catalog."""
    current = model_entry(family, model, config)
    current["capabilities"] = capabilities
    others = [dict(m, capabilities=capabilities) for m in MODELS.get(family, []) if m["id"] != model]
    return {
        "id": provider_id,
        "display_name": display_name,
        "models": [current, *others],
        "capabilities": capabilities,
        "defaults": {
            "model": model,
            "context_window": current["context_window"],
            "max_output_tokens": current["max_output_tokens"],
        },
    }
