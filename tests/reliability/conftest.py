"""Fixtures for the reliability tests: see tests/faults/faults_fixtures.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))

from faults_fixtures import cli, h, installed_home  # noqa: F401  (fixtures, used by name)
