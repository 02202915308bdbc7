"""The ``redaction`` hook: masks secrets in event data (MODIFY) before any
later hook (the event log included) sees them.

Config::

    redaction:
      skip_events: ["tool:pre"]   # default: the data of tool:pre is the input about to run
"""

from __future__ import annotations

from typing import Any

from amplifier_ipc_protocol import hook

from ._secrets import redact

__all__ = ["Redaction"]

# tool:pre data is the input the tool is about to run: masking it would change
# what runs. The event log masks it in its own copy instead.
DEFAULT_SKIP_EVENTS = ("tool:pre",)


@hook(events=["*"], priority=-100, name="redaction")
class Redaction:
    def __init__(self) -> None:
        self.config: dict[str, Any] = {}

    async def handle(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        if event in self.config.get("skip_events", DEFAULT_SKIP_EVENTS):
            return {"action": "CONTINUE"}
        masked = redact(data)
        if masked == data:
            return {"action": "CONTINUE"}
        return {"action": "MODIFY", "data": masked}
