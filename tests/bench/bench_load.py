"""Load and leaks (issue 9): many sessions at once, and one long session, through the Host library.

- load: 20 sessions run concurrently in this process, 10 turns each; every
  turn makes a tool call (the foundation's file tools, with its hooks) and
  answers, with the scripted provider.
- soak: 200 sequential turns in one session with pre-spawn on, as the REPL runs.

Each reports turns per second, failed turns (must be 0), open file
descriptors and child processes before and after (must be equal) and peak
memory. The services are the real foundation and providers services,
installed by the registry into an AMPLIFIER_HOME (see tests/faults/faults_harness.py).

Run on its own: ``.venv/bin/python tests/bench/bench_load.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))

import faults_harness
from amplifier_ipc_protocol import loops
from amplifier_ipc_protocol.stdio import direct_children

from amplifier_ipc.host import Host, SessionConfig

SESSIONS = 20
TURNS_PER_SESSION = 10
SOAK_TURNS = 200
# Sequential cold turns measured first: the floor the concurrent throughput is compared with.
BASELINE_TURNS = 5
# Teardown of the last turn's processes may finish just after its complete event; settle this long at most.
SETTLE_S = 10.0
# RSS growth over the soak above this means something per turn is kept (a leak), not noise.
SOAK_RSS_GROWTH_BUDGET_MB = 30.0
ONE_TURN = """
- text: "Looking."
  tool_calls: [{{name: read_file, arguments: {{path: notes.txt}}}}, {{name: glob, arguments: {{pattern: "*.txt"}}}}]
