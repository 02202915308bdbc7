"""Benchmarks of the protocol library (issue 2, Performance), each printed
against a floor measured in the same run:

- a request/response round trip through two Peers over a real pipe (the
  other Peer in a child process), against a raw asyncio pipe round trip of
  the same bytes (budget: at most 1.3x);
- one-way notifications per second from one Peer to another in a child
  process (budget: at least 500k/s; floor column: raw lines/s);
- spawn to describe answer for a service with one tool and one hook,
  against a minimal asyncio child answering one request (budget: 1.5x).

Each figure is the best of several runs (floor and figure interleaved where
they can be): on a shared machine the best run is the one least disturbed.
Run on its own: ``.venv/bin/python -m tests.bench.bench_protocol``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from ._common import figure_row, floor_command, spawn_to_answer_ms

FIXTURES = Path(__file__).resolve().parents[2] / "protocol" / "tests" / "fixtures"

ROUND_TRIPS = 3000
ROUND_TRIP_RUNS = 5
WARMUP_ROUND_TRIPS = 300
NOTIFICATIONS = 200_000
NOTIFICATION_RUNS = 3
SPAWNS = 10

# Budgets of issue 2.
ROUND_TRIP_BUDGET_RATIO = 1.3
NOTIFICATION_BUDGET_PER_S = 500_000
SPAWN_BUDGET_RATIO = 1.5

_REQUEST_LINE = b'{"jsonrpc":"2.0","id":1,"method":"echo","params":{"name":"echo","input":{"text":"x"}}}\n'
_PARAMS = {"name": "echo", "input": {"text": "x"}}
_TOKEN = {"text": "tok"}

_RAW_ECHO_CHILD = """
import asyncio, sys, time
async def main():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stdout.buffer)
    count = 0
    while line := await reader.readline():
        if line.startswith(b"COUNT"):
            transport.write(str(count).encode() + b"\\n")
        elif line.startswith(b"CPU"):
            transport.write(repr(time.process_time()).encode() + b"\\n")
        elif line.startswith(b'{"jsonrpc":"2.0","method"'):
            count += 1
        else:
            transport.write(line)
asyncio.run(main())
"""

_PEER_CHILD = """
import asyncio, time
from amplifier_ipc_protocol.peer import Peer
from amplifier_ipc_protocol.stdio import open_wire
async def main():
    reader, writer = await open_wire(0, 1)
    count = 0
    async def echo(params):  # async, like every handler of the Server
        return params
    def tick(params):
        nonlocal count
        count += 1
    peer = Peer(reader, writer, name="child", handlers={
        "echo": echo, "stream.token": tick, "count": lambda params: count,
        "cpu": lambda params: time.process_time()})
    await peer.run()
asyncio.run(main())
"""


def _env() -> dict[str, str]:
    """This environment, with the protocol test fixtures (bench_svc) importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FIXTURES), env.get("PYTHONPATH", "")]))
    return env


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env=_env(),
        limit=2**24,
    )


async def _finish(process: asyncio.subprocess.Process) -> None:
    if process.stdin is not None:
        process.stdin.close()
    try:
        await asyncio.wait_for(process.wait(), 10)
    except TimeoutError:
        process.kill()
        await process.wait()


async def _raw_echo() -> tuple[asyncio.subprocess.Process, Any]:
    process = await _spawn(sys.executable, "-c", _RAW_ECHO_CHILD)
    assert process.stdin is not None and process.stdout is not None
    write, readline = process.stdin.write, process.stdout.readline

    async def round_trip() -> None:
        write(_REQUEST_LINE)
        await readline()

    return process, round_trip


async def _peer_child() -> tuple[asyncio.subprocess.Process, Any]:
    from amplifier_ipc_protocol.peer import Peer

    process = await _spawn(sys.executable, "-c", _PEER_CHILD)
    peer = Peer(process.stdout, process.stdin, name="bench")  # type: ignore[arg-type]
    peer.start()
    return process, peer


async def _run_us(round_trip: Any, child_cpu: Any) -> tuple[float, float]:
    """Wall and CPU (both processes) microseconds per round trip of one run."""
    cpu_before = time.process_time() + await child_cpu()
    start = time.perf_counter()
    for _ in range(ROUND_TRIPS):
        await round_trip()
    wall = time.perf_counter() - start
    cpu = time.process_time() + await child_cpu() - cpu_before
    return wall / ROUND_TRIPS * 1e6, cpu / ROUND_TRIPS * 1e6


