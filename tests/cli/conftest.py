"""A shared AMPLIFIER_HOME with the checkout's definitions registered and the minimal agent installed.

Installing is real (uv, offline from its cache) and done once per test run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "amplifier-ipc")
# A whole single-shot run through real services; generous for a loaded 2-core machine.
RUN_TIMEOUT_S = 120.0


@pytest.fixture(scope="session")
def installed_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-home") / "home"
    env = {**os.environ, "AMPLIFIER_HOME": str(root)}
    for folder in ("services", "definitions"):
        subprocess.run(
            [CLI, "discover", str(ROOT / folder), "--register"], env=env, check=True, capture_output=True
        )
    done = subprocess.run([CLI, "install", "minimal"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return root


class Cli:
    """Runs the real entry point against one AMPLIFIER_HOME, in a project folder."""

    def __init__(self, home: Path, cwd: Path) -> None:
        self.home = home
        self.cwd = cwd
        self.env = {**os.environ, "AMPLIFIER_HOME": str(home)}
        for key in (
            "ANTHROPIC_API_KEY",
            "OPENAI_API_KEY",
            "AZURE_OPENAI_API_KEY",
            "GEMINI_API_KEY",
            "GOOGLE_API_KEY",
            "OLLAMA_HOST",
        ):
            self.env.pop(key, None)

    def __call__(
        self, *args: str, input: str | None = None, timeout: float = RUN_TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CLI, *args],
            env=self.env,
            cwd=self.cwd,
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def invoke(self, *args: str, input: str | None = None) -> Any:
        """In-process through click's runner (for commands that need no services)."""
        from amplifier_ipc.cli.main import cli

        runner = CliRunner()
        old = os.getcwd()
        os.chdir(self.cwd)
        try:
            return runner.invoke(
                cli(), list(args), input=input, env={"AMPLIFIER_HOME": str(self.home)}, catch_exceptions=False
            )
        finally:
            os.chdir(old)

    def script(self, entries: str, name: str = "script.yaml") -> Path:
        path = self.cwd / name
        path.write_text(entries)
        return path

    def scripted(
        self, script: Path, *args: str, output: str = "stream-json", prompt: str = "hello"
    ) -> subprocess.CompletedProcess[str]:
        return self(
            "run",
            "--agent",
            "minimal",
            "--provider",
            "scripted",
            "-C",
            f"scripted.script={script}",
            "--output",
            output,
            *args,
            prompt,
        )


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def cli(installed_home: Path, tmp_path: Path) -> Iterator[Cli]:
    work = tmp_path / "project"
    work.mkdir()
    yield Cli(installed_home, work)


@pytest.fixture
def fresh_cli(tmp_path: Path) -> Cli:
    """A CLI on an empty AMPLIFIER_HOME."""
    work = tmp_path / "project"
    work.mkdir()
    return Cli(tmp_path / "empty-home", work)


@pytest.fixture
def parse_lines() -> Any:
    return json_lines
