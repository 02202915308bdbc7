"""The evaluated prompt kept on disk between turns.

Every turn is a new process, so without this the model would process the
whole conversation (the agent's system prompt alone is some thousand tokens)
again at each turn: tens of seconds on a busy 2-core machine. After each
generation the llama.cpp context state (its KV cache) is written to one file
per model; the next process loads it when the new prompt starts with the same
tokens, and llama.cpp evaluates only what follows. Loading takes tens of
milliseconds. A file that cannot be read is ignored and replaced.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["MIN_CACHED_TOKENS", "PromptCache", "common_prefix", "default_cache_folder"]

# Shorter prompts are evaluated faster than a state file is read and checked.
MIN_CACHED_TOKENS = 64
# Bumped when the file layout changes, so old files are never misread.
_FORMAT = 2
_MAGIC = b"amplifier-local prompt cache\n"


def default_cache_folder() -> Path:
    """``$AMPLIFIER_HOME/cache/amplifier-local``, else the user's cache folder."""
    home = os.environ.get("AMPLIFIER_HOME")
    if home:
        return Path(home) / "cache" / "amplifier-local"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "amplifier-local"


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class PromptCache:
    """One state file for one model file, context size and llama.cpp version."""

    def __init__(self, folder: Path, model: Path, n_ctx: int, llama_cpp_version: str) -> None:
        stat = model.stat()
        identity = (
            f"{_FORMAT}|{model.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{n_ctx}|{llama_cpp_version}"
        )
        self.path = folder / f"{model.stem}-{hashlib.sha256(identity.encode()).hexdigest()[:16]}.state"

    def restore(self, llama: Any, prompt: list[int]) -> None:
        """Load the saved state into ``llama`` when it shares more of ``prompt`` than ``llama`` does."""
        import llama_cpp

        if not hasattr(llama, "_requires_eval"):
            return  # a llama-cpp-python whose internals this was not written against
        try:
            with self.path.open("rb") as file:
                if file.readline() != _MAGIC:
                    return
                header = json.loads(file.readline())
                data = file.read()
        except (OSError, ValueError):
            return
        tokens = header.get("tokens") if isinstance(header, dict) else None
        if not isinstance(tokens, list) or not data or header.get("bytes") != len(data):
            return  # not ours, or cut short by a full disk or a crash
        shared = common_prefix(tokens, prompt)
        current = common_prefix(llama.input_ids[: llama.n_tokens].tolist(), prompt)
        if shared < MIN_CACHED_TOKENS or shared <= current:
            return
        buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        if llama_cpp.llama_state_set_data(llama._ctx.ctx, buffer, len(data)) != len(data):
            llama.reset()
            return
        llama.input_ids[: len(tokens)] = tokens
        llama.n_tokens = len(tokens)
        # The restored state has no fresh logits: llama-cpp-python must decode
        # at least one token before sampling.
        llama._requires_eval = True

    def save(self, llama: Any) -> None:
        """Write ``llama``'s state; a failure to write only costs the next turn time."""
        import llama_cpp

        tokens = llama.input_ids[: llama.n_tokens].tolist()
        if len(tokens) < MIN_CACHED_TOKENS:
            return
        size = llama_cpp.llama_state_get_size(llama._ctx.ctx)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_get_data(llama._ctx.ctx, buffer, size)
        partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with partial.open("wb") as file:
                file.write(_MAGIC)
                file.write(json.dumps({"tokens": tokens, "bytes": int(written)}).encode() + b"\n")
                file.write(memoryview(buffer)[:written])
            os.replace(partial, self.path)  # readers see the old file or the new one, never a part
        except OSError:
            partial.unlink(missing_ok=True)
