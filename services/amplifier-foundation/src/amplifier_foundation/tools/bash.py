"""The ``bash`` tool: run a shell command in its own process group.

Config::

    bash:
      timeout: 120            # default seconds per command (a call may ask for less or more, up to max_timeout)
      max_timeout: 600
      profile: standard       # off | standard | strict (see _commands.py)
      max_output_chars: 30000
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

from amplifier_ipc_protocol import tool

from ._commands import refusal
from ._results import fail, ok

__all__ = ["Bash", "head_and_tail"]

# Default seconds a command may run; long enough for a test suite.
DEFAULT_TIMEOUT_S = 120.0
# Ceiling on a timeout the model may ask for.
MAX_TIMEOUT_S = 600.0
# Output kept for the model: the head and the tail, where errors and summaries are.
DEFAULT_MAX_OUTPUT_CHARS = 30_000
# After SIGTERM, how long the group gets before SIGKILL.
KILL_GRACE_S = 2.0


def head_and_tail(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, keeping the start and the end."""
    if len(text) <= limit:
        return text
    half = limit // 2
    omitted = len(text) - 2 * half
    return f"{text[:half]}\n[... {omitted} characters omitted ...]\n{text[-half:]}"


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            await asyncio.wait_for(process.wait(), KILL_GRACE_S)
            # The leader is gone; children that ignored SIGTERM still get SIGKILL.
            if sig == signal.SIGTERM:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return
        except TimeoutError:
            continue


@tool(name="bash")
class Bash:
    name = "bash"
    description = (
        "Run a shell command with bash and return its exit code and output (stdout and stderr together). "
        "Commands run in the working directory unless working_dir is given, time out after `timeout` "
        "seconds (their whole process group is killed), and long output keeps its head and tail. "
        "Do not start interactive programs or servers that never exit."
    )
    input_schema = {
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The command line, run by `bash -c`."},
            "timeout": {
                "type": "number",
                "exclusiveMinimum": 0,
                "description": "Seconds before the command is killed.",
            },
            "working_dir": {
                "type": "string",
                "description": "Folder to run in (default: working directory).",
            },
        },
        "required": ["command"],
        "additionalProperties": False,
    }

    host: Any  # the HostClient, set by the Server

    def __init__(self) -> None:
        self.config: dict[str, Any] = {}

    async def execute(self, input: dict[str, Any]) -> dict[str, Any]:
        command = input["command"]
        if not command.strip():
            return fail("command is empty")
        why = refusal(command, str(self.config.get("profile", "standard")))
        if why is not None:
            return fail(f"{why}. Do it another way, or ask the user to run it.", "Refused")
        cwd = Path(input.get("working_dir") or ".").expanduser()
        if not cwd.is_dir():
            return fail(f"working_dir {cwd} is not a folder", "NotADirectory")
        max_timeout = float(self.config.get("max_timeout", MAX_TIMEOUT_S))
        timeout = min(
            float(input.get("timeout") or self.config.get("timeout", DEFAULT_TIMEOUT_S)), max_timeout
        )
        limit = int(self.config.get("max_output_chars", DEFAULT_MAX_OUTPUT_CHARS))
        process = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            command,
            cwd=str(cwd),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            stdout, _ = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            await _kill_group(process)
            return fail(
                f"command timed out after {timeout:g}s and was killed (with its child processes); "
                "run it with a larger timeout or in smaller steps",
                "Timeout",
            )
        except asyncio.CancelledError:
            await _kill_group(process)
            raise
        # A background child left running would outlive the turn.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        text = head_and_tail(stdout.decode("utf-8", errors="replace"), limit)
        code = process.returncode
        output = f"exit code: {code}\n{text}" if text else f"exit code: {code}"
        if code != 0:
            return {
                "success": False,
                "output": output,
                "error": {"message": f"command exited with code {code}", "type": "ExitCode"},
            }
        return ok(output)
