"""The ``status_context`` hook: tells the model, on every provider call and
without storing it, where it is: working directory, git status, date.

Config::

    status_context:
      git: true
      date: true
"""

from __future__ import annotations

import asyncio
import datetime
import os
from typing import Any

from amplifier_ipc_protocol import hook

__all__ = ["StatusContext"]

# git status on a huge repository must not hold up the provider call.
GIT_TIMEOUT_S = 2.0
# Lines of `git status --short` shown; the rest are counted.
MAX_STATUS_LINES = 30


async def _git_status(cwd: str) -> str | None:
    try:
        process = await asyncio.create_subprocess_exec(
            "git",
            "status",
            "--short",
            "--branch",
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return None
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(), GIT_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        return "(git status timed out)"
    if process.returncode != 0:
        return None
    lines = stdout.decode("utf-8", errors="replace").splitlines()
    if len(lines) > MAX_STATUS_LINES:
        lines = [*lines[:MAX_STATUS_LINES], f"... and {len(lines) - MAX_STATUS_LINES} more changed files"]
    return "\n".join(lines)


@hook(events=["provider:request"], priority=50, name="status_context")
class StatusContext:
    def __init__(self) -> None:
        self.config: dict[str, Any] = {}

    async def handle(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        cwd = os.getcwd()
        parts = [f"Working directory: {cwd}"]
        if self.config.get("git", True):
            status = await _git_status(cwd)
            parts.append(f"Git status:\n{status}" if status is not None else "Not a git repository.")
        if self.config.get("date", True):
            parts.append(f"Today's date: {datetime.date.today().isoformat()}")
        return {
            "action": "INJECT_CONTEXT",
            "context_injection": "<environment>\n" + "\n".join(parts) + "\n</environment>",
            "context_injection_role": "user",
            "ephemeral": True,
            "suppress_output": True,
        }
