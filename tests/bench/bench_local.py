"""Benchmark of the offline local provider (services/amplifier-local).

Measures, through the real service process of that service's own venv:
spawn-to-describe time, the first complete (which loads the model), prompt
processing and generation speed of SmolLM2-135M-Instruct, in tokens/s.

    .venv/bin/python tests/bench/bench_local.py

Rows: ``{name, value, unit, floor, ratio, budget}``. A throughput row has a
``floor`` (the least acceptable value) and ``ratio = value / floor``; a time
row has a ``budget`` (the most acceptable) and ``ratio = budget / value``. A
ratio of 1 or more is within target.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from amplifier_ipc_protocol import Peer

SERVE_COMMAND = (
    Path(__file__).resolve().parents[2] / "services/amplifier-local/.venv/bin/amplifier-local-serve"
)

# Spawns measured for spawn-to-describe; the median is reported.
SPAWN_SAMPLES = 5
# Generations measured for tokens/s; the median is reported.
GENERATION_SAMPLES = 3
# Enough tokens that per-request overhead does not dominate the rate.
GENERATED_TOKENS = 128
# Generous deadline for any one request of the benchmark.
REQUEST_DEADLINE_SECONDS = 120.0

# Targets on the 2-core reference machine. Prompt processing of a 135M model
# runs in the hundreds of tokens/s, generation in the tens; below these floors
# an interactive answer of a few sentences takes too long.
PROMPT_TOKENS_PER_SECOND_FLOOR = 200.0
GENERATION_TOKENS_PER_SECOND_FLOOR = 20.0
# A provider process must be ready quicker than a user notices a turn starting.
SPAWN_TO_DESCRIBE_BUDGET_SECONDS = 0.5
# Loading 93 MB of weights (memory-mapped) plus one token.
FIRST_COMPLETE_BUDGET_SECONDS = 3.0

# About 400 tokens of prompt, so that prompt processing time is measurable.
LONG_PROMPT = (
    "Here are some notes about the sea. "
    + " ".join(f"Note {i}: the tide rises and falls twice a day, moved by the moon." for i in range(25))
    + " Now write a long story about a sailor and a lighthouse."
)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}


class _Service:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.token_times: list[float] = []
        assert process.stdout is not None and process.stdin is not None
        self.peer = Peer(process.stdout, process.stdin, name="bench-host", on_notification=self._notified)
        self.peer.start()

    def _notified(self, method: str, params: dict[str, Any]) -> None:
        if method == "stream.provider.token":
            self.token_times.append(time.perf_counter())

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return await self.peer.request(method, params, timeout=REQUEST_DEADLINE_SECONDS)

    async def close(self) -> None:
        await self.peer.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def _spawn() -> tuple[_Service, float]:
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        str(SERVE_COMMAND),
        env=_env(),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    service = _Service(process)
    await service.call("describe")
    return service, time.perf_counter() - started


def _row(
    name: str, value: float, unit: str, *, floor: float | None = None, budget: float | None = None
) -> dict[str, Any]:
    if floor is not None:
        ratio = value / floor
    else:
        assert budget is not None
        ratio = budget / value if value > 0 else float("inf")
    return {
        "name": name,
        "value": round(value, 4),
        "unit": unit,
        "floor": floor,
        "ratio": round(ratio, 2),
        "budget": budget,
    }


async def _measure() -> list[dict[str, Any]]:
    spawn_times: list[float] = []
    for _ in range(SPAWN_SAMPLES):
        service, elapsed = await _spawn()
        spawn_times.append(elapsed)
        await service.close()

    service, _ = await _spawn()
    try:
        await service.call("configure", {"config": {"local": {"seed": 1, "temperature": 0.0}}})
        started = time.perf_counter()
        await service.call(
            "provider.complete",
            {"request": {"messages": [{"role": "user", "content": "Hi"}], "max_output_tokens": 1}},
        )
        first_complete = time.perf_counter() - started

        prompt_rates: list[float] = []
        generation_rates: list[float] = []
        for sample in range(GENERATION_SAMPLES):
            service.token_times.clear()
            sent = time.perf_counter()
            response = await service.call(
                "provider.complete",
                {
                    "request": {
                        # A new first line each time: llama.cpp reuses the cached
                        # prefix of the previous prompt, which would skip the work.
                        "messages": [{"role": "user", "content": f"Story number {sample}.\n{LONG_PROMPT}"}],
                        "max_output_tokens": GENERATED_TOKENS,
                    }
                },
            )
            times = service.token_times
            usage = response["usage"]
            if len(times) < 2:
                raise RuntimeError(f"the model streamed {len(times)} pieces; cannot measure generation")
            prompt_rates.append(usage["input_tokens"] / (times[0] - sent))
            # The first piece marks the end of prompt processing; the rest is generation.
            generation_rates.append((len(times) - 1) / (times[-1] - times[0]))
    finally:
        await service.close()

    return [
        _row(
            "local: spawn to describe (median)",
            statistics.median(spawn_times),
            "s",
            budget=SPAWN_TO_DESCRIBE_BUDGET_SECONDS,
        ),
        _row(
            "local: first complete (loads the model)",
            first_complete,
            "s",
            budget=FIRST_COMPLETE_BUDGET_SECONDS,
        ),
        _row(
            "local: prompt processing (SmolLM2-135M)",
            statistics.median(prompt_rates),
            "tokens/s",
            floor=PROMPT_TOKENS_PER_SECOND_FLOOR,
        ),
        _row(
            "local: generation (SmolLM2-135M)",
            statistics.median(generation_rates),
            "tokens/s",
            floor=GENERATION_TOKENS_PER_SECOND_FLOOR,
        ),
    ]


def run() -> list[dict[str, Any]]:
    """Measure; an empty list, with the reason on stderr, when the service's venv is not built."""
    if not SERVE_COMMAND.exists():
        sys.stderr.write(
            f"bench_local: skipped, {SERVE_COMMAND} is absent (build the amplifier-local venv first)\n"
        )
        return []
    return asyncio.run(_measure())


if __name__ == "__main__":
    for row in run():
        target = f"floor {row['floor']}" if row["floor"] is not None else f"budget {row['budget']}"
        print(f"{row['name']:<45} {row['value']:>10} {row['unit']:<9} {target:<14} ratio {row['ratio']}")
