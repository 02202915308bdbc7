"""Fixtures of the protocol tests; the helpers themselves live in
protocol_testkit.py (a unique name, since every conftest is "conftest")."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
for folder in (HERE, HERE / "fixtures"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from protocol_testkit import SampleService, start_service, stop_service  # noqa: E402


@pytest.fixture
async def sample() -> AsyncIterator[SampleService]:
    service = await start_service()
    try:
        yield service
    finally:
        await stop_service(service)
