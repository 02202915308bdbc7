"""The README's commands on an empty AMPLIFIER_HOME: discover, register and
install everything the checkout ships, offline, then one foundation turn
whose provider is shown the tools of every behavior."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "amplifier-ipc")
# Installing eight services (uv, offline from its cache; llama.cpp from the wheelhouse make builds).
INSTALL_TIMEOUT_S = 900.0
# One turn of the foundation agent's services on a loaded 2-core machine.
RUN_TIMEOUT_S = 180.0

FOUNDATION_TOOLS = {
    "read_file",
    "write_file",
    "edit_file",
    "apply_patch",
    "glob",
    "grep",
    "bash",
    "web_fetch",
    "todo",
    "delegate",
}
BEHAVIOR_TOOLS = {"mode", "load_skill"}


def _env(home: Path) -> dict[str, str]:
    env = {**os.environ, "AMPLIFIER_HOME": str(home)}
    wheelhouse = ROOT / ".wheels"
    if "UV_FIND_LINKS" not in env and wheelhouse.is_dir():
        env["UV_FIND_LINKS"] = str(wheelhouse)  # as make sets it: never rebuild llama.cpp here
    for key in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        env.pop(key, None)
    return env


def test_a_fresh_home_installs_the_checkout_offline_and_foundation_offers_every_behaviors_tools(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    work = tmp_path / "project"
    work.mkdir()
    env = _env(home)
    for folder in ("services", "definitions"):
        done = subprocess.run(
            [CLI, "discover", str(ROOT / folder), "--register", "--install"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    listed = subprocess.run([CLI, "agents", "list"], env=env, capture_output=True, text=True, check=True)
    assert "foundation" in listed.stdout and "minimal" in listed.stdout

    (work / "script.yaml").write_text("- text: 'Here is what I can use.'\n")
    done = subprocess.run(
        [
            CLI,
            "run",
            "--agent",
            "foundation",
            "--provider",
            "scripted",
            "-C",
            "scripted.script=script.yaml",
            "-C",
            "scripted.record=calls.jsonl",
            "--output",
            "json",
            "what can you do?",
        ],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["response"] == "Here is what I can use."
    (call,) = [json.loads(line) for line in (work / "calls.jsonl").read_text().splitlines()]
    offered = {tool["name"] for tool in call["request"]["tools"]}
    assert offered >= FOUNDATION_TOOLS | BEHAVIOR_TOOLS, sorted(offered)
    assert "foundation" in call["request"]["system"].lower()