async def round_trips_us() -> tuple[tuple[float, float], tuple[float, float]]:
    """((Peer wall, raw wall), (Peer CPU, raw CPU)) microseconds per round
    trip: the best of interleaved runs, so both see the same load."""
    raw_process, raw_trip = await _raw_echo()
    peer_process, peer = await _peer_child()
    assert raw_process.stdin is not None and raw_process.stdout is not None
    raw_in, raw_out = raw_process.stdin, raw_process.stdout

    async def raw_cpu() -> float:
        raw_in.write(b"CPU\n")
        return float(await raw_out.readline())

    async def peer_trip() -> None:
        await peer.request("echo", _PARAMS)

    async def peer_cpu() -> float:
        return float(await peer.request("cpu"))

    for trip in (raw_trip, peer_trip):
        for _ in range(WARMUP_ROUND_TRIPS):
            await trip()
    raw_runs, peer_runs = [], []
    for _ in range(ROUND_TRIP_RUNS):
        raw_runs.append(await _run_us(raw_trip, raw_cpu))
        peer_runs.append(await _run_us(peer_trip, peer_cpu))
    await peer.close()
    await _finish(peer_process)
    await _finish(raw_process)
    wall = (min(r[0] for r in peer_runs), min(r[0] for r in raw_runs))
    cpu = (min(r[1] for r in peer_runs), min(r[1] for r in raw_runs))
    return wall, cpu


async def raw_lines_per_s() -> float:
    process = await _spawn(sys.executable, "-c", _RAW_ECHO_CHILD)
    assert process.stdin is not None and process.stdout is not None
    line = b'{"jsonrpc":"2.0","method":"stream.token","params":{"text":"tok"}}\n'
    rates = []
    for run in range(NOTIFICATION_RUNS):
        start = time.perf_counter()
        for index in range(NOTIFICATIONS):
            process.stdin.write(line)
            if index % 1000 == 0:
                await process.stdin.drain()
        process.stdin.write(b"COUNT\n")
        count = int(await process.stdout.readline())
        assert count == NOTIFICATIONS * (run + 1), count
        rates.append(NOTIFICATIONS / (time.perf_counter() - start))
    await _finish(process)
    return max(rates)


async def peer_notifications_per_s() -> float:
    process, peer = await _peer_child()
    await peer.request("echo", {})
    notify = peer.notify
    rates = []
    for run in range(NOTIFICATION_RUNS):
        start = time.perf_counter()
        for _ in range(NOTIFICATIONS):
            await notify("stream.token", _TOKEN)
        count = await peer.request("count")
        assert count == NOTIFICATIONS * (run + 1), count
        rates.append(NOTIFICATIONS / (time.perf_counter() - start))
    await peer.close()
    await _finish(process)
    return max(rates)


async def spawn_to_describe_ms() -> tuple[float, float]:
    env = _env()
    service, floor = [], []
    for _ in range(SPAWNS):
        floor.append(await spawn_to_answer_ms(floor_command(), env=env))
        service.append(await spawn_to_answer_ms([sys.executable, "-m", "bench_svc"], env=env))
    return min(service), min(floor)


def _row(name: str, value: float, unit: str, floor: float, budget: str, note: str = "") -> dict[str, Any]:
    return figure_row(name, value, unit, floor=floor, budget=budget, note=note)


async def _run_all() -> list[dict[str, Any]]:
    (peer, raw), (peer_cpu, raw_cpu) = await round_trips_us()
    raw_rate = await raw_lines_per_s()
    peer_rate = await peer_notifications_per_s()
    spawn, spawn_floor = await spawn_to_describe_ms()
    return [
        _row(
            "protocol: request round trip, two Peers over a pipe (best run)",
            peer,
            "us",
            raw,
            f"<= {ROUND_TRIP_BUDGET_RATIO}x floor (raw asyncio pipe round trip)",
        ),
        _row(
            "protocol: request round trip, CPU time of both processes (best run)",
            peer_cpu,
            "us",
            raw_cpu,
            "-",
            note="informational: CPU per round trip barely depends on the machine's load, wall time does",
        ),
        _row(
            "protocol: one-way notifications, Peer to Peer (best run)",
            peer_rate,
            "msg/s",
            raw_rate,
            f">= {NOTIFICATION_BUDGET_PER_S} msg/s",
            note="floor column: raw asyncio lines/s into a child that only counts them",
        ),
        _row(
            "protocol: spawn to describe answer, service with 1 tool + 1 hook (best of 10)",
            spawn,
            "ms",
            spawn_floor,
            f"<= {SPAWN_BUDGET_RATIO}x floor (minimal asyncio child answering one request)",
        ),
    ]


def run() -> list[dict[str, Any]]:
    """The protocol benchmarks as rows for ``python -m tests.bench``."""
    return asyncio.run(_run_all())


if __name__ == "__main__":
    for row in run():
        print(
            f"{row['name']}: {row['value']} {row['unit']} (floor {row['floor']}, ratio {row['ratio']}; budget {row['budget']})"
        )
