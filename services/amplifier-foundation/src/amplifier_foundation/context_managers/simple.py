"""The ``simple`` context manager: the turn's history in memory, and views of
it sized to the provider's context window."""

from __future__ import annotations

from typing import Any

from amplifier_ipc_protocol import context_manager
from amplifier_ipc_protocol.errors import InvalidParams

from ..session import session_id
from ._compaction import compact, repair_tool_pairs

__all__ = ["SimpleContext", "budget_for"]

# Used when neither config nor provider_info names a context window; small
# enough for most hosted models.
DEFAULT_CONTEXT_WINDOW = 128_000
# Tokens kept free for the model's answer when the provider names no limit.
DEFAULT_OUTPUT_RESERVE = 8_192
# Never budget fewer tokens than this, whatever the numbers say, so a tiny or
# wrong context window still leaves room for the latest turn.
MIN_BUDGET_TOKENS = 1_024


def _first_int(*values: Any) -> int | None:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _model_entry(provider_info: dict[str, Any], model: str | None) -> dict[str, Any]:
    models = provider_info.get("models") or []
    entries = [m for m in models if isinstance(m, dict)]
    for entry in entries:
        if model and entry.get("id") == model:
            return entry
    default_model = (provider_info.get("defaults") or {}).get("model")
    for entry in entries:
        if entry.get("id") == default_model:
            return entry
    return entries[0] if entries else {}


def budget_for(provider_info: dict[str, Any] | None, config: dict[str, Any]) -> int:
    """Tokens the history may use: context window minus the output reserve.

    Config ``context_window`` / ``output_reserve`` win; then the provider's
    model entry, then its ``defaults``, then the module defaults.
    """
    info = provider_info or {}
    defaults = info.get("defaults") or {}
    entry = _model_entry(info, config.get("model"))
    window = _first_int(
        config.get("context_window"),
        entry.get("context_window"),
        info.get("context_window"),
        defaults.get("context_window"),
    )
    reserve = _first_int(
        config.get("output_reserve"),
        entry.get("max_output_tokens"),
        defaults.get("max_output_tokens"),
    )
    budget = (window or DEFAULT_CONTEXT_WINDOW) - (reserve or DEFAULT_OUTPUT_RESERVE)
    return max(budget, MIN_BUDGET_TOKENS)


@context_manager(name="simple")
class SimpleContext:
    """Stores every message; ``get_messages`` returns a view within budget."""

    host: Any  # the HostClient, set by the Server

    def __init__(self) -> None:
        self.config: dict[str, Any] = {}
        self._messages: list[dict[str, Any]] = []

    def add_message(self, message: dict[str, Any]) -> None:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise InvalidParams("a message needs a role: {role, content, ...}")
        self._messages.append(message)

    def set_messages(self, messages: list[dict[str, Any]]) -> None:
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise InvalidParams("set_messages needs a list of message objects")
        self._messages = list(messages)

    def clear(self) -> None:
        self._messages = []

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The stored history (never rewritten by compaction)."""
        return list(self._messages)

    async def get_messages(self, provider_info: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        view = repair_tool_pairs(self._messages)
        budget = budget_for(provider_info, self.config)
        view, report = compact(view, budget)
        if report is not None:
            await self.host.hook_emit(
                "context:compaction", {"session_id": session_id(), "budget": budget, **report.as_event()}
            )
        return view