- text: "Turn {n} done."
"""


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def children() -> list[int]:
    """Every process whose parent is this one (zombies included: an unreaped child is a leak too)."""
    return direct_children(os.getpid())


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def settle(before_children: int) -> None:
    """Give teardown the grace the Host allows, then count what is left."""
    deadline = time.monotonic() + SETTLE_S
    while len(children()) > before_children and time.monotonic() < deadline:
        time.sleep(faults_harness.POLL_S)


def session_config(home: Path, work: Path, turns: int) -> SessionConfig:
    from amplifier_ipc.registry.home import AmplifierHome
    from amplifier_ipc.registry.session import RunRequest, build_session

    script = work / "script.yaml"
    script.write_text("".join(ONE_TURN.format(n=n) for n in range(1, turns + 1)))
    (work / "notes.txt").write_text("some notes\n")
    request = RunRequest(
        agent="minimal",
        provider="scripted",
        working_dir=work,
        component_config={"scripted": {"script": str(script)}},
        approval="deny",
    )
    return build_session(AmplifierHome(home), request).config


def fresh(config: SessionConfig) -> SessionConfig:
    """The same session config for a new session (services copied: the Host may keep state on them)."""
    return dataclasses.replace(
        config, services=[dataclasses.replace(s) for s in config.services], session_id=None
    )


async def run_turns(config: SessionConfig, turns: int, *, prespawn: bool) -> tuple[int, int]:
    """(completed, failed) turns of one session."""
    host = Host(config, prespawn=prespawn, interactive=False)
    completed = failed = 0
    try:
        for _ in range(turns):
            status = "failed"
            async for event in host.run("next turn"):
                if event.type == "complete":
                    status = event.data["status"]
            if status == "completed":
                completed += 1
            else:
                failed += 1
    finally:
        await host.close()
    return completed, failed


def leak_rows(label: str, fds: tuple[int, int], kids: tuple[int, int]) -> list[dict[str, Any]]:
    return [
        {
            "name": f"{label}: open file descriptors, after minus before",
            "value": fds[1] - fds[0],
            "unit": "fds",
            "floor": 0,
            "ratio": None,
            "budget": "<= 0",
            "note": f"before {fds[0]}, after {fds[1]}",
        },
        {
            "name": f"{label}: child processes, after minus before",
            "value": kids[1] - kids[0],
            "unit": "processes",
            "floor": 0,
            "ratio": None,
            "budget": "<= 0",
            "note": f"before {kids[0]}, after {kids[1]}",
        },
    ]


async def load(home: Path, root: Path) -> list[dict[str, Any]]:
    base = session_config(home, root, TURNS_PER_SESSION)
    await _fork_server_up()
    started = time.perf_counter()
    await run_turns(fresh(base), BASELINE_TURNS, prespawn=False)
    floor = BASELINE_TURNS / (time.perf_counter() - started)
    fds, kids = open_fds(), len(children())
    started = time.perf_counter()
    results = await asyncio.gather(
        *(run_turns(fresh(base), TURNS_PER_SESSION, prespawn=False) for _ in range(SESSIONS)),
        return_exceptions=True,
    )
    elapsed = time.perf_counter() - started
    settle(kids)
    errors = [r for r in results if isinstance(r, BaseException)]
    done = sum(r[0] for r in results if isinstance(r, tuple))
    failed = SESSIONS * TURNS_PER_SESSION - done
    rate = done / elapsed
    label = f"load {SESSIONS} sessions x {TURNS_PER_SESSION} turns"
    rows: list[dict[str, Any]] = [
        {
            "name": f"{label}: turns per second (floor: one session's cold turns, sequential)",
            "value": round(rate, 2),
            "unit": "turns/s",
            "floor": round(floor, 2),
            "ratio": round(rate / floor, 2),
            "budget": ">= 1x",
            "note": f"{done} turns in {elapsed:.1f}s on {os.cpu_count()} cores",
        },
        {
            "name": f"{label}: failed turns",
            "value": failed,
            "unit": "turns",
            "floor": 0,
            "ratio": None,
            "budget": "<= 0",
            **({"note": f"errors: {errors[:3]!r}"} if errors else {}),
        },
        *leak_rows(label, (fds, open_fds()), (kids, len(children()))),
        {
            "name": f"{label}: peak memory of the Host process",
            "value": round(peak_rss_mb(), 1),
            "unit": "MB",
            "floor": None,
            "ratio": None,
            "budget": None,
            "note": "ru_maxrss of this process (services are separate processes)",
        },
    ]
    return rows


async def _fork_server_up() -> None:
    """The fork server lives as long as this process (as in the CLI): started
    before the counts, it is no leak of the turns measured."""
    from amplifier_ipc.host import forked, forkserver

    server = forkserver.shared()
    if server is not None:
        await forked.wait_ready(server)
    await _first_pipe()


async def _first_pipe() -> None:
    """uvloop (libuv) opens /dev/null once per loop at its first pipe and keeps
    it for the loop's life (its reserve for running out of descriptors):
    opened here, before the counts, so it is not taken for a leak of the turns."""
    loop = asyncio.get_running_loop()
    read_fd, write_fd = os.pipe()
    os.close(write_fd)
    transport, _ = await loop.connect_read_pipe(asyncio.Protocol, os.fdopen(read_fd, "rb", buffering=0))
    transport.close()
    await asyncio.sleep(0)  # the transport closes its pipe on the next turn of the loop


async def soak(home: Path, root: Path) -> list[dict[str, Any]]:
    config = fresh(session_config(home, root, SOAK_TURNS))
    await _fork_server_up()
    fds, kids = open_fds(), len(children())
    host = Host(config, prespawn=True, interactive=False)
    completed = failed = 0
    rss_early = 0.0
    started = time.perf_counter()
    try:
        for turn in range(SOAK_TURNS):
            status = "failed"
            async for event in host.run("next turn"):
                if event.type == "complete":
                    status = event.data["status"]
            completed += status == "completed"
            failed += status != "completed"
            if turn == SESSIONS - 1:
                rss_early = rss_mb()
    finally:
        await host.close()
    elapsed = time.perf_counter() - started
    settle(kids)
    growth = rss_mb() - rss_early
    label = f"soak {SOAK_TURNS} turns, one session, pre-spawn"
    return [
        {
            "name": f"{label}: turns per second",
            "value": round(completed / elapsed, 2),
            "unit": "turns/s",
            "floor": None,
            "ratio": None,
            "budget": None,
            "note": f"{completed} turns in {elapsed:.1f}s",
        },
        {
            "name": f"{label}: failed turns",
            "value": failed,
            "unit": "turns",
            "floor": 0,
            "ratio": None,
            "budget": "<= 0",
        },
        *leak_rows(label, (fds, open_fds()), (kids, len(children()))),
        {
            "name": f"{label}: Host RSS growth from turn {SESSIONS} to the end",
            "value": round(growth, 1),
            "unit": "MB",
            "floor": None,
            "ratio": None,
            "budget": f"<= {SOAK_RSS_GROWTH_BUDGET_MB:g}",
            "note": f"peak {peak_rss_mb():.1f} MB",
        },
    ]


def run() -> list[dict[str, Any]]:
    """The load and soak figures; rows ``{name, value, unit, floor, ratio, budget, note?}``."""
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        root = Path(tmp)
        home = faults_harness.build_home(root / "home")
        previous = os.environ.get("AMPLIFIER_HOME")
        os.environ["AMPLIFIER_HOME"] = str(home)  # what the services are given (PROTOCOL §8)
        try:
            (root / "load").mkdir()
            (root / "soak").mkdir()
            rows = loops.run(load(home, root / "load"))
            rows += loops.run(soak(home, root / "soak"))
        finally:
            if previous is None:
                os.environ.pop("AMPLIFIER_HOME", None)
            else:
                os.environ["AMPLIFIER_HOME"] = previous
    return rows


if __name__ == "__main__":
    for row in run():
        print(
            f"{row['name']}: {row['value']} {row['unit']} (floor {row['floor']}, ratio {row['ratio']}; "
            f"budget {row['budget']}){'  ' + row['note'] if row.get('note') else ''}"
        )
