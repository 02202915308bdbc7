"""The package's public surface: lazy names, nothing heavy imported early."""

from __future__ import annotations

import subprocess
import sys

import amplifier_ipc_protocol

# Starting one Python to import the package takes well under this.
IMPORT_TIMEOUT_S = 60


def test_every_public_name_resolves() -> None:
    for name in amplifier_ipc_protocol.__all__:
        assert getattr(amplifier_ipc_protocol, name) is not None


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        amplifier_ipc_protocol.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_serving_a_describe_needs_neither_pydantic_nor_yaml() -> None:
    code = (
        "import sys, amplifier_ipc_protocol as p; from amplifier_ipc_protocol import Server, tool, hook;"
        "import amplifier_ipc_protocol.server, amplifier_ipc_protocol.stdio;"
        "print(sorted(m for m in ('pydantic', 'yaml', 'httpx') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=IMPORT_TIMEOUT_S
    )
    assert done.stdout.strip() == "[]", done.stderr
