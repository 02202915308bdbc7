"""The ``status_context`` hook: tells the model, on every provider call and
without storing it, where it is: working directory, git status, date.

``git status`` takes milliseconds, and far longer in a big repository, so it
does not wait for the provider call: it is started when the turn starts and
again after each tool call (what may change the working tree), and runs while
the orchestrator does the rest of its work; the provider call takes the answer
of the newest one. Without such a start (a provider call with no turn before
it) it runs then.

Config::

    status_context:
      git: true
      date: true
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
from typing import Any

from amplifier_ipc_protocol import hook

__all__ = ["StatusContext"]

# git status on a huge repository must not hold up the provider call.
GIT_TIMEOUT_S = 2.0
# Lines of `git status --short` shown; the rest are counted.
MAX_STATUS_LINES = 30
# What may have changed the working tree since the last provider call.
RESTART_EVENTS = ("execution:start", "tool:post")


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
    except (TimeoutError, asyncio.CancelledError) as stopped:
        process.kill()
        await asyncio.shield(process.wait())
        if isinstance(stopped, asyncio.CancelledError):
            raise
        return "(git status timed out)"
    if process.returncode != 0:
        return None
    lines = stdout.decode("utf-8", errors="replace").splitlines()
    if len(lines) > MAX_STATUS_LINES:
        lines = [*lines[:MAX_STATUS_LINES], f"... and {len(lines) - MAX_STATUS_LINES} more changed files"]
    return "\n".join(lines)


@hook(events=["provider:request", *RESTART_EVENTS], priority=50, name="status_context")
class StatusContext:
    def __init__(self) -> None:
        self.config: dict[str, Any] = {}
        # The newest git status started, with the folder it ran in; taken by the next provider call.
        self._pending: tuple[str, asyncio.Task[str | None]] | None = None
        # Stopped ones still ending their git process (held so they finish).
        self._stopping: set[asyncio.Task[str | None]] = set()

    async def handle(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        cwd = os.getcwd()
        if event != "provider:request":
            if self.config.get("git", True):
                self._start(cwd)
            return {"action": "CONTINUE"}
        parts = [f"Working directory: {cwd}"]
        if self.config.get("git", True):
            status = await self._take(cwd)
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

    def _start(self, cwd: str) -> None:
        """Start git status now; one started before is out of date and stopped."""
        self._stop()
        self._pending = (cwd, asyncio.ensure_future(_git_status(cwd)))

    async def _take(self, cwd: str) -> str | None:
        pending = self._pending
        if pending is None or pending[0] != cwd:  # none started, or started in another folder
            self._stop()
            return await _git_status(cwd)
        self._pending = None
        return await pending[1]

    def _stop(self) -> None:
        if self._pending is not None:
            task = self._pending[1]
            self._pending = None
            task.cancel()
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    async def close(self) -> None:
        """A git status nobody took is stopped, its process ended."""
        self._stop()
        stopping = list(self._stopping)
        for task in stopping:
            with contextlib.suppress(asyncio.CancelledError):
                await task
