"""Hook fan-out, exactly PROTOCOL §6: the Host's one piece of logic.

Every hook of every service registered for the event is called once, by
name, one at a time in priority order. ``DENY``/``ASK_USER`` stop the chain,
``MODIFY`` passes its data on, ``INJECT_CONTEXT`` results are collected. A
hook that fails or times out is skipped and reported; a result that is not a
HookResult counts as ``DENY``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from amplifier_ipc_protocol.errors import ProtocolError

from .routing import HookRoute

__all__ = ["HOOK_ACTIONS", "HookCall", "HookErrorReport", "fan_out_hook", "check_hook_result"]

HOOK_ACTIONS = ("CONTINUE", "DENY", "MODIFY", "INJECT_CONTEXT", "ASK_USER")
_STOP = ("DENY", "ASK_USER")

HookCall = Callable[[HookRoute, str, dict[str, Any]], Awaitable[Any]]
"""Sends ``hook.emit {event, data, name}`` to the hook's service and returns the answer."""
HookErrorReport = Callable[[HookRoute, str, str], None]
"""Called with (hook, event, error text) for a hook that failed, timed out or answered wrongly."""


def check_hook_result(value: Any) -> str | None:
    """What is wrong with ``value`` as a HookResult, or None when it is valid."""
    if not isinstance(value, dict):
        return f"expected an object, got {type(value).__name__}"
    action = value.get("action", "CONTINUE")
    if action not in HOOK_ACTIONS:
        return f"unknown action {action!r} (expected one of {', '.join(HOOK_ACTIONS)})"
    data = value.get("data")
    if data is not None and not isinstance(data, dict):
        return "data must be an object"
    injection = value.get("context_injection")
    if injection is not None and not isinstance(injection, str):
        return "context_injection must be a string"
    return None


async def _call_with_timeout(
    route: HookRoute,
    event: str,
    data: dict[str, Any],
    call: HookCall,
    timeout: float,
    waiting_on_user: Callable[[str], bool],
) -> Any:
    task = asyncio.ensure_future(call(route, event, data))
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if done:
                return task.result()
            # PROTOCOL §6: time a hook spends waiting on the user is not counted.
            if not waiting_on_user(route.service):
                raise TimeoutError(f"no answer within {timeout:g}s")
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def fan_out_hook(
    routes: list[HookRoute],
    event: str,
    data: dict[str, Any],
    *,
    call: HookCall,
    timeout: float,
    on_error: HookErrorReport,
    waiting_on_user: Callable[[str], bool] = lambda service: False,
) -> dict[str, Any]:
    """Run ``routes`` (already in priority order) for ``event``; returns the merged HookResult."""
    injections: list[dict[str, Any]] = []
    modified = False
    for route in routes:
        try:
            result = await _call_with_timeout(route, event, data, call, timeout, waiting_on_user)
        except (ProtocolError, TimeoutError) as exc:
            on_error(route, event, getattr(exc, "message", None) or str(exc))
            continue
        problem = check_hook_result(result)
        if problem is not None:
            reason = f"hook {route.name} of service {route.service} answered {event} wrongly: {problem}"
            on_error(route, event, reason)
            return {"action": "DENY", "reason": reason, "data": data}
        action = result.get("action", "CONTINUE")
        if action in _STOP:
            return dict(result)
        if action == "MODIFY" and isinstance(result.get("data"), dict):
            data = result["data"]
            modified = True
        elif action == "INJECT_CONTEXT":
            injections.append(result)
    if injections:
        merged = dict(injections[0])
        merged["context_injection"] = "\n\n".join(str(r.get("context_injection") or "") for r in injections)
        merged["data"] = data
        return merged
    return {"action": "MODIFY" if modified else "CONTINUE", "data": data}
