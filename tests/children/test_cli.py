"""Child sessions through the real `amplifier-ipc` entry point: the registry, installed venvs,
the scripted provider. One script serves parent and child (each keeps its own position):
entry 0 is the delegate call (the child is not offered `delegate`, so its own entry 0
fails as an unknown tool), entry 1 answers both, entry 2 answers the child's resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "amplifier-ipc")
# A whole single-shot run through real services; generous for a loaded 2-core machine.
RUN_TIMEOUT_S = 180.0
SCRIPT = [
    {
        "tool_calls": [
            {"id": "d1", "name": "delegate", "arguments": {"agent": "self", "instruction": "child task"}}
        ]
    },
    "done",
    "resumed from the CLI",
]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("children-cli") / "home"
    env = {**os.environ, "AMPLIFIER_HOME": str(root)}
    for folder in ("services", "definitions"):
        subprocess.run(
            [CLI, "discover", str(ROOT / folder), "--register"], env=env, check=True, capture_output=True
        )
    done = subprocess.run([CLI, "install", "minimal"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return root


def _cli(home: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "OLLAMA_HOST"}
    env["AMPLIFIER_HOME"] = str(home)
    return subprocess.run(
        [CLI, *args], env=env, cwd=cwd, input="", capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_delegation_from_the_cli_is_shown_listed_and_resumed_from_the_cli(
    home: Path, tmp_path: Path
) -> None:
    script = tmp_path / "script.yaml"
    script.write_text(json.dumps(SCRIPT))
    flags = ["--agent", "minimal", "--provider", "scripted", "-C", f"scripted.script={script}"]
    run = _cli(home, tmp_path, "run", *flags, "--output", "stream-json", "delegate it")
    assert run.returncode == 0, run.stderr
    events = _lines(run.stdout)
    parent_id = events[-1]["session_id"]
    child_events = [e for e in events if e.get("parent_id") == parent_id]
    assert child_events and {e["depth"] for e in child_events} == {1}
    child_id = child_events[0]["session_id"]
    assert child_id.startswith(f"{parent_id}-") and child_id.endswith("_self")
    assert events[-1]["response"] == "done" and events[-1]["status"] == "completed"

    tree = _cli(home, tmp_path, "session", "list", "--tree")
    assert tree.returncode == 0, tree.stderr
    rows = tree.stdout.splitlines()
    parent_row = next(i for i, line in enumerate(rows) if parent_id[:12] in line)
    assert "└ " + child_id[len(parent_id) + 1 :] in rows[parent_row + 1]

    shown = _cli(home, tmp_path, "session", "show", parent_id)
    assert shown.returncode == 0, shown.stderr
    assert "children (1):" in shown.stdout and child_id in shown.stdout

    resumed = _cli(home, tmp_path, "run", *flags, "--session", child_id, "--output", "json", "more")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["response"] == "resumed from the CLI"
    metadata = json.loads((home / "sessions" / child_id / "metadata.json").read_text())
    assert metadata["turns"] == 2 and metadata["parent_id"] == parent_id and metadata["status"] == "completed"


def test_text_output_indents_the_child_under_the_delegate_call_with_its_agent(
    home: Path, tmp_path: Path
) -> None:
    script = tmp_path / "script.yaml"
    script.write_text(json.dumps(SCRIPT))
    run = _cli(
        home,
        tmp_path,
        "run",
        "--agent",
        "minimal",
        "--provider",
        "scripted",
        "-C",
        f"scripted.script={script}",
        "go",
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    call = next(i for i, line in enumerate(lines) if line.startswith("⏺ delegate"))
    assert lines[call + 1].startswith("  ↳ minimal")
    assert any(line.startswith("  done") for line in lines[call + 2 :])
