"""Benchmark of the offline local provider (services/amplifier-local).

Measures, through the real service process of that service's own venv:
spawn-to-describe time, the first complete (which loads the model), prompt
processing and generation speed of SmolLM2-135M-Instruct, in tokens/s.

    .venv/bin/python -m tests.bench.bench_local

Rows: ``{name, value, unit, floor, ratio, budget}`` where ``floor`` is a
baseline measured in the same run and ``ratio = value / floor``:

- spawn to describe: floor is a minimal asyncio child of the same venv's
  Python answering one request (the cost of any Python service);
- prompt and generation tokens/s: floor is llama.cpp itself, in process, on
  the same model and tokens (so the ratio is what the service keeps of it).
  Their budget also holds an absolute minimum: the machine is shared, so a
  figure far below it usually means other work was running.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from amplifier_ipc_protocol import Peer

from ._common import floor_command, spawn_to_answer_ms

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

# Absolute minimums on the 2-core reference machine: below them an answer of
# a few sentences to an agent's prompt of some thousand tokens takes too long.
PROMPT_TOKENS_PER_SECOND_MIN = 100
GENERATION_TOKENS_PER_SECOND_MIN = 20
# Streaming through the protocol may cost a little of llama.cpp's own speed.
THROUGHPUT_MIN_RATIO = 0.8
# The service imports the protocol library and its provider module (never
# llama.cpp) before describe; that may cost this much over a bare child.
SPAWN_BUDGET_RATIO = 3.0
# Reading the kept prompt state must beat evaluating the prompt by far.
PROMPT_CACHE_BUDGET_RATIO = 0.5
# Importing llama.cpp and loading 93 MB of weights (memory-mapped) plus one token.
FIRST_COMPLETE_BUDGET_SECONDS = 3.0

# About 400 tokens of prompt, so that prompt processing time is measurable.
LONG_PROMPT = (
    "Here are some notes about the sea. "
    + " ".join(f"Note {i}: the tide rises and falls twice a day, moved by the moon." for i in range(25))
    + " Now write a long story about a sailor and a lighthouse."
)


# The prompt cache of the measured services goes here, not to the user's home.
_HOME = tempfile.mkdtemp(prefix="bench-local-")


def _env() -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {**base, "AMPLIFIER_HOME": _HOME}


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
    name: str, value: float, unit: str, *, floor: float | None, budget: str | float, note: str
) -> dict[str, Any]:
    return {
        "name": name,
        "value": round(value, 4),
        "unit": unit,
        "floor": round(floor, 4) if floor is not None else None,
        "ratio": round(value / floor, 2) if floor else None,
        "budget": budget,
        "note": note,
    }


# llama.cpp in process on the same model, chat template and tokens as the
# service: prints prompt and generation tokens/s as JSON.
_RAW_LLAMA = """
import json, sys, threading, time
from amplifier_local.engine import Engine
from amplifier_local.settings import Settings, locate_model
settings = Settings(seed=1, temperature=0.0)
engine = Engine(locate_model(settings), settings)
llama = engine._llama
prompt, stop = engine.render([{"role": "user", "content": sys.argv[1]}])
llama.reset()
started = time.perf_counter()
llama.eval(prompt)
prompt_rate = len(prompt) / (time.perf_counter() - started)
llama.reset()
times = []
for _ in llama.create_completion(prompt, max_tokens=int(sys.argv[2]), temperature=0.0, stop=stop, stream=True):
    times.append(time.perf_counter())
print(json.dumps({"prompt": prompt_rate, "generation": (len(times) - 1) / (times[-1] - times[0])}))
"""


async def _spawn_minimal() -> float:
    """Seconds to spawn the floor with the venv's own Python and have its answer."""
    return await spawn_to_answer_ms(floor_command(str(SERVE_COMMAND.parent / "python")), env=_env()) / 1000


