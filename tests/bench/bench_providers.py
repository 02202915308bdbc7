"""Benchmarks of the providers service (issue 6):

- spawn to describe answer of ``python -m amplifier_providers`` (seven
  provider components, no SDK imported before describe), against a minimal
  asyncio child answering one request (budget: at most 1.5x, as for any
  service in issue 2);
- for scale, what importing each vendor SDK costs in a fresh interpreter,
  against a bare interpreter start: what describe would cost if the SDKs were
  imported eagerly (no budget: it informs).

Run on its own: ``.venv/bin/python -m tests.bench.bench_providers``.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
from typing import Any

from ._common import figure_row, floor_command, median_spawn_ms

SPAWNS = 10
IMPORT_RUNS = 3
SPAWN_BUDGET_RATIO = 1.5
# Importing the heaviest SDK takes about 2 s here; this only bounds a hung interpreter.
IMPORT_DEADLINE_S = 120.0
SDKS = ("anthropic", "openai", "google.genai", "ollama")


def _import_ms(module: str) -> float:
    code = "import time; s = time.perf_counter(); import {m}; print((time.perf_counter() - s) * 1000)"
    runs = []
    for _ in range(IMPORT_RUNS):
        out = subprocess.run(
            [sys.executable, "-c", code.format(m=module)],
            capture_output=True,
            text=True,
            check=True,
            timeout=IMPORT_DEADLINE_S,
        )
        runs.append(float(out.stdout.strip()))
    return statistics.median(runs)


def run() -> list[dict[str, Any]]:
    floor = asyncio.run(median_spawn_ms(floor_command(), SPAWNS))
    value = asyncio.run(median_spawn_ms([sys.executable, "-m", "amplifier_providers"], SPAWNS))
    rows: list[dict[str, Any]] = [
        figure_row(
            "providers service: spawn to describe answer",
            value,
            "ms",
            floor=floor,
            budget=f"<= {SPAWN_BUDGET_RATIO}x floor",
            note=f"median of {SPAWNS}; floor: minimal asyncio child answering one request",
        )
    ]
    for sdk in SDKS:
        rows.append(
            {
                "name": f"import {sdk} (what describe avoids)",
                "value": round(_import_ms(sdk), 1),
                "unit": "ms",
                "floor": None,
                "ratio": None,
                "budget": None,
                "note": f"median of {IMPORT_RUNS} fresh interpreters; imported only inside the provider's call",
            }
        )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
