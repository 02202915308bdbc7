"""Child sessions through the real `amplifier-ipc` entry point: the registry, installed venvs,
the scripted provider. One script serves parent and child (each keeps its own position):
entry 0 is the delegate call (the child is not offered `delegate`, so its own entry 0
fails as an unknown tool), entry 1 answers both, entry 2 answers the child's resume."""

from __future__ import annotations

import json
import os
import shutil
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


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "OLLAMA_HOST"}
    env["AMPLIFIER_HOME"] = str(home)
    return env


def _cli(home: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=_env(home), cwd=cwd, input="", capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_delegation_from_the_cli_is_shown_listed_and_resumed_from_the_cli(
    home: Path, tmp_path: Path
) -> None:
    script, record = tmp_path / "script.yaml", tmp_path / "calls.jsonl"
    script.write_text(json.dumps(SCRIPT))
    flags = ["--agent", "minimal", "--provider", "scripted", "-C", f"scripted.script={script}"]
    flags += ["-C", f"scripted.record={record}"]
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
    # The spawn's rules hold on the CLI's turn too: the child is still not offered `delegate`.
    spawned, continued = _requests_of(record, child_id)[0], _requests_of(record, child_id)[2]
    assert _shape(continued)[0] == _shape(spawned)[0] and "delegate" not in _shape(spawned)[0]
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


EXPLORE = {
    "id": "x1",
    "name": "delegate",
    "arguments": {
        "agent": "explorer",
        "instruction": "find the notes",
        "exclude_tools": ["bash"],
        "exclude_hooks": ["status_context"],
        "provider_preferences": [{"provider": "scripted", "model": "explorer-model"}],
        "model_role": "fast",
    },
}
# Parent and child each keep their own position: entry 0 is the delegation (the child is not
# offered `delegate`), entry 1 answers both, 2 and 3 answer the child's turns from the CLI.
EXPLORER_SCRIPT = [
    {"tool_calls": [EXPLORE]},
    "done",
    "continued by run --session",
    "continued in the REPL",
    "continued without its parent",
]
# prompt-toolkit draws "> " with style resets between the characters; Enter is "\r" on a terminal.
REPL_PROMPT = r">\x1b\[0m"
ENTER = "\r"


def _settings(folder: Path, script: Path, record: Path) -> None:
    """Project settings, so that `session resume` (which takes no flags) runs the same provider."""
    (folder / ".amplifier").mkdir()
    settings = {
        "provider": "scripted",
        "config": {"scripted": {"script": str(script), "record": str(record)}},
    }
    (folder / ".amplifier" / "settings.yaml").write_text(json.dumps(settings))


def _requests_of(record: Path, session_id: str) -> list[dict[str, Any]]:
    requests = [json.loads(line)["request"] for line in record.read_text().splitlines()]
    return [r for r in requests if (r.get("metadata") or {}).get("session_id") == session_id]


def _shape(request: dict[str, Any]) -> tuple[list[str], str | None, bool, bool]:
    """What the spawn fixed: tools offered, model, the explorer's prompt, the status hook's note."""
    tools = sorted(t["name"] for t in request.get("tools") or [])
    environment = any(str(m.get("content")).startswith("<environment>") for m in request["messages"])
    return tools, request.get("model"), "You explore a codebase" in str(request.get("system")), environment


def _roles(home: Path, session_id: str) -> list[Any]:
    """The model_role of each provider:request hook event of the session (the logging hook's copy)."""
    path = home / "sessions" / session_id / "hook-events.jsonl"
    events = [json.loads(line) for line in path.read_text().splitlines()]
    return [e["data"].get("model_role") for e in events if e["event"] == "provider:request"]


def test_a_markdown_agents_child_continues_from_the_cli_as_it_was_spawned(home: Path, tmp_path: Path) -> None:
    import pexpect

    script, record = tmp_path / "script.yaml", tmp_path / "calls.jsonl"
    script.write_text(json.dumps(EXPLORER_SCRIPT))
    _settings(tmp_path, script, record)
    run = _cli(home, tmp_path, "run", "--agent", "minimal", "--output", "stream-json", "explore it")
    assert run.returncode == 0, run.stderr
    events = _lines(run.stdout)
    assert events[-1]["response"] == "done"
    parent_id = events[-1]["session_id"]
    child_id = next(e["session_id"] for e in events if e.get("parent_id") == parent_id)
    assert child_id.endswith("_explorer")
    spawned = _requests_of(record, child_id)
    assert len(spawned) == 2
    # The spawn's filters and provider choice, and the explorer's own tools and prompt.
    assert [_shape(r) for r in spawned] == [
        (["glob", "grep", "read_file"], "explorer-model", True, False)
    ] * 2
    assert _roles(home, child_id) == ["fast", "fast"]

    continued = _cli(home, tmp_path, "run", "--session", child_id, "--output", "json", "and the tests?")
    assert continued.returncode == 0, continued.stderr
    assert json.loads(continued.stdout)["response"] == "continued by run --session"
    third = _requests_of(record, child_id)[2]
    assert _shape(third) == _shape(spawned[0])
    assert _roles(home, child_id) == ["fast"] * 3

    repl = pexpect.spawn(
        CLI,
        ["session", "resume", child_id],
        env={**_env(home), "TERM": "xterm", "COLUMNS": "200", "LINES": "50"},
        cwd=str(tmp_path),
        encoding="utf-8",
        timeout=RUN_TIMEOUT_S,
        dimensions=(50, 200),
    )
    try:
        repl.expect(REPL_PROMPT)
        repl.send("one more" + ENTER)
        repl.expect("continued in the REPL")
        repl.expect(REPL_PROMPT)
        repl.sendeof()
        repl.expect(pexpect.EOF)
    finally:
        repl.close(force=True)
    fourth = _requests_of(record, child_id)[3]
    assert _shape(fourth) == _shape(spawned[0])
    assert _roles(home, child_id) == ["fast"] * 4
    metadata = json.loads((home / "sessions" / child_id / "metadata.json").read_text())
    assert metadata["turns"] == 3 and metadata["parent_id"] == parent_id and metadata["depth"] == 1
    assert metadata["agent"] == "explorer"

    # The child keeps what it is rebuilt from: it continues after its parent's folder is gone.
    shutil.rmtree(home / "sessions" / parent_id)
    orphan = _cli(home, tmp_path, "run", "--session", child_id, "--output", "json", "last one")
    assert orphan.returncode == 0, orphan.stderr
    assert json.loads(orphan.stdout)["response"] == "continued without its parent"
    assert _shape(_requests_of(record, child_id)[4]) == _shape(spawned[0])


def _fake_session(home: Path, session_id: str, **fields: Any) -> None:
    folder = home / "sessions" / session_id
    folder.mkdir(parents=True)
    metadata = {"id": session_id, "agent": "minimal", "turns": 1, "status": "completed", **fields}
    (folder / "metadata.json").write_text(json.dumps(metadata))


def test_a_child_whose_parent_is_gone_is_refused_with_how_to_keep_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _fake_session(home, "p1-0123abcd_explorer", agent="explorer", parent_id="p1", depth=1)
    run = _cli(home, tmp_path, "run", "--session", "p1-0123abcd_explorer", "more")
    assert run.returncode == 2
    assert "is a child of p1, which cannot be read" in run.stderr
    assert "session show p1-0123abcd_explorer" in " ".join(run.stderr.split())


def test_a_child_cannot_be_continued_as_another_agent(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _fake_session(home, "p1")
    _fake_session(home, "p1-0123abcd_explorer", agent="explorer", parent_id="p1", depth=1)
    run = _cli(home, tmp_path, "run", "--agent", "minimal", "--session", "p1-0123abcd_explorer", "more")
    assert run.returncode == 2
    assert "is a child session of the agent explorer; it cannot continue as minimal" in run.stderr


@pytest.mark.parametrize(
    ("kept", "message"),
    [
        (None, "runs the agent explorer, which is not registered, and its metadata keeps no Markdown"),
        (
            {"source": "foundation:agents/explorer.md", "text": "# no front matter"},
            "has no YAML front matter",
        ),
    ],
)
def test_a_child_whose_agent_cannot_be_rebuilt_is_refused_naming_why(
    home: Path, tmp_path: Path, kept: dict[str, str] | None, message: str
) -> None:
    parent_id = f"p-{tmp_path.name}"
    child_id = f"{parent_id}-0123abcd_explorer"
    _fake_session(home, parent_id, working_dir=str(tmp_path))
    extra = {"agent_markdown": kept} if kept else {}
    delegation = {"agent": "explorer"}
    _fake_session(
        home, child_id, agent="explorer", parent_id=parent_id, depth=1, delegation=delegation, **extra
    )
    run = _cli(home, tmp_path, "run", "--provider", "scripted", "--session", child_id, "more")
    assert run.returncode == 2, run.stderr
    assert message in " ".join(run.stderr.split())
