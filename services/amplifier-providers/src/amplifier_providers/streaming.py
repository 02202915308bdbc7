"""Stream notifications a provider sends while it answers ``provider.complete``.

Every provider reports what it receives through the same five
``stream.provider.*`` notifications (PROTOCOL §5); the ``HostClient`` tags
them with the id of the request being answered, so the Host can relay them to
whoever asked.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["BlockStream", "split_tokens"]

_TOKEN = re.compile(r"\s*\S+|\s+")


def split_tokens(text: str) -> list[str]:
    """Cut ``text`` into word-sized pieces that join back to exactly ``text``."""
    return _TOKEN.findall(text)


class BlockStream:
    """Sends the stream notifications for one response, numbering its blocks.

    ``host`` is the component's ``HostClient`` (anything with an async
    ``notify(method, params)``); None sends nothing, for callers outside a
    service.
    """

    def __init__(self, host: Any) -> None:
        self._host = host
        self._index = -1
        self._open: str | None = None

    async def _notify(self, kind: str, params: dict[str, Any]) -> None:
        if self._host is not None:
            await self._host.notify(f"stream.provider.{kind}", params)

    async def _enter(self, block_type: str) -> None:
        if self._open == block_type:
            return
        await self.close()
        self._index += 1
        self._open = block_type
        await self._notify("content_block_start", {"type": block_type, "index": self._index})

    async def close(self) -> None:
        """End the open block, if any."""
        if self._open is not None:
            await self._notify("content_block_end", {"type": self._open, "index": self._index})
            self._open = None

    async def text(self, delta: str) -> None:
        if delta:
            await self._enter("text")
            await self._notify("token", {"text": delta})

    async def thinking(self, delta: str) -> None:
        if delta:
            await self._enter("thinking")
            await self._notify("thinking", {"text": delta})

    async def tool_call_start(self, call_id: str, name: str) -> None:
        await self.close()
        await self._notify("tool_call_start", {"id": call_id, "name": name})
