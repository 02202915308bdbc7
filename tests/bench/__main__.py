"""Run every benchmark module and print one table (``make bench``).

A module that fails prints its error and the others still run. The exit code
is 0 even when a figure is over budget (benchmarks inform, tests gate), but
such a row says OVER where it cannot be missed.
"""

from __future__ import annotations

import importlib
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
_CONDITION = re.compile(r"(<=|>=|<|>)\s*([-+]?\d[\d_,]*(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*(x\b)?")


def judge(row: dict[str, Any]) -> bool | None:
    """Whether the row is within its budget; None when it states no budget."""
    within = row.get("within")
    if isinstance(within, bool):
        return within
    budget = row.get("budget")
    value = row.get("value")
    if not isinstance(value, (int, float)):
        return None
    if isinstance(budget, (int, float)) and not isinstance(budget, bool):
        return value <= budget
    if not isinstance(budget, str):
        return None
    conditions = _CONDITION.findall(budget)
    if not conditions:
        return None
    ratio = row.get("ratio")
    for op, number, on_ratio in conditions:
        limit = float(number.replace(",", "").replace("_", ""))
        subject = ratio if on_ratio else value
        if not isinstance(subject, (int, float)):
            return None
        ok = {"<=": subject <= limit, ">=": subject >= limit, "<": subject < limit, ">": subject > limit}[op]
        if not ok:
            return False
    return True


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def render(rows: list[dict[str, Any]]) -> str:
    """The table: one line per row, with the verdict first so OVER stands out."""
    header = ("verdict", "benchmark", "figure", "floor", "ratio", "budget")
    table = [header]
    notes: list[str] = []
    for row in rows:
        verdict = {True: "ok", False: "OVER", None: "n/a"}[judge(row)]
        unit = row.get("unit") or ""
        table.append(
            (
                verdict,
                str(row.get("name", "?")),
                f"{_cell(row.get('value'))} {unit}".strip(),
                _cell(row.get("floor")),
                _cell(row.get("ratio")),
                _cell(row.get("budget")),
            )
        )
        if row.get("note"):
            notes.append(f"  {row.get('name')}: {row['note']}")
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip() for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if notes:
        lines += ["", "notes:", *notes]
    return "\n".join(lines)


def main() -> int:
    rows: list[dict[str, Any]] = []
    failures: list[str] = []
    for path in sorted(HERE.glob("bench_*.py")):
        name = f"{__package__ or 'tests.bench'}.{path.stem}"
        started = time.perf_counter()
        print(f"running {path.stem} ...", flush=True)
        try:
            module = importlib.import_module(name)
            produced = module.run()
            if not isinstance(produced, list):
                raise TypeError(f"run() returned {type(produced).__name__}, not a list of rows")
            rows += produced
        except Exception:
            failures.append(path.stem)
            print(f"ERROR in {path.stem}:\n{traceback.format_exc()}", flush=True)
            continue
        print(f"  {path.stem}: {len(produced)} rows in {time.perf_counter() - started:.1f}s", flush=True)
    print()
    print(render(rows))
    over = [row for row in rows if judge(row) is False]
    print()
    if over:
        print(
            f"OVER BUDGET: {len(over)} of {len(rows)} figures: " + "; ".join(str(r.get("name")) for r in over)
        )
    else:
        print(f"all {len(rows)} figures with a budget are within it")
    if failures:
        print(f"FAILED MODULES: {', '.join(failures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
