"""docs/writing-services.md, followed literally: its files are written and its
shell steps run in order, from an empty folder to the conformance check and
`amplifier-ipc discover`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "writing-services.md"
# Building a venv from uv's cache, a conformance run and an install: well under this.
SCRIPT_TIMEOUT_S = 600

_BLOCK = re.compile(r"^```(\w+)(?: file=(\S+))?\n(.*?)^```\n", re.MULTILINE | re.DOTALL)


def doc_steps() -> list[tuple[str, str | None, str]]:
    """(language, file or None, text) of every fenced block, in order."""
    return [(m.group(1), m.group(2), m.group(3)) for m in _BLOCK.finditer(DOC.read_text())]


def script_from_doc(stop_before: str | None = None) -> str:
    lines = ["set -euo pipefail"]
    for language, path, text in doc_steps():
        if stop_before and stop_before in text:
            break
        if path is not None:
            lines += [
                f"mkdir -p \"$(dirname '{path}')\"",
                f"cat > '{path}' <<'__DOC_FILE__'",
                text + "__DOC_FILE__",
            ]
        elif language == "sh":
            lines.append(text)
    return "\n".join(lines) + "\n"


def _cli_has_discover(binary: Path) -> bool:
    if not binary.exists():
        return False
    done = subprocess.run([str(binary), "discover", "--help"], capture_output=True, timeout=SCRIPT_TIMEOUT_S)
    return done.returncode == 0


def test_the_doc_has_files_and_shell_steps_up_to_discover() -> None:
    steps = doc_steps()
    files = [path for _, path, _ in steps if path]
    assert "pyproject.toml" in files and "src/amplifier_greeter/__main__.py" in files
    shell = "".join(text for language, _, text in steps if language == "sh")
    assert "amplifier_ipc_protocol.conformance" in shell
    assert "amplifier-ipc discover" in shell


@pytest.mark.skipif(
    shutil.which("uv") is None and not (Path(sys.executable).parent / "uv").exists(),
    reason="uv is not installed",
)
def test_following_the_doc_builds_a_service_that_passes_conformance_and_is_discovered(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    cli = bin_dir / "amplifier-ipc"
    with_discover = _cli_has_discover(cli)
    script = script_from_doc(stop_before=None if with_discover else "amplifier-ipc discover")
    env = {
        **os.environ,
        "AMPLIFIER_IPC": str(REPO),
        "AMPLIFIER_HOME": str(tmp_path / "home"),
        "UV_OFFLINE": "1",  # tests reach only loopback: uv works from its cache
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert "PASSED: all 11 checks" in done.stdout, done.stdout
    described = (tmp_path / "amplifier-greeter" / "describe.json").read_text()
    assert '"name":"amplifier-greeter"' in described
    assert '"count_greetings"' in described and '"no_shouting"' in described
    if with_discover:
        assert "greeter" in done.stdout
