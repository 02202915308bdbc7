"""What the CLI imports before it starts the fork server (main.py: first thing for a turn)."""

from __future__ import annotations

import subprocess
import sys

# Each of these costs milliseconds the fork server would otherwise spend importing.
HEAVY = (
    "typing",
    "socket",
    "json",
    "re",
    "threading",
    "ctypes",
    "click",
    "asyncio",
    "amplifier_ipc.registry",
)

PROBE = """
import sys
before = set(sys.modules)
import amplifier_ipc.cli.main
from amplifier_ipc.host import forkserver
print(" ".join(sorted(set(sys.modules) - before)))
"""


def test_nothing_heavy_is_imported_before_the_fork_server_starts() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    imported = set(done.stdout.split())
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))
