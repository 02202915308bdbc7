"""The fixtures tests/reliability and tests/security share: an installed
AMPLIFIER_HOME for the run, a CLI per test, and the harness module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import faults_harness
import pytest


@pytest.fixture(scope="session")
def installed_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return faults_harness.build_home(tmp_path_factory.mktemp("faults") / "home")


@pytest.fixture
def cli(installed_home: Path, tmp_path: Path) -> Iterator[faults_harness.Cli]:
    work = tmp_path / "project"
    work.mkdir()
    runner = faults_harness.Cli(installed_home, work)
    yield runner
    runner.close()


@pytest.fixture
def h() -> object:
    """The harness module (tests cannot import a conftest under --import-mode=importlib)."""
    return faults_harness
