"""The ``progress_monitor`` hook: warns the model when it seems stuck, that is
after many reads without a write, or when it repeats the same call.

Config::

    progress_monitor:
      reads_without_write: 15
      repeated_calls: 3
"""

from __future__ import annotations

import json
from typing import Any

from amplifier_ipc_protocol import hook

__all__ = ["ProgressMonitor"]

# Read-only calls in a row before the model is asked whether it is making progress.
DEFAULT_READS_WITHOUT_WRITE = 15
# Identical calls (same tool, same input) before the model is told it is repeating itself.
DEFAULT_REPEATED_CALLS = 3
READ_TOOLS = frozenset({"read_file", "grep", "glob", "web_fetch"})
WRITE_TOOLS = frozenset({"write_file", "edit_file", "apply_patch"})


@hook(events=["tool:post"], priority=70, name="progress_monitor")
class ProgressMonitor:
    def __init__(self) -> None:
        self.config: dict[str, Any] = {}
        self._reads = 0
        self._calls: dict[str, int] = {}

    async def handle(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        tool = str(data.get("tool_name", ""))
        key = tool + json.dumps(data.get("tool_input") or {}, sort_keys=True, default=str)
        self._calls[key] = self._calls.get(key, 0) + 1
        if tool in WRITE_TOOLS:
            self._reads = 0
        elif tool in READ_TOOLS:
            self._reads += 1
        warnings: list[str] = []
        repeats = int(self.config.get("repeated_calls", DEFAULT_REPEATED_CALLS))
        if self._calls[key] == repeats:
            warnings.append(
                f"You have made the same {tool} call {repeats} times with the same input. "
                "Its result will not change; try a different approach."
            )
        limit = int(self.config.get("reads_without_write", DEFAULT_READS_WITHOUT_WRITE))
        if tool in READ_TOOLS and self._reads and self._reads % limit == 0:
            warnings.append(
                f"You have made {self._reads} read-only calls without changing anything. "
                "If you have enough to act on, act; if you are stuck, say what is blocking you."
            )
        if not warnings:
            return {"action": "CONTINUE"}
        return {
            "action": "INJECT_CONTEXT",
            "context_injection": "<progress-note>\n" + "\n".join(warnings) + "\n</progress-note>",
            "ephemeral": True,
            "append_to_last_tool_result": True,
            "suppress_output": True,
        }
