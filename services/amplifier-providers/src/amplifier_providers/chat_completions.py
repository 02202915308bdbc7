"""The provider behaviour shared by everything that speaks Chat Completions
through the ``openai`` SDK: OpenAI, Azure OpenAI and OpenAI-compatible servers."""

from __future__ import annotations

from typing import Any, ClassVar

from .conversation import Conversation
from .streaming import BlockStream
from .vendor import VendorProvider

__all__ = ["ChatCompletionsProvider"]


class ChatCompletionsProvider(VendorProvider):
    """Base of the Chat Completions providers (not itself a component)."""

    max_tokens_field: ClassVar[str] = "max_completion_tokens"
    """``max_tokens`` is deprecated at OpenAI; compatible servers still want it."""
    system_role: ClassVar[str] = "system"

    def _sdk_client(self) -> Any:
        raise NotImplementedError

    async def _call(
        self, request: dict[str, Any], conversation: Conversation, stream: bool
    ) -> dict[str, Any]:
        from .openai_wire import ChatStreamAccumulator, from_openai, to_openai

        client = self._sdk_client()
        kwargs = to_openai(
            conversation,
            request,
            model=self.model(request),
            max_tokens=self.max_output_tokens(request),
            max_tokens_field=self.max_tokens_field,
            reasoning_effort=request.get("reasoning_effort") or self.config.get("reasoning_effort"),
            temperature=request.get("temperature", self.config.get("temperature")),
            stream=stream,
            system_role=self.system_role,
        )
        if not stream:
            return from_openai(await client.chat.completions.create(**kwargs))
        out = BlockStream(self.host)
        accumulator = ChatStreamAccumulator()
        chunks = await client.chat.completions.create(**kwargs)
        async for chunk in chunks:
            text, reasoning, started = accumulator.add(chunk)
            await out.thinking(reasoning)
            await out.text(text)
            for call in started:
                await out.tool_call_start(call["id"], call["name"])
        await out.close()
        return accumulator.response()
