"""Benchmark: spawn-to-describe of the foundation, modes, skills,
routing-matrix, docs and mcp services, each against the floor of
``_common`` (a minimal asyncio child answering one JSON line).

The foundation service pays the floor plus importing the protocol library
and discovering its components; nothing heavy (pydantic, httpx) may load
before describe. The mcp service is measured twice: with no servers (what it
costs before any MCP server) and with mcp-server-time (the SDK import plus
one real server's start and handshake, the price of MCP).

    .venv/bin/python -m tests.bench.bench_services
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from ._common import describe_line, figure_row, floor_command, median_spawn_ms

# Spawns per measurement; the median is reported (after one warm-up spawn).
SAMPLES = 5
# The most a foundation spawn may take on the 2-core reference machine: a
# turn spawns every service in parallel, and a user notices beyond this.
FOUNDATION_BUDGET_MS = 400.0
# Services that only serve content, tools or hooks start with every turn; a
# user notices beyond this on the 2-core reference machine.
LIGHT_BUDGET_MS = 400.0
# Mounting a Python MCP server costs the SDK import and the server's own start.
MCP_SERVER_BUDGET_MS = 5000.0


def _foundation_command() -> list[str]:
    script = Path(sys.executable).with_name("amplifier-foundation-serve")
    return [str(script)] if script.exists() else [sys.executable, "-m", "amplifier_foundation"]


async def _measure() -> list[dict[str, Any]]:
    cwd = tempfile.mkdtemp(prefix="bench-services-")
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env["AMPLIFIER_SESSION_ID"] = "bench"
    floor = await median_spawn_ms(floor_command(), SAMPLES, env=env, cwd=cwd)
    time_server = str(Path(sys.executable).parent / "mcp-server-time")
    cases: list[tuple[str, list[str], dict[str, Any] | None, float]] = [
        ("foundation", _foundation_command(), None, FOUNDATION_BUDGET_MS),
        ("modes", [sys.executable, "-m", "amplifier_modes"], None, LIGHT_BUDGET_MS),
        ("skills", [sys.executable, "-m", "amplifier_skills"], None, LIGHT_BUDGET_MS),
        ("routing-matrix", [sys.executable, "-m", "amplifier_routing_matrix"], None, LIGHT_BUDGET_MS),
        ("docs", [sys.executable, "-m", "amplifier_docs"], None, LIGHT_BUDGET_MS),
        ("mcp, no servers", [sys.executable, "-m", "amplifier_mcp"], None, LIGHT_BUDGET_MS),
        (
            "mcp, mcp-server-time",
            [sys.executable, "-m", "amplifier_mcp"],
            {"mcp": {"servers": [{"name": "time", "command": time_server}]}},
            MCP_SERVER_BUDGET_MS,
        ),
    ]
    rows = []
    for name, command, config, budget in cases:
        value = await median_spawn_ms(command, SAMPLES, line=describe_line(config), env=env, cwd=cwd)
        rows.append(
            figure_row(
                f"spawn_to_describe[{name}]",
                value,
                "ms",
                floor=floor,
                budget=budget,
                note=f"median of {SAMPLES}" if name == "foundation" else "",
            )
        )
    return rows


def run() -> list[dict[str, Any]]:
    """Measure and return the benchmark rows."""
    return asyncio.run(_measure())


if __name__ == "__main__":
    for row in run():
        print(row)
