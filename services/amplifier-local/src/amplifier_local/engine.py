"""One GGUF model loaded by llama.cpp, used from worker threads.

Everything here is blocking; the provider runs it with ``asyncio.to_thread``
or ``run_in_executor`` so that loading weights and generating never stall
the event loop. One model is not safe to use from two threads at once, so
every use holds ``Engine.lock``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amplifier_ipc_protocol.errors import ProviderError

from .prompt_cache import PromptCache, common_prefix, default_cache_folder
from .settings import Settings

__all__ = ["CHATML_TEMPLATE", "Engine", "Generation", "ModelFacts", "import_llama_cpp", "read_facts"]

# Used only for a GGUF file that carries no chat template of its own.
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def import_llama_cpp() -> Any:
    """The ``llama_cpp`` module, or a ``ProviderError`` that says how to install it."""
    import sys

    try:
        import llama_cpp
    except ImportError as exc:
        raise ProviderError(
            f"local: llama-cpp-python is not installed in this service's environment ({sys.prefix}): {exc}. "
            f"Install it with `uv pip install --python {sys.executable} llama-cpp-python` "
            "(it builds llama.cpp from source, about 6 minutes on 2 cores)",
            data={"retryable": False},
        ) from None
    return llama_cpp


def _model_name(path: Path) -> str:
    # The file name says which model and quantization it is; the header's
    # general.name is often a training-run label.
    return path.stem


def _trained_context(metadata: dict[str, str]) -> int | None:
    architecture = metadata.get("general.architecture", "")
    value = metadata.get(f"{architecture}.context_length")
    return int(value) if value and value.isdigit() else None


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What ``provider.info`` tells: the model's name and the context window it runs with."""

    name: str
    path: Path
    n_ctx: int
    trained_context: int | None


def _load_error(path: Path, exc: Exception) -> ProviderError:
    return ProviderError(
        f"local: could not load {path} as a GGUF model ({type(exc).__name__}: {exc}); "
        "check that model_path names a GGUF file that llama.cpp supports",
        data={"retryable": False, "model_path": str(path)},
    )


def read_facts(path: Path, settings: Settings) -> ModelFacts:
    """Read the model's name and trained context from its GGUF header, without its weights."""
    llama_cpp = import_llama_cpp()
    try:
        vocab = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    except Exception as exc:  # llama.cpp reports a bad file as ValueError or RuntimeError
        raise _load_error(path, exc) from None
    try:
        metadata = dict(vocab.metadata)
    finally:
        vocab.close()
    trained = _trained_context(metadata)
    n_ctx = min(settings.n_ctx, trained) if trained else settings.n_ctx
    return ModelFacts(name=_model_name(path), path=path, n_ctx=n_ctx, trained_context=trained)


@dataclass(slots=True)
class Generation:
    """The outcome of one generation."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    """``stop`` (the model ended), ``length`` (max tokens) or ``cancelled``."""
    cached_tokens: int = 0
    """Prompt tokens not evaluated because their state was kept (in memory or on disk)."""


class Engine:
    """A loaded model: renders chat prompts with its own template and generates."""

    def __init__(self, path: Path, settings: Settings, facts: ModelFacts | None = None) -> None:
        llama_cpp = import_llama_cpp()
        if facts is None or facts.path != path:
            facts = read_facts(path, settings)
        options: dict[str, Any] = {"model_path": str(path), "n_ctx": facts.n_ctx, "verbose": False}
        if settings.n_threads is not None:
            options["n_threads"] = settings.n_threads
            options["n_threads_batch"] = settings.n_threads
        if settings.seed is not None:
            options["seed"] = settings.seed
        try:
            self._llama = llama_cpp.Llama(**options)
        except Exception as exc:
            raise _load_error(path, exc) from None
        self._llama_cpp = llama_cpp
        self.facts = facts
        self.lock = threading.Lock()
        self._formatter = self._chat_formatter()
        self._cache: PromptCache | None = None
        if settings.prompt_cache:
            folder = Path(settings.prompt_cache_dir) if settings.prompt_cache_dir else default_cache_folder()
            self._cache = PromptCache(folder, path, facts.n_ctx, str(llama_cpp.__version__))

    def _chat_formatter(self) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llama = self._llama
        template = llama.metadata.get("tokenizer.chat_template") or CHATML_TEMPLATE

        def piece(token: int) -> str:
            return str(llama.detokenize([token], special=True).decode("utf-8", errors="ignore"))

        eos = piece(llama.token_eos()) if llama.token_eos() >= 0 else ""
        bos = piece(llama.token_bos()) if llama.token_bos() >= 0 else ""
        return Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)

    def render(self, messages: list[dict[str, str]]) -> tuple[list[int], list[str]]:
        """The prompt's tokens for ``messages`` under the model's chat template, and its stop strings."""
        result = self._formatter(messages=messages)
        tokens = self._llama.tokenize(
            result.prompt.encode("utf-8"), add_bos=not getattr(result, "added_special", False), special=True
        )
        stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        return list(tokens), [s for s in stop if s]

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0

    def generate(
        self,
        prompt: list[int],
        *,
        stop: list[str],
        max_tokens: int,
        temperature: float,
        grammar: str | None,
        emit: Callable[[str], None],
        cancelled: threading.Event,
    ) -> Generation:
        """Generate from ``prompt``, passing each piece of text to ``emit`` as it comes."""
        grammar_object = self._llama_cpp.LlamaGrammar.from_string(grammar, verbose=False) if grammar else None
        pieces: list[str] = []
        finish = "stop"
        with self.lock:
            llama = self._llama
            if self._cache is not None:
                self._cache.restore(llama, prompt)
            kept = llama.input_ids[: llama.n_tokens].tolist()
            # llama.cpp decodes at least the prompt's last token again.
            cached = min(common_prefix(kept, prompt), len(prompt) - 1) if prompt else 0
            stream = llama.create_completion(
                prompt=prompt,
                max_tokens=max_tokens,
                temperature=temperature,
                stop=stop,
                stream=True,
                grammar=grammar_object,
            )
            try:
                for chunk in stream:
                    if cancelled.is_set():
                        finish = "cancelled"
                        break
                    choice = chunk["choices"][0]
                    text = choice.get("text") or ""
                    if text:
                        pieces.append(text)
                        emit(text)
                    if choice.get("finish_reason"):
                        finish = str(choice["finish_reason"])
            finally:
                stream.close()
            if self._cache is not None and finish != "cancelled":
                self._cache.save(llama)
            text = "".join(pieces)
            return Generation(
                text=text,
                prompt_tokens=len(prompt),
                completion_tokens=self.count_tokens(text),
                finish_reason=finish,
                cached_tokens=max(cached, 0),
            )

    def close(self) -> None:
        with self.lock:
            self._llama.close()
