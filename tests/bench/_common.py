"""What the benchmark modules share: the floor a service's spawn is measured
against (a minimal asyncio child answering one JSON line, the cost of any
Python process with an event loop on this machine), the spawn-to-answer time
of a command, and the row of such a figure."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

# A spawn that has not answered after this is hung, not slow.
SPAWN_DEADLINE_S = 60.0
# After its stdin closes, a process that has not exited by then is killed.
EXIT_DEADLINE_S = 10.0

DESCRIBE_LINE = b'{"jsonrpc":"2.0","id":1,"method":"describe"}\n'

MINIMAL_CHILD = """
import asyncio, sys
async def main():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stdout.buffer)
    await reader.readline()
    transport.write(b'{"jsonrpc":"2.0","id":1,"result":{}}\\n')
    await reader.read()
asyncio.run(main())
"""
"""The floor's program: reads one line, answers it, exits at end of input."""


def floor_command(python: str = sys.executable) -> list[str]:
    """The floor: ``MINIMAL_CHILD`` run by ``python``."""
    return [python, "-c", MINIMAL_CHILD]


def describe_line(config: dict[str, Any] | None = None) -> bytes:
    """A ``describe`` request line, carrying ``config`` as the Host sends it."""
    if not config:
        return DESCRIBE_LINE
    message = {"jsonrpc": "2.0", "id": 1, "method": "describe", "params": {"config": config}}
    return (json.dumps(message) + "\n").encode()


async def spawn_to_answer_ms(
    command: Sequence[str],
    *,
    line: bytes = DESCRIBE_LINE,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> float:
    """Milliseconds from spawning ``command`` (own process group) to its first
    answer line to ``line``; raises when that answer is not a result."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(line)
        answer = await asyncio.wait_for(process.stdout.readline(), SPAWN_DEADLINE_S)
        elapsed = (time.perf_counter() - started) * 1000
        if b'"result"' not in answer:
            raise RuntimeError(f"{list(command)[:3]} answered {answer[:300]!r}, not a result")
        process.stdin.close()
        await asyncio.wait_for(process.wait(), EXIT_DEADLINE_S)
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    return elapsed


async def median_spawn_ms(command: Sequence[str], samples: int, **options: Any) -> float:
    """The median of ``samples`` spawns of ``command`` (see ``spawn_to_answer_ms``),
    after one that warms the file cache and is not counted."""
    await spawn_to_answer_ms(command, **options)
    return statistics.median([await spawn_to_answer_ms(command, **options) for _ in range(samples)])


def figure_row(
    name: str,
    value: float,
    unit: str,
    *,
    floor: float | None,
    budget: str | float | None,
    note: str = "",
    digits: int = 1,
) -> dict[str, Any]:
    """One row of the bench table: the figure, its floor and their ratio."""
    row: dict[str, Any] = {
        "name": name,
        "value": round(value, digits),
        "unit": unit,
        "floor": round(floor, digits) if floor is not None else None,
        "ratio": round(value / floor, 2) if floor else None,
        "budget": budget,
    }
    if note:
        row["note"] = note
    return row
