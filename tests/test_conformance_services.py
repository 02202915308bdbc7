"""Every service under services/ passes the protocol conformance check.

Each runs from the dev environment's console script (``amplifier-<svc>-serve``);
amplifier-local runs from its own venv (services/amplifier-local/.venv),
since its model runtime is not part of the dev environment.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from amplifier_ipc_protocol.conformance import format_report, run_conformance

SERVICES = Path(__file__).resolve().parents[1] / "services"
DEV_BIN = Path(sys.executable).parent
# Services whose runtime lives in their own venv instead of the dev environment.
OWN_VENV = {"amplifier-local"}
# One conformance run: a spawn, a dozen requests and the exit grace period.
RUN_TIMEOUT_S = 120


def _services() -> list[str]:
    return sorted(p.parent.name for p in SERVICES.glob("*/pyproject.toml"))


def _command(service: str) -> Path:
    if service in OWN_VENV:
        return SERVICES / service / ".venv" / "bin" / f"{service}-serve"
    return DEV_BIN / f"{service}-serve"


@pytest.mark.parametrize("service", _services())
def test_the_service_passes_the_conformance_check(service: str, tmp_path: Path) -> None:
    command = _command(service)
    if not command.exists():
        if service in OWN_VENV:
            pytest.skip(f"{service} runs from its own venv, which is not built: {command} is missing")
        pytest.fail(f"{command} is missing: run `make setup` (uv sync --all-packages) to install {service}")
    report = asyncio.run(asyncio.wait_for(run_conformance([str(command)], cwd=str(tmp_path)), RUN_TIMEOUT_S))
    assert report.passed, format_report(report)
