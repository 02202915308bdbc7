"""The ``streaming`` orchestrator: the agent loop of one turn.

It reaches the Host only through ``request.*``: hooks, context, provider,
tools. Every tool call the model makes gets a stored result, on every exit
path, so the transcript stays valid for the next turn.
"""

from __future__ import annotations

import asyncio
from typing import Any

from amplifier_ipc_protocol import orchestrator

from ._messages import CANCELLED_RESULT_TEXT, add_usage, apply_injections, text_of, tool_message
from ._provider_call import ProviderCall, RetryPolicy
from ._tool_calls import ToolCallRunner

__all__ = ["StreamingOrchestrator"]

# Provider calls per turn before the loop stops; a model that keeps calling
# tools this long is usually stuck.
DEFAULT_MAX_ITERATIONS = 50
# Time allowed for storing synthetic results and end events after an
# immediate cancel, so a dead Host cannot hold the service open.
CANCEL_CLEANUP_TIMEOUT_S = 5.0

_REQUEST_SETTINGS = ("max_output_tokens", "temperature", "reasoning_effort", "tool_choice")
# Sent in provider:request data for a routing hook: the role wanted, and what it may choose from.
_ROUTING_KEYS = ("model_role", "available_providers")


@orchestrator(name="streaming")
class StreamingOrchestrator:
    """Prompt -> (provider -> tools)* -> response, honouring every hook."""

    host: Any  # the HostClient, set by the Server

    def __init__(self) -> None:
        self.config: dict[str, Any] = {}
        self._stop_requested = False

    def request_cancel(self, immediate: bool = False) -> None:
        """Graceful cancel: stop at the next safe point (after running tools
        finish and their results are stored). Immediate cancel arrives as
        CancelledError instead."""
        self._stop_requested = True

    async def execute(
        self,
        *,
        prompt: str,
        system_prompt: str = "",
        session_id: str = "",
        config: dict[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
        provider_info: dict[str, Any] | None = None,
    ) -> str:
        self._stop_requested = False
        turn = _Turn(
            self.host, session_id, {**self.config, **(config or {})}, tools or [], provider_info or {}
        )
        return await turn.run(prompt, system_prompt, lambda: self._stop_requested)


class _Turn:
    """State of one ``execute``: usage, pending tool calls, injections."""

    def __init__(
        self,
        host: Any,
        session_id: str,
        config: dict[str, Any],
        tools: list[dict[str, Any]],
        provider_info: dict[str, Any],
    ) -> None:
        self.host = host
        self.session_id = session_id
        self.config = config
        self.tools = tools
        self.provider_info = provider_info
        self.usage: dict[str, int] = {}
        self.iterations = 0
        self.status = "completed"
        self.injections: list[dict[str, Any]] = []
        # Tool calls stored in an assistant message and not yet answered.
        self.unanswered: list[dict[str, Any]] = []

    async def emit(self, event: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = await self.host.hook_emit(
            event, {"session_id": self.session_id, **(data or {})}
        )
        return result

    async def run(self, prompt: str, system_prompt: str, stop_requested: Any) -> str:
        response = ""
        try:
            await self.emit("execution:start", {"prompt": prompt})
            response = await self._loop(prompt, system_prompt, stop_requested)
        except asyncio.CancelledError:
            self.status = "cancelled"
            try:
                await asyncio.wait_for(self._after_immediate_cancel(), CANCEL_CLEANUP_TIMEOUT_S)
            except Exception:  # the cancel must win over a failed cleanup
                pass
            raise
        except BaseException:
            self.status = "failed"
            await self._finish(response)
            raise
        await self._finish(response)
        return response

    async def _after_immediate_cancel(self) -> None:
        await self._answer_unanswered()
        await self.emit("cancel:completed", {"immediate": True})
        await self._finish("")

    async def _answer_unanswered(self) -> None:
        for call in list(self.unanswered):
            result = {"success": False, "output": None, "error": {"message": CANCELLED_RESULT_TEXT}}
            await self.host.context_add_message(tool_message(call, result, cancelled=True))
            self.unanswered.remove(call)

    async def _finish(self, response: str) -> None:
        await self.host.notify("stream.usage", {"usage": self.usage})
        common = {"status": self.status, "iterations": self.iterations, "usage": self.usage}
        await self.emit("execution:end", {**common, "response": response})
        await self.emit("orchestrator:complete", {**common, "response": response})
        await self.emit("prompt:complete", {"response": response, "status": self.status})

    async def _loop(self, prompt: str, system_prompt: str, stop_requested: Any) -> str:
        submit = await self.emit("prompt:submit", {"prompt": prompt})
        action = submit.get("action", "CONTINUE")
        if action == "DENY":
            self.status = "denied"
            return f"Prompt denied: {submit.get('reason') or 'a hook refused it'}"
        if action == "MODIFY" and isinstance((submit.get("data") or {}).get("prompt"), str):
            prompt = submit["data"]["prompt"]
        await self.host.context_add_message({"role": "user", "content": prompt})
        if action == "INJECT_CONTEXT" and submit.get("context_injection"):
            self._queue_injection(submit)

        max_iterations = int(self.config.get("max_iterations", DEFAULT_MAX_ITERATIONS))
        policy = RetryPolicy(self.config)
        call = ProviderCall(self.host, self.emit, self.session_id)
        runner = ToolCallRunner(self.host, self.session_id, self.injections)
        while self.iterations < max_iterations:
            if stop_requested():
                return await self._stopped()
            self.iterations += 1
            response = await self._complete(call, policy, system_prompt)
            tool_calls = response.get("tool_calls") or []
            assistant: dict[str, Any] = {"role": "assistant", "content": response.get("content") or []}
            if tool_calls:
                assistant["tool_calls"] = tool_calls
            self.unanswered = list(tool_calls)
            await self.host.context_add_message(assistant)
            if not tool_calls:
                return text_of(response.get("content"))
            if stop_requested():
                await self._answer_unanswered()
                return await self._stopped()
            await self._run_tools(runner, tool_calls)
        self.status = "max_iterations"
        message = (
            f"Stopped: the model was still calling tools after {max_iterations} iterations "
            "(orchestrator config max_iterations). Ask it to continue, or raise the limit."
        )
        await self.host.notify("log", {"level": "warning", "message": message})
        return message

    async def _stopped(self) -> str:
        self.status = "cancelled"
        await self.emit("cancel:completed", {"immediate": False})
        return "Cancelled: the turn was stopped at your request."

    def _queue_injection(self, result: dict[str, Any]) -> None:
        self.injections.append(
            {
                "text": result["context_injection"],
                "role": result.get("context_injection_role") or "user",
                "ephemeral": bool(result.get("ephemeral")),
                "append_to_last_tool_result": bool(result.get("append_to_last_tool_result")),
            }
        )

    async def _injections_for_call(self) -> list[dict[str, Any]]:
        """Injections for this provider call. Durable ones are stored now (so
        the transcript has them); ephemeral ones live in this call's view only."""
        pending, self.injections[:] = list(self.injections), []
        ephemeral: list[dict[str, Any]] = []
        for injection in pending:
            if injection["ephemeral"] or injection["append_to_last_tool_result"]:
                ephemeral.append(injection)
            else:
                await self.host.context_add_message(
                    {"role": injection["role"], "content": injection["text"], "metadata": {"source": "hook"}}
                )
        return ephemeral

    async def _complete(self, call: ProviderCall, policy: RetryPolicy, system_prompt: str) -> dict[str, Any]:
        asked: dict[str, Any] = {"iteration": self.iterations}
        for key in _ROUTING_KEYS:
            if self.config.get(key) is not None:
                asked[key] = self.config[key]
        pre = await self.emit("provider:request", asked)
        if pre.get("action") == "INJECT_CONTEXT" and pre.get("context_injection"):
            self._queue_injection(pre)
        # A routing hook's choice rides in the merged data whatever the action (docs/routing.md).
        routed = pre.get("data") if isinstance(pre.get("data"), dict) else {}
        provider = routed.get("provider") if isinstance(routed.get("provider"), str) else None
        model = routed.get("model") if isinstance(routed.get("model"), str) else None
        ephemeral = await self._injections_for_call()
        messages = await self.host.context_get_messages(self.provider_info)
        request: dict[str, Any] = {
            "messages": apply_injections(messages, ephemeral),
            "tools": [
                {
                    "name": t["name"],
                    "description": t.get("description", ""),
                    "parameters": t.get("input_schema"),
                }
                for t in self.tools
            ],
            "system": system_prompt or None,
            "stream": True,
            "metadata": {"session_id": self.session_id},
        }
        if model or self.config.get("model"):
            request["model"] = model or self.config["model"]
        for key in _REQUEST_SETTINGS:
            if self.config.get(key) is not None:
                request[key] = self.config[key]
        await self.emit(
            "llm:request", {"iteration": self.iterations, "message_count": len(request["messages"])}
        )
        response = await call.complete(request, policy, provider or self.config.get("provider"))
        add_usage(self.usage, response.get("usage"))
        if not call.streamed_text:
            text = text_of(response.get("content"))
            if text:
                await self.host.notify("stream.token", {"text": text})
        await self.emit(
            "provider:response",
            {
                "iteration": self.iterations,
                "usage": response.get("usage") or {},
                "finish_reason": response.get("finish_reason"),
                "tool_calls": len(response.get("tool_calls") or []),
            },
        )
        return response

    async def _run_tools(self, runner: ToolCallRunner, tool_calls: list[dict[str, Any]]) -> None:
        for tc in tool_calls:
            await self.host.notify(
                "stream.tool_call", {"id": tc["id"], "name": tc["name"], "input": tc.get("arguments") or {}}
            )

        async def one(tc: dict[str, Any]) -> dict[str, Any]:
            result = await runner.run(tc)
            await self.host.notify(
                "stream.tool_result",
                {
                    "id": tc["id"],
                    "name": tc["name"],
                    "success": bool(result.get("success", True)),
                    "output": result.get("output") if result.get("success", True) else result.get("error"),
                },
            )
            return result

        results = await asyncio.gather(*(one(tc) for tc in tool_calls))
        for tc, result in zip(tool_calls, results, strict=True):
            await self.host.context_add_message(tool_message(tc, result))
            self.unanswered.remove(tc)
