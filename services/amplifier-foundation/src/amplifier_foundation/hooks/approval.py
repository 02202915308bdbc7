"""The ``approval`` hook: asks the user before tools that change things run,
and appends every decision to an audit log.

Config::

    approval:
      mode: ask            # ask | auto (never ask) | deny (refuse every tool below)
      tools: [bash, write_file, edit_file, apply_patch]
      allow: ["bash:pytest*", "write_file:docs/*"]   # rules "<tool>" or "<tool>:<glob on command/path>"
      audit_log: null      # default: AMPLIFIER_HOME/sessions/<id>/approvals.jsonl
      timeout: 300         # seconds the user has to answer; then the default (deny) applies

Read-only shell commands (``ls``, ``pwd``, ``git status``...) never ask.
"""

from __future__ import annotations

import fnmatch
import json
import re
import time
from pathlib import Path
from typing import Any

from amplifier_ipc_protocol import hook
from amplifier_ipc_protocol.errors import InvalidParams

from ..session import session_dir, session_id
from ..tools._commands import is_read_only
from ._secrets import redact

__all__ = ["Approval", "subjects"]

DEFAULT_TOOLS = ("bash", "write_file", "edit_file", "apply_patch")
MODES = ("ask", "auto", "deny")
# Seconds the user has to answer before the default answer (deny) applies.
DEFAULT_APPROVAL_TIMEOUT_S = 300
_PATCH_TARGET = re.compile(r"^\+\+\+ (?:b/)?(\S+)", re.MULTILINE)
_PATCH_SOURCE = re.compile(r"^--- (?:a/)?(\S+)", re.MULTILINE)


def subjects(tool: str, tool_input: dict[str, Any]) -> list[str]:
    """What an allow rule's glob is matched against: the command, or the paths."""
    if tool == "bash":
        return [str(tool_input.get("command", ""))]
    if tool == "apply_patch":
        text = str(tool_input.get("patch", ""))
        paths = {p for p in _PATCH_TARGET.findall(text) + _PATCH_SOURCE.findall(text) if p != "/dev/null"}
        return sorted(paths) or [""]
    return [str(tool_input.get("path", ""))]


@hook(events=["tool:pre", "approval:granted", "approval:denied"], priority=10, name="approval")
class Approval:
    def __init__(self) -> None:
        self.config: dict[str, Any] = {}

    def configure(self, config: dict[str, Any]) -> None:
        mode = config.get("mode", "ask")
        if mode not in MODES:
            raise InvalidParams(f"approval mode {mode!r} is not one of {', '.join(MODES)}")

    def _audit(self, data: dict[str, Any], decision: str, reason: str) -> None:
        sid = session_id(data)
        configured = self.config.get("audit_log")
        folder = session_dir(sid)
        path = (
            Path(configured).expanduser() if configured else (folder / "approvals.jsonl" if folder else None)
        )
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "ts": time.time(),
            "session_id": sid,
            "tool": data.get("tool_name"),
            "tool_call_id": data.get("tool_call_id"),
            "input": redact(data.get("tool_input")),
            "decision": decision,
            "reason": reason,
        }
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")

    def _allowed_by_rule(self, tool: str, tool_input: dict[str, Any]) -> str | None:
        for rule in self.config.get("allow") or []:
            name, _, pattern = str(rule).partition(":")
            if name != tool:
                continue
            if not pattern or all(fnmatch.fnmatch(s, pattern) for s in subjects(tool, tool_input)):
                return str(rule)
        return None

    async def handle(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        if event in ("approval:granted", "approval:denied"):
            self._audit(
                data, "allowed" if event == "approval:granted" else "denied", f"user: {data.get('decision')}"
            )
            return {"action": "CONTINUE"}
        tool = str(data.get("tool_name", ""))
        tool_input = data.get("tool_input") or {}
        if tool not in self.config.get("tools", DEFAULT_TOOLS):
            return {"action": "CONTINUE"}
        mode = self.config.get("mode", "ask")
        if tool == "bash" and is_read_only(str(tool_input.get("command", ""))):
            self._audit(data, "allowed", "read-only command")
            return {"action": "CONTINUE"}
        rule = self._allowed_by_rule(tool, tool_input)
        if rule is not None:
            self._audit(data, "allowed", f"allow rule {rule}")
            return {"action": "CONTINUE"}
        if mode == "auto":
            self._audit(data, "allowed", "approval mode auto")
            return {"action": "CONTINUE"}
        if mode == "deny":
            self._audit(data, "denied", "approval mode deny")
            return {
                "action": "DENY",
                "reason": f"{tool} needs approval and this session's approval mode is 'deny'",
            }
        self._audit(data, "asked", "needs approval")
        shown = "\n".join(subjects(tool, tool_input))
        return {
            "action": "ASK_USER",
            "approval_prompt": f"Allow {tool}?\n{shown}",
            "approval_options": ["allow", "deny"],
            "approval_timeout": int(self.config.get("timeout", DEFAULT_APPROVAL_TIMEOUT_S)),
            "approval_default": "deny",
        }
