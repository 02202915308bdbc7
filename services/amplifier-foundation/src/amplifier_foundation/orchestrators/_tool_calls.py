"""Running the tool calls of one response: hooks, approval, execution."""

from __future__ import annotations

import fnmatch
from typing import Any

from amplifier_ipc_protocol.errors import ProtocolError

from ._messages import failed_result

__all__ = ["ToolCallRunner", "approved"]

# Decisions of request.approval that let a tool call run; anything else denies.
APPROVING_DECISIONS = ("allow", "allow once", "allow always", "always", "approve", "yes", "y")
DEFAULT_APPROVAL_OPTIONS = ["allow", "deny"]


def approved(decision: str) -> bool:
    """Whether a user's approval decision lets the call run."""
    return decision.strip().lower() in APPROVING_DECISIONS or fnmatch.fnmatch(decision.lower(), "allow*")


class ToolCallRunner:
    """Runs one tool call through ``tool:pre``, approval, ``request.tool_execute``
    and ``tool:post``; context injections from ``tool:post`` are queued on
    ``injections`` for the next provider call."""

    def __init__(self, host: Any, session_id: str, injections: list[dict[str, Any]]) -> None:
        self._host = host
        self._session_id = session_id
        self.injections = injections

    async def _emit(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self._host.hook_emit(event, {"session_id": self._session_id, **data})
        message = result.get("user_message")
        if message and not result.get("suppress_output"):
            await self._host.notify(
                "log", {"level": result.get("user_message_level", "info"), "message": message}
            )
        return result

    async def run(self, call: dict[str, Any]) -> dict[str, Any]:
        """The ToolResult for ``call`` (failures included; never raises a ProtocolError)."""
        name = call["name"]
        tool_input = call.get("arguments") or {}
        base = {"tool_name": name, "tool_call_id": call["id"]}
        pre = await self._emit("tool:pre", {**base, "tool_input": tool_input})
        action = pre.get("action", "CONTINUE")
        if action == "DENY":
            return failed_result(f"denied: {pre.get('reason') or 'a hook refused this tool call'}", "Denied")
        if action == "MODIFY" and isinstance((pre.get("data") or {}).get("tool_input"), dict):
            tool_input = pre["data"]["tool_input"]
        if action == "ASK_USER":
            denial = await self._ask(name, tool_input, pre, base)
            if denial is not None:
                return denial
        try:
            result: dict[str, Any] = await self._host.tool_execute(name, tool_input)
        except ProtocolError as exc:
            result = failed_result(exc.message, type(exc).__name__)
        if not result.get("success", True):
            error = result.get("error") or {}
            await self._emit("tool:error", {**base, "tool_input": tool_input, "error": error})
        post = await self._emit("tool:post", {**base, "tool_input": tool_input, "result": result})
        post_action = post.get("action", "CONTINUE")
        if post_action == "MODIFY" and isinstance((post.get("data") or {}).get("result"), dict):
            result = post["data"]["result"]
        elif post_action == "INJECT_CONTEXT" and post.get("context_injection"):
            self.injections.append(
                {
                    "text": post["context_injection"],
                    "role": post.get("context_injection_role") or "user",
                    "ephemeral": bool(post.get("ephemeral")),
                    "append_to_last_tool_result": bool(post.get("append_to_last_tool_result")),
                }
            )
        return result

    async def _ask(
        self, name: str, tool_input: dict[str, Any], pre: dict[str, Any], base: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Ask the user; a failed ToolResult when they (or the timeout) deny."""
        prompt = pre.get("approval_prompt") or f"Allow {name} with {tool_input}?"
        options = pre.get("approval_options") or DEFAULT_APPROVAL_OPTIONS
        default = pre.get("approval_default") or "deny"
        await self._emit("approval:required", {**base, "tool_input": tool_input, "prompt": prompt})
        try:
            decision = await self._host.approval(
                prompt, list(options), timeout=pre.get("approval_timeout") or 300, default=default
            )
        except ProtocolError as exc:
            decision = default
            reason = f"approval could not be asked ({exc.message})"
        else:
            reason = f"the user answered {decision!r}"
        if approved(decision):
            await self._emit("approval:granted", {**base, "tool_input": tool_input, "decision": decision})
            return None
        await self._emit("approval:denied", {**base, "tool_input": tool_input, "decision": decision})
        return failed_result(f"denied: {reason}; do not retry this call unchanged", "Denied")
