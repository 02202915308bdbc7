"""A plain agent loop, enough to drive the Host through every PROTOCOL §5 path.

Config: ``max_steps``; ``crash_at_step`` (exit the process there);
``approval`` ({prompt, options, default, timeout}: asked before answering);
``count_turns`` (keeps a counter in session state); ``bench_tool_calls``
(N routed echo calls; the answer is their mean round trip in microseconds).
"""

import asyncio
import json
import os
from typing import Any

from amplifier_ipc_protocol import ProtocolError, orchestrator


@orchestrator
class Loop:
    name = "loop"

    def __init__(self) -> None:
        self.stop_requested = False
        self._streams: dict[Any, list[str]] = {}

    def request_cancel(self, immediate: bool = False) -> None:
        self.stop_requested = True

    def _relay(self, method: str) -> Any:
        peer = self.host._peer  # notify_nowait: one relayed token must not cost a task

        def handler(params: dict[str, Any]) -> None:
            text = params.get("text", "")
            self._streams.setdefault(params.get("request_id"), []).append(text)
            peer.notify_nowait(method, {"text": text})

        return handler

    async def execute(
        self,
        prompt: str,
        system_prompt: str,
        session_id: str,
        config: dict[str, Any],
        tools: list[dict[str, Any]],
        provider_info: dict[str, Any],
    ) -> str:
        host = self.host
        config = {**self.config, **config}
        host.on("stream.provider.token", self._relay("stream.token"))
        host.on("stream.provider.thinking", self._relay("stream.thinking"))
        if config.get("bench_tool_calls"):
            return await self._bench_tool_calls(int(config["bench_tool_calls"]))
        if config.get("count_turns"):
            count = await host.state_get("loop.turns") or 0
            await host.state_set("loop.turns", count + 1)
        submitted = await host.hook_emit("prompt:submit", {"prompt": prompt})
        if submitted.get("action") == "DENY":
            return f"denied: {submitted.get('reason')}"
        await host.context_add_message({"role": "user", "content": prompt})
        specs = [
            {"name": t["name"], "description": t["description"], "parameters": t["input_schema"]}
            for t in tools
        ]
        text = ""
        for step in range(int(config.get("max_steps", 8))):
            if self.stop_requested:
                return text + " [stopped]"
            if config.get("crash_at_step") == step:
                os._exit(9)
            messages = await host.context_get_messages(provider_info)
            hooked = await host.hook_emit("provider:request", {"step": step})
            request: dict[str, Any] = {
                "messages": messages,
                "tools": specs,
                "system": system_prompt,
                "stream": True,
                "metadata": {"injected": hooked.get("context_injection"), "provider_info": provider_info},
            }
            response = await host.provider_complete(request)
            content = response.get("content") or []
            text = "".join(b.get("text", "") for b in content if b.get("type") == "text")
            calls = response.get("tool_calls") or []
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if calls:
                message["tool_calls"] = calls
            await host.context_add_message(message)
            if not calls:
                break
            await asyncio.gather(*(self._run_tool(call) for call in calls))
        approval = config.get("approval")
        if approval:
            decision = await host.approval(
                approval["prompt"],
                approval.get("options", ["allow", "deny"]),
                timeout=approval.get("timeout", 300),
                default=approval.get("default", "deny"),
            )
            text += f" [approval: {decision}]"
        return text

    async def _bench_tool_calls(self, count: int) -> str:
        """Sequential routed tool calls; answers the mean round trip in microseconds."""
        import time

        await self.host.tool_execute("echo", {"text": "warm"})
        start = time.perf_counter()
        for _ in range(count):
            await self.host.tool_execute("echo", {"text": "x"})
        return str((time.perf_counter() - start) / count * 1e6)

    async def _run_tool(self, call: dict[str, Any]) -> None:
        host = self.host
        name, arguments = call["name"], call.get("arguments", {})
        pre = await host.hook_emit("tool:pre", {"name": name, "input": arguments})
        if pre.get("action") == "DENY":
            result: dict[str, Any] = {
                "success": False,
                "output": None,
                "error": {"message": pre.get("reason")},
            }
        else:
            if pre.get("action") == "MODIFY":
                arguments = (pre.get("data") or {}).get("input", arguments)
            await host.notify("stream.tool_call", {"id": call["id"], "name": name, "input": arguments})
            try:
                result = await host.tool_execute(name, arguments)
            except ProtocolError as exc:
                result = {
                    "success": False,
                    "output": None,
                    "error": {"message": exc.message, "code": exc.code},
                }
        await host.hook_emit("tool:post", {"name": name, "result": {"success": result.get("success")}})
        output = result.get("output")
        if not result.get("success"):
            output = f"error: {(result.get('error') or {}).get('message')}"
        content = output if isinstance(output, str) else json.dumps(output)
        await host.notify(
            "stream.tool_result",
            {"id": call["id"], "name": name, "success": result.get("success"), "output": content[:200]},
        )
        await host.context_add_message(
            {
                "role": "tool",
                "tool_call_id": call["id"],
                "name": name,
                "content": content,
                "metadata": {"success": bool(result.get("success"))},
            }
        )
