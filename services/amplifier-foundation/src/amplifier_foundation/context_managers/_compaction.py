"""Fitting a history into a token budget without rewriting it.

The history is cut into turns (a user message and everything after it up to
the next user message). A view drops whole turns, oldest first, so a tool
call and its result are never separated; system messages and the latest turn
are always kept. When that is not enough, long tool results in the view are
shortened (the stored history is untouched).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["estimate_tokens", "split_turns", "compact", "repair_tool_pairs", "Compaction"]

# Rough characters per token for budget estimates; errs on the side of more tokens.
CHARS_PER_TOKEN = 3.5
# Per-message overhead (role, separators) in tokens.
MESSAGE_OVERHEAD_TOKENS = 4
# A tool result longer than this is shortened when the view must shrink further.
TRUNCATED_TOOL_RESULT_CHARS = 2_000
# What a tool call with no stored result is answered with in the view.
MISSING_RESULT_TEXT = "no result was recorded for this tool call (the turn was interrupted)"


def estimate_tokens(message: dict[str, Any]) -> int:
    """An estimate of the tokens ``message`` costs a provider."""
    size = len(json.dumps(message, ensure_ascii=False, default=str))
    return int(size / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD_TOKENS


def _is_turn_start(message: dict[str, Any]) -> bool:
    return message.get("role") == "user"


def split_turns(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """(system messages, turns). Messages before the first user message form
    a turn of their own."""
    system = [m for m in messages if m.get("role") == "system"]
    turns: list[list[dict[str, Any]]] = []
    for message in messages:
        if message.get("role") == "system":
            continue
        if not turns or _is_turn_start(message):
            turns.append([])
        turns[-1].append(message)
    return system, turns


def repair_tool_pairs(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A view in which every assistant tool call is followed by its result:
    a call left unanswered (a crash mid-turn) gets a synthetic result, and a
    result whose call is absent is dropped."""
    view: list[dict[str, Any]] = []
    open_calls: list[dict[str, Any]] = []
    known_ids: set[str] = set()

    def close_open() -> None:
        for call in open_calls:
            view.append(
                {
                    "role": "tool",
                    "tool_call_id": call.get("id"),
                    "name": call.get("name"),
                    "content": MISSING_RESULT_TEXT,
                    "metadata": {"success": False, "synthetic": True},
                }
            )
        open_calls.clear()

    for message in messages:
        role = message.get("role")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in known_ids:
                continue
            open_calls[:] = [c for c in open_calls if c.get("id") != call_id]
            view.append(message)
            continue
        close_open()
        view.append(message)
        if role == "assistant":
            for call in message.get("tool_calls") or []:
                open_calls.append(call)
                known_ids.add(call.get("id"))
    close_open()
    return view


class Compaction:
    """What ``compact`` did, for the ``context:compaction`` event."""

    def __init__(
        self, before: int, after: int, tokens_before: int, tokens_after: int, dropped_turns: int
    ) -> None:
        self.before = before
        self.after = after
        self.tokens_before = tokens_before
        self.tokens_after = tokens_after
        self.dropped_turns = dropped_turns
        self.truncated_results = 0

    def as_event(self) -> dict[str, Any]:
        return {
            "before": self.before,
            "after": self.after,
            "tokens_before": self.tokens_before,
            "tokens_after": self.tokens_after,
            "dropped_turns": self.dropped_turns,
            "truncated_results": self.truncated_results,
        }


def _shorten(message: dict[str, Any]) -> dict[str, Any] | None:
    content = message.get("content")
    if (
        message.get("role") != "tool"
        or not isinstance(content, str)
        or len(content) <= TRUNCATED_TOOL_RESULT_CHARS
    ):
        return None
    half = TRUNCATED_TOOL_RESULT_CHARS // 2
    omitted = len(content) - 2 * half
    return {
        **message,
        "content": f"{content[:half]}\n[... {omitted} characters omitted to fit the context ...]\n{content[-half:]}",
    }


def compact(messages: list[dict[str, Any]], budget: int) -> tuple[list[dict[str, Any]], Compaction | None]:
    """The view of ``messages`` within ``budget`` tokens, and what was done
    (None when the history already fits)."""
    costs = [estimate_tokens(m) for m in messages]
    total = sum(costs)
    if total <= budget:
        return messages, None
    system, turns = split_turns(messages)
    used = sum(estimate_tokens(m) for m in system) + sum(estimate_tokens(m) for t in turns for m in t)
    dropped = 0
    while len(turns) > 1 and used > budget:
        used -= sum(estimate_tokens(m) for m in turns[0])
        turns.pop(0)
        dropped += 1
    kept = [m for t in turns for m in t]
    report = Compaction(len(messages), 0, total, 0, dropped)
    if used > budget:
        for index, message in enumerate(kept):
            short = _shorten(message)
            if short is None:
                continue
            used += estimate_tokens(short) - estimate_tokens(message)
            kept[index] = short
            report.truncated_results += 1
            if used <= budget:
                break
    view = system + kept
    report.after = len(view)
    report.tokens_after = used
    return view, report
