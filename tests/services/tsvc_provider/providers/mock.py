"""A provider whose replies follow a script.

Config: ``steps``: a list of replies ``{text?, thinking?, tool_calls?, tokens?}``;
the reply used is the n-th, n = assistant messages since the last user
message. ``tokens: N`` streams N one-word tokens (benchmarks). ``record``: a
file to which every request is appended as one JSON line. ``sdk_import``:
false to skip the SDK-like import a vendor provider does in a thread.
"""

import asyncio
import importlib
import json
import threading
import time
from typing import Any

from amplifier_ipc_protocol import provider


@provider(raw_request=True)
class Mock:
    name = "mock"

    def configure(self, config: dict[str, Any]) -> None:
        # What a real provider does with its SDK: import it while waiting to be used,
        # without delaying the answer to configure (``sdk_import: false``: a provider
        # without an SDK, like the scripted one).
        if config.get("sdk_import") is False:
            return
        self._sdk = threading.Thread(
            target=importlib.import_module, args=("amplifier_ipc_protocol.models",), daemon=True
        )
        self._sdk.start()

    def info(self) -> dict[str, Any]:
        return {
            "id": "mock",
            "display_name": "Mock provider",
            "models": ["mock-1"],
            "capabilities": ["streaming", "tools"],
            "defaults": {"model": "mock-1", "context_window": 100000},
        }

    async def complete(self, request: Any) -> dict[str, Any]:
        received = time.time()
        sdk = getattr(self, "_sdk", None)
        if sdk is not None and sdk.is_alive():  # a real provider needs its SDK to answer
            await asyncio.to_thread(sdk.join)
        wire = request  # raw_request: the JSON object of PROTOCOL §9
        messages = wire.get("messages", [])
        record = self.config.get("record")
        if record:
            with open(record, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({**wire, "received_at": received}) + "\n")
        since_user = 0
        for message in reversed(messages):
            if message.get("role") == "user":
                break
            if message.get("role") == "assistant":
                since_user += 1
        steps = self.config.get("steps") or [{"text": "hello from mock"}]
        step = steps[min(since_user, len(steps) - 1)]
        notify = self.host.notify
        content: list[dict[str, Any]] = []
        if step.get("thinking"):
            await notify("stream.provider.thinking", {"text": step["thinking"]})
            content.append({"type": "thinking", "thinking": step["thinking"], "signature": "sig"})
        text = step.get("text", "")
        tokens = int(step.get("tokens", 0))
        if tokens:
            for _ in range(tokens):
                await notify("stream.provider.token", {"text": "t "})
            text = text or "t " * tokens
        else:
            for word in text.split(" "):
                await notify("stream.provider.token", {"text": word + " "})
        if text:
            content.append({"type": "text", "text": text})
        response: dict[str, Any] = {
            "content": content,
            "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
            "finish_reason": "tool_use" if step.get("tool_calls") else "end_turn",
            "metadata": {"model": wire.get("model")},
        }
        if step.get("tool_calls"):
            response["tool_calls"] = step["tool_calls"]
        return response
