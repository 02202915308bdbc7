"""Enforces the active mode: denies tools it does not allow, and tells the
model which mode it is in on every provider request (ephemerally, so the
instruction is never stored in the transcript)."""

from __future__ import annotations

import sys
from typing import Any

from amplifier_ipc_protocol import hook

from ..catalog import STATE_KEY, Mode, extra_dirs_from, load_catalog

TOOL_PRE = "tool:pre"
PROVIDER_REQUEST = "provider:request"


def tool_name_of(data: dict[str, Any]) -> str | None:
    """The tool named by tool:pre data (``tool_name``, or ``tool.name`` / ``name``)."""
    for value in (data.get("tool_name"), (data.get("tool") or {}).get("name"), data.get("name")):
        if isinstance(value, str) and value:
            return value
    return None


@hook(events=[TOOL_PRE, PROVIDER_REQUEST], priority=5, name="mode_enforcer")
class ModeEnforcer:
    config: dict[str, Any]
    host: Any

    async def _active(self) -> Mode | None:
        name = await self.host.state_get(STATE_KEY)
        if not isinstance(name, str) or not name:
            return None
        mode = load_catalog(extra_dirs_from(self.config)).modes.get(name)
        if mode is None:
            sys.stderr.write(f"[amplifier-modes] active mode {name!r} does not exist; enforcing nothing\n")
        return mode

    async def handle(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        mode = await self._active()
        if mode is None:
            return {"action": "CONTINUE"}
        if event == TOOL_PRE:
            tool = tool_name_of(data)
            if tool is None:
                return {"action": "CONTINUE"}
            reason = mode.blocks(tool)
            if reason is None:
                return {"action": "CONTINUE"}
            return {
                "action": "DENY",
                "reason": f"{reason}. Use another tool, or ask the user to leave the mode "
                f"(the 'mode' tool with operation 'clear').",
            }
        if event == PROVIDER_REQUEST:
            return {
                "action": "INJECT_CONTEXT",
                "context_injection": _instruction(mode),
                "context_injection_role": "user",
                "ephemeral": True,
            }
        return {"action": "CONTINUE"}


def _instruction(mode: Mode) -> str:
    lines = ['<system-reminder source="mode">', f"You are in {mode.name} mode."]
    if mode.allow is not None:
        lines.append(f"Only these tools run: {', '.join(mode.allow) or 'none'}.")
    if mode.deny:
        lines.append(f"These tools are denied: {', '.join(mode.deny)}.")
    if mode.instruction:
        lines.append(mode.instruction)
    lines.append("</system-reminder>")
    return "\n".join(lines)