async def _raw_llama(prompt: str) -> dict[str, float]:
    process = await asyncio.create_subprocess_exec(
        str(SERVE_COMMAND.parent / "python"),
        "-c",
        _RAW_LLAMA,
        prompt,
        str(GENERATED_TOKENS),
        env=_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(process.communicate(), REQUEST_DEADLINE_SECONDS)
    rates: dict[str, float] = json.loads(out.decode().strip().splitlines()[-1])
    return rates


async def _turn_first_answer() -> float:
    """Seconds from spawning a service to its one-token answer to LONG_PROMPT, as a turn would."""
    started = time.perf_counter()
    service, _ = await _spawn()
    try:
        await service.call(
            "provider.complete",
            {
                "request": {
                    "system": LONG_PROMPT,
                    "messages": [{"role": "user", "content": "What moves the tide?"}],
                    "max_output_tokens": 1,
                }
            },
        )
        return time.perf_counter() - started
    finally:
        await service.close()


async def _measure() -> list[dict[str, Any]]:
    spawn_times: list[float] = []
    bare_times: list[float] = []
    for _ in range(SPAWN_SAMPLES):
        bare_times.append(await _spawn_minimal())
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
        raw_prompt_rates: list[float] = []
        raw_generation_rates: list[float] = []
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
            raw = await _raw_llama(f"Story number {sample}.\n{LONG_PROMPT}")
            raw_prompt_rates.append(raw["prompt"])
            raw_generation_rates.append(raw["generation"])
    finally:
        await service.close()

    cold_turn = await _turn_first_answer()
    warm_turn = await _turn_first_answer()
    load = os.getloadavg()[0]
    return [
        _row(
            "local: spawn to describe",
            statistics.median(spawn_times),
            "s",
            floor=statistics.median(bare_times),
            budget=f"<= {SPAWN_BUDGET_RATIO}x",
            note=f"median of {SPAWN_SAMPLES}; floor: a bare asyncio child of the same venv answering one request",
        ),
        _row(
            "local: first complete (loads the model)",
            first_complete,
            "s",
            floor=None,
            budget=FIRST_COMPLETE_BUDGET_SECONDS,
            note="imports llama.cpp, loads SmolLM2-135M-Instruct (n_ctx 8192), one token",
        ),
        _row(
            "local: a turn's first answer, prompt kept from the last turn",
            warm_turn,
            "s",
            floor=cold_turn,
            budget=f"<= {PROMPT_CACHE_BUDGET_RATIO}x",
            note="spawn, load, ~470-token system prompt, one token; floor: the same with no kept prompt",
        ),
        _row(
            "local: prompt processing",
            statistics.median(prompt_rates),
            "tokens/s",
            floor=statistics.median(raw_prompt_rates),
            budget=f">= {PROMPT_TOKENS_PER_SECOND_MIN}, >= {THROUGHPUT_MIN_RATIO}x",
            note=f"SmolLM2-135M, ~470-token prompt, median of {GENERATION_SAMPLES}; floor: llama.cpp in process; "
            f"load average {load:.1f} on {os.cpu_count()} cores",
        ),
        _row(
            "local: generation",
            statistics.median(generation_rates),
            "tokens/s",
            floor=statistics.median(raw_generation_rates),
            budget=f">= {GENERATION_TOKENS_PER_SECOND_MIN}, >= {THROUGHPUT_MIN_RATIO}x",
            note=f"SmolLM2-135M, up to {GENERATED_TOKENS} tokens streamed; floor: llama.cpp in process",
        ),
    ]


def run() -> list[dict[str, Any]]:
    """Measure; an empty list, with the reason on stderr, when the service's venv is not built."""
    if not SERVE_COMMAND.exists():
        sys.stderr.write(
            f"bench_local: skipped, {SERVE_COMMAND} is absent (build the amplifier-local venv first)\n"
        )
        return []
    try:
        return asyncio.run(_measure())
    finally:
        shutil.rmtree(_HOME, ignore_errors=True)


if __name__ == "__main__":
    for row in run():
        print(
            f"{row['name']:<42} {row['value']:>10} {row['unit']:<9} floor {row['floor']!s:<8} "
            f"ratio {row['ratio']!s:<5} budget {row['budget']}   ({row['note']})"
        )
