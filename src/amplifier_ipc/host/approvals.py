"""``request.approval``: ask the Host's consumer, apply the default when nobody answers.

A request becomes an ``approval_request`` event; the consumer answers with
``Host.send_approval(request_id, decision)``. The request's timeout applies
its default, and so does a Host with no consumer able to answer
(``interactive=False``). ``approval_mode`` ``auto`` approves and ``deny``
denies without asking.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

from amplifier_ipc_protocol.errors import InvalidParams

__all__ = ["Approvals", "DEFAULT_OPTIONS"]

DEFAULT_OPTIONS = ["allow", "deny"]
_APPROVING = ("allow", "yes", "approve", "allow_once", "allow once")
_DENYING = ("deny", "no", "reject")


class Approvals:
    """The approvals of one Host: pending requests, keyed by request id."""

    def __init__(
        self,
        *,
        mode: str,
        interactive: bool,
        default_timeout: float,
        emit: Callable[[dict[str, Any]], None],
    ) -> None:
        if mode not in ("ask", "auto", "deny"):
            raise ValueError(f"approval_mode must be ask, auto or deny, not {mode!r}")
        self.mode = mode
        self.interactive = interactive
        self.default_timeout = default_timeout
        self._emit = emit
        self._ids = itertools.count(1)
        self._pending: dict[str, tuple[asyncio.Future[str], list[str], str]] = {}

    def waiting(self, service: str) -> bool:
        """Whether ``service`` is waiting on the user (its hook timeouts are paused)."""
        return any(entry[2] == service for entry in self._pending.values())

    async def request(self, service: str, params: dict[str, Any]) -> dict[str, Any]:
        prompt = params.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise InvalidParams("request.approval needs a prompt string")
        options = params.get("options") or list(DEFAULT_OPTIONS)
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise InvalidParams("request.approval options must be a list of strings")
        default = params.get("default", "deny")
        if default not in options:
            raise InvalidParams(f"request.approval default {default!r} is not one of its options {options}")
        timeout = params.get("timeout", self.default_timeout)
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
            raise InvalidParams("request.approval timeout must be a positive number of seconds")
        if self.mode == "auto":
            return {"decision": _first(options, _APPROVING, options[0])}
        if self.mode == "deny":
            return {"decision": _first(options, _DENYING, default)}
        if not self.interactive:
            return {"decision": default}
        request_id = f"approval-{next(self._ids)}"
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (future, options, service)
        self._emit(
            {
                "request_id": request_id,
                "prompt": prompt,
                "options": options,
                "timeout": timeout,
                "default": default,
                "service": service,
            }
        )
        try:
            decision = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            decision = default
        finally:
            self._pending.pop(request_id, None)
        return {"decision": decision}

    def answer(self, request_id: str, decision: str) -> None:
        """The consumer's answer; raises ``KeyError``/``ValueError`` for an unknown id or option."""
        entry = self._pending.get(request_id)
        if entry is None:
            raise KeyError(f"no approval request {request_id!r} is waiting (it may have timed out)")
        future, options, _ = entry
        if decision not in options:
            raise ValueError(f"decision {decision!r} is not one of {options}")
        if not future.done():
            future.set_result(decision)


def _first(options: list[str], wanted: tuple[str, ...], fallback: str) -> str:
    for option in options:
        if option.lower() in wanted:
            return option
    return fallback
