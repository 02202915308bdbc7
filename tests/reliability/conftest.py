"""Fixtures for the reliability tests: an installed AMPLIFIER_HOME shared by the run, a CLI per test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))

import faults_harness


@pytest.fixture(scope="session")
def installed_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return faults_harness.build_home(tmp_path_factory.mktemp("reliability") / "home")


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
