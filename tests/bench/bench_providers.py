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
import time
from typing import Any

SPAWNS = 10
IMPORT_RUNS = 3
SPAWN_BUDGET_RATIO = 1.5
# A spawn that takes longer than this is hung, not slow.
SPAWN_DEADLINE_S = 60.0
# Importing the heaviest SDK takes about 2 s here; this only bounds a hung interpreter.
IMPORT_DEADLINE_S = 120.0
SDKS = ("anthropic", "openai", "google.genai", "ollama")

_DESCRIBE = b'{"jsonrpc":"2.0","id":1,"method":"describe"}\n'
_MINIMAL_CHILD = """
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


async def _spawn_to_answer_ms(*argv: str) -> float:
    start = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(_DESCRIBE)
    line = await asyncio.wait_for(process.stdout.readline(), SPAWN_DEADLINE_S)
    elapsed = (time.perf_counter() - start) * 1000
    if b'"result"' not in line:
        raise RuntimeError(f"no describe answer from {argv}: {line[:200]!r}")
    process.stdin.close()
    try:
        await asyncio.wait_for(process.wait(), SPAWN_DEADLINE_S)
    except TimeoutError:
        process.kill()
        await process.wait()
    return elapsed


async def _median_spawn_ms(*argv: str) -> float:
    await _spawn_to_answer_ms(*argv)  # warm the file cache
    return statistics.median([await _spawn_to_answer_ms(*argv) for _ in range(SPAWNS)])


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
    floor = asyncio.run(_median_spawn_ms(sys.executable, "-c", _MINIMAL_CHILD))
    value = asyncio.run(_median_spawn_ms(sys.executable, "-m", "amplifier_providers"))
    rows: list[dict[str, Any]] = [
        {
            "name": "providers service: spawn to describe answer",
            "value": round(value, 1),
            "unit": "ms",
            "floor": round(floor, 1),
            "ratio": round(value / floor, 2),
            "budget": f"<= {SPAWN_BUDGET_RATIO}x floor",
            "note": f"median of {SPAWNS}; floor: minimal asyncio child answering one request",
        }
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
