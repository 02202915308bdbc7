"""Benchmark of child sessions (issue 8, Performance): what one delegation adds to a turn.

The floor is the cold turn overhead measured in the same run (spawn,
describe, prompt assembly and teardown of the same services); a delegation
to ``self`` pays roughly that once more, for the child's own processes. The
extra time is a turn with one ``delegate`` call minus a turn with one cheap
tool call (``todo`` read): the same number of model calls, so what is left is
the child session itself. Real foundation and scripted-provider processes.

Run on its own: ``.venv/bin/python tests/bench/bench_children.py``.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from amplifier_ipc_protocol import loops

from amplifier_ipc.host import Host, ServiceSpec, SessionConfig

TURNS = 5
# Issue 8: one delegation may add at most this many cold turn overheads.
DELEGATION_BUDGET_RATIO = 1.5


def _config(root: Path, parent: list[Any], child: list[Any]) -> SessionConfig:
    root.mkdir(parents=True)
    (root / "parent.yaml").write_text(json.dumps(parent))
    (root / "child.yaml").write_text(json.dumps(child))

    def scripted(name: str, script: str) -> ServiceSpec:
        return ServiceSpec(
            name=name,
            command=[sys.executable, "-m", "amplifier_providers"],
            config={"scripted": {"script": str(root / script)}},
        )

    return SessionConfig(
        services=[
            ServiceSpec(
                name="foundation",
                command=[sys.executable, "-m", "amplifier_foundation"],
                env={"AMPLIFIER_HOME": str(root / "home")},
                config={"approval": {"mode": "auto"}, "status_context": {"git": False}},
            ),
            scripted("providers", "parent.yaml"),
            scripted("childprov", "child.yaml"),
        ],
        orchestrator="foundation:streaming",
        context_manager="foundation:simple",
        provider="providers:scripted",
        working_dir=root,
        sessions_dir=root / "home" / "sessions",
        approval_mode="auto",
    )


async def _turn(config: SessionConfig) -> dict[str, Any]:
    host = Host(config)
    data: dict[str, Any] = {}
    try:
        async for event in host.run("bench"):
            if event.type == "complete" and event.parent_id is None:
                data = event.data
            elif event.type == "error":
                raise RuntimeError(event.data["message"])
    finally:
        await host.close()
    if data.get("status") != "completed":
        raise RuntimeError(f"the bench turn did not complete: {data}")
    return data["timings"]


async def _measure(root: Path) -> dict[str, list[float]]:
    delegate = {
        "id": "d1",
        "name": "delegate",
        "arguments": {
            "agent": "self",
            "instruction": "answer",
            "provider_preferences": [{"provider": "childprov:scripted"}],
        },
    }
    todo = {"id": "t1", "name": "todo", "arguments": {"action": "read"}}
    out: dict[str, list[float]] = {"cold": [], "tool": [], "delegate": []}
    for index in range(TURNS):  # interleaved, so machine load drifts alike for all three
        cold = await _turn(_config(root / f"cold{index}", ["hi"], ["unused"]))
        out["cold"].append(cold["services_ms"] + cold["prepare_ms"] + cold["teardown_ms"])
        tool = await _turn(_config(root / f"tool{index}", [{"tool_calls": [todo]}, "done"], ["unused"]))
        out["tool"].append(tool["total_ms"])
        child = await _turn(_config(root / f"del{index}", [{"tool_calls": [delegate]}, "done"], ["child"]))
        out["delegate"].append(child["total_ms"])
    return out


def run() -> list[dict[str, Any]]:
    """The delegation benchmark; rows ``{name, value, unit, floor, ratio, budget}``."""
    with tempfile.TemporaryDirectory() as folder:
        times = loops.run(_measure(Path(folder)))
    floor = statistics.median(times["cold"])
    extra = statistics.median(times["delegate"]) - statistics.median(times["tool"])
    return [
        {
            "name": "delegation to self: extra time in a turn (vs one cheap tool call), median",
            "value": round(extra, 1),
            "unit": "ms",
            "floor": round(floor, 1),
            "ratio": round(extra / floor, 2),
            "budget": f"<= {DELEGATION_BUDGET_RATIO}x floor (cold turn overhead, same services, same run)",
            "within": extra / floor <= DELEGATION_BUDGET_RATIO,
        }
    ]


def main() -> None:
    for row in run():
        print(
            f"{row['name']}: {row['value']} {row['unit']} (floor {row['floor']}, ratio {row['ratio']}; "
            f"budget {row['budget']})"
        )


if __name__ == "__main__":
    main()
