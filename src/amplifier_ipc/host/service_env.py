"""The environment a service is started with (PROTOCOL §8).

On its own, with only cheap imports, so the CLI can compute it before it
imports the Host (early.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from .config import ServiceSpec

__all__ = ["BASE_ENV_NAMES", "build_env"]

# PROTOCOL §8: the only variables of the Host's environment every service sees.
BASE_ENV_NAMES = ("PATH", "HOME", "LANG", "TERM", "TMPDIR")


def build_env(spec: ServiceSpec, session_id: str) -> dict[str, str]:
    """The environment of PROTOCOL §8 for ``spec``: base set, allowed names, explicit values."""
    source = os.environ
    env = {name: source[name] for name in BASE_ENV_NAMES if name in source}
    env["AMPLIFIER_HOME"] = source.get("AMPLIFIER_HOME") or str(Path.home() / ".amplifier")
    env["AMPLIFIER_SESSION_ID"] = session_id
    for name in spec.env_allow:
        if name in source:
            env[name] = source[name]
    env.update(spec.env)
    return env
