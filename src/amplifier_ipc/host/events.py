"""The events ``Host.run(prompt)`` yields to its consumer (the CLI, a test).

Each event is an ``Event`` with a ``type`` from the constants below and a
``data`` object whose fields are listed beside each constant. Events of a
child session carry its ``session_id``, ``parent_id`` and ``depth``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Event",
    "TURN_START",
    "TOKEN",
    "THINKING",
    "CONTENT_BLOCK_START",
    "CONTENT_BLOCK_END",
    "TOOL_CALL_START",
    "TOOL_CALL",
    "TOOL_RESULT",
    "USAGE",
    "TODO_UPDATE",
    "LOG",
    "WARNING",
    "APPROVAL_REQUEST",
    "HOOK_ERROR",
    "SERVICE_ERROR",
    "ERROR",
    "CANCELLING",
    "COMPLETE",
    "EVENT_TYPES",
]

TURN_START = "turn_start"  # {session_id, agent, turn, services: [names], resumed: bool}
TOKEN = "stream.token"  # {text}
THINKING = "stream.thinking"  # {text}
CONTENT_BLOCK_START = "stream.content_block_start"  # {type, index}; in to_json() the block type is block_type
CONTENT_BLOCK_END = "stream.content_block_end"  # {type, index}
TOOL_CALL_START = "stream.tool_call_start"  # {id, name}
TOOL_CALL = "tool_call"  # {id, name, input}
TOOL_RESULT = "tool_result"  # {id, name, success, output}
USAGE = "usage"  # {usage: {input_tokens, output_tokens, total_tokens, ...}}
TODO_UPDATE = "todo_update"  # {todos}
LOG = "log"  # {level, message, service}
WARNING = "warning"  # {message}  (content over its cap, a mention not found, ...)
APPROVAL_REQUEST = "approval_request"  # {request_id, prompt, options, timeout, default}
HOOK_ERROR = "hook_error"  # {service, hook, event, error}
SERVICE_ERROR = "service_error"  # {service, error, stderr_tail}
ERROR = "error"  # {message, hint?, service?, type}
CANCELLING = "cancelling"  # {immediate: bool, running: [tool names]}
COMPLETE = "complete"  # {response, usage, timings: {...}, status: completed|failed|cancelled}

EVENT_TYPES = (
    TURN_START,
    TOKEN,
    THINKING,
    CONTENT_BLOCK_START,
    CONTENT_BLOCK_END,
    TOOL_CALL_START,
    TOOL_CALL,
    TOOL_RESULT,
    USAGE,
    TODO_UPDATE,
    LOG,
    WARNING,
    APPROVAL_REQUEST,
    HOOK_ERROR,
    SERVICE_ERROR,
    ERROR,
    CANCELLING,
    COMPLETE,
)


@dataclass(slots=True)
class Event:
    type: str
    data: dict[str, Any] = field(default_factory=dict)
    session_id: str = ""
    parent_id: str | None = None
    depth: int = 0
    ts: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        data = self.data
        if "type" in data:
            # The event's own type wins; a payload's type (a content block's) is kept as block_type.
            data = {("block_type" if key == "type" else key): value for key, value in data.items()}
        out: dict[str, Any] = {**data, "type": self.type, "session_id": self.session_id, "ts": self.ts}
        if self.parent_id is not None:
            out["parent_id"] = self.parent_id
            out["depth"] = self.depth
        return out
