"""A hook on every event. Records ``{service, event, data}`` lines in config
``path``; config ``answers`` maps an event to the HookResult to return,
``hang_on``/``fail_on`` name events on which it hangs or raises."""

import asyncio
import json
import os
from typing import Any

from amplifier_ipc_protocol import hook


@hook(events=["*"], priority=0)
class Recorder:
    name = "recorder"

    async def handle(self, event: str, data: dict[str, Any]) -> Any:
        service = os.environ.get("TSVC_NAME", "hooks")
        path = self.config.get("path")
        if path:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"service": service, "event": event, "data": data}) + "\n")
        if event in self.config.get("hang_on", []):
            await asyncio.sleep(3600)
        if event in self.config.get("fail_on", []):
            raise RuntimeError(f"{service} fails on {event} on purpose")
        answer = self.config.get("answers", {}).get(event)
        if answer is not None:
            return answer
        return {"action": "CONTINUE"}
