from typing import Any

from amplifier_ipc_protocol import context_manager


@context_manager
class Memory:
    """Keeps every message, returns them all."""

    name = "memory"

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def add_message(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    async def set_messages(self, messages: list[dict[str, Any]]) -> None:
        self.messages = list(messages)

    async def get_messages(self, provider_info: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return list(self.messages)

    async def clear(self) -> None:
        self.messages = []
