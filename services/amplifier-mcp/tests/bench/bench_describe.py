"""Benchmark: spawn-to-describe of the modes, skills, routing-matrix, docs and
mcp services against a floor.

The floor is a minimal asyncio child answering one JSON line: the cost of
starting any Python process with an event loop here. The mcp service is
measured twice: with no servers (what it costs before any MCP server) and
with mcp-server-time (the SDK import plus one real server's start and
handshake, the price of MCP).

    .venv/bin/python services/amplifier-mcp/tests/bench/bench_describe.py

Rows: ``{name, value, unit, floor, ratio, budget}``; ``ratio = value / floor``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Spawns per measurement; the median is reported (one warm-up spawn first).
SAMPLES = 5
# Deadline for one spawn to answer.
DEADLINE_S = 60.0
# Services that only serve content, tools or hooks start with every turn; a
# user notices beyond this on the 2-core reference machine.
LIGHT_BUDGET_MS = 400.0
# Mounting a Python MCP server costs the SDK import and the server's own start.
MCP_SERVER_BUDGET_MS = 5000.0

_FLOOR_CHILD = """
import asyncio, sys
async def main():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.readline()
    sys.stdout.write('{"jsonrpc":"2.0","id":1,"result":{}}\\n')
    sys.stdout.flush()
asyncio.run(main())
"""


def _describe(config: dict[str, Any] | None) -> bytes:
    params = {"config": config} if config else {}
    return (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "describe", "params": params}) + "\n").encode()


async def _spawn_once(command: list[str], line: bytes, cwd: str) -> float:
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(line)
    answer = await asyncio.wait_for(process.stdout.readline(), DEADLINE_S)
    elapsed = (time.perf_counter() - started) * 1000
    if b'"result"' not in answer:
        raise SystemExit(f"{command} answered {answer[:300]!r}")
    process.stdin.close()
    await asyncio.wait_for(process.wait(), DEADLINE_S)
    return elapsed


async def _median(command: list[str], line: bytes, cwd: str) -> float:
    await _spawn_once(command, line, cwd)
    return statistics.median([await _spawn_once(command, line, cwd) for _ in range(SAMPLES)])


async def main() -> None:
    cwd = tempfile.mkdtemp()
    floor = await _median([sys.executable, "-c", _FLOOR_CHILD], b"{}\n", cwd)
    time_server = str(Path(sys.executable).parent / "mcp-server-time")
    cases: list[tuple[str, str, dict[str, Any] | None, float]] = [
        ("modes", "amplifier_modes", None, LIGHT_BUDGET_MS),
        ("skills", "amplifier_skills", None, LIGHT_BUDGET_MS),
        ("routing-matrix", "amplifier_routing_matrix", None, LIGHT_BUDGET_MS),
        ("docs", "amplifier_docs", None, LIGHT_BUDGET_MS),
        ("mcp, no servers", "amplifier_mcp", None, LIGHT_BUDGET_MS),
        (
            "mcp, mcp-server-time",
            "amplifier_mcp",
            {"mcp": {"servers": [{"name": "time", "command": time_server}]}},
            MCP_SERVER_BUDGET_MS,
        ),
    ]
    for name, module, config, budget in cases:
        value = await _median([sys.executable, "-m", module], _describe(config), cwd)
        print(
            json.dumps(
                {
                    "name": f"spawn_to_describe[{name}]",
                    "value": round(value, 1),
                    "unit": "ms",
                    "floor": round(floor, 1),
                    "ratio": round(value / floor, 2),
                    "budget": budget,
                }
            )
        )


if __name__ == "__main__":
    asyncio.run(main())
