"""What the fork server (forkserver.py) can start exactly as exec would: ``plan``.

Only what can be made exactly equal is forked: a command that is a
virtualenv's Python running ``-m module`` or a script, or a script of the
virtualenv whose ``#!`` line names that Python, with an existing working
directory and no ``PYTHON*`` variable that works only at interpreter start.
Everything else (another language, ``-c``, flags) is started with exec. Only
cheap imports: the CLI plans its first services before importing the Host.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from .forkserver import enabled

__all__ = ["ForkPlan", "PYTHON_VARIABLES", "enabled", "plan"]

# PYTHON* variables a forked service honours (the rest only act at interpreter start).
PYTHON_VARIABLES = frozenset({"PYTHONPATH", "PYTHONDONTWRITEBYTECODE"})
# Bytes of a script read to find its #! line.
SHEBANG_BYTES = 512

_PYTHON_NAME = re.compile(r"python(3(\.\d+)?)?")
# uv's and pip's console script when the interpreter's path is too long for a
# #! line: /bin/sh execs the Python named on the second line on the script, for
# which those lines are a string literal.
_TRAMPOLINE = re.compile(r"""'''exec' (['"])(?P<python>[^'"]+)\1 "\$0" "\$@\"""")


class ForkPlan(NamedTuple):
    """How a forked service reproduces ``exec`` of its command."""

    venv: str
    executable: str
    interpreter: str  # the real path of the Python binary
    mode: str  # "module" or "path"
    target: str  # the module name or the script's path
    argv: list[str]
    path0: str  # sys.path[0], as the interpreter would set it
    site: list[str]
    through_sh: bool = False  # the script starts Python through /bin/sh (dash), which sets PWD


def _venv_of(executable: str) -> str | None:
    venv = os.path.dirname(os.path.dirname(executable))
    config = os.path.join(venv, "pyvenv.cfg")
    try:
        with open(config, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "include-system-site-packages" and value.strip().lower() == "true":
            return None  # the base interpreter's packages too: not reproduced here
    return venv


def _shebang_python(script: str) -> tuple[str, bool] | None:
    """The interpreter a script's first lines name, and whether ``/bin/sh`` runs
    it: a ``#!`` line, or the trampoline installers write when that path is too
    long for one."""
    try:
        with open(script, "rb") as handle:
            lines = handle.read(SHEBANG_BYTES).split(b"\n", 2)
    except OSError:
        return None
    first = lines[0]
    if not first.startswith(b"#!"):
        return None
    if first.strip() == b"#!/bin/sh" and len(lines) > 1:
        match = _TRAMPOLINE.fullmatch(lines[1].decode(errors="replace").strip())
        return (match.group("python"), True) if match else None
    words = first[2:].decode(errors="replace").split()
    return (words[0], False) if len(words) == 1 else None


def plan(command: Sequence[str], env: Mapping[str, str], cwd: str | os.PathLike[str]) -> ForkPlan | None:
    """How to fork ``command`` so that it runs exactly as exec would run it, or None."""
    if not enabled() or not command or not os.path.isabs(command[0]) or not os.path.isdir(cwd):
        return None
    if any(name.startswith("PYTHON") and name not in PYTHON_VARIABLES for name in env):
        return None
    first, args = command[0], list(command[1:])
    through_sh = False
    if _PYTHON_NAME.fullmatch(os.path.basename(first)):
        executable = first
        if len(args) >= 2 and args[0] == "-m":
            mode, target, argv, path0 = "module", args[1], ["-m", *args[2:]], os.path.abspath(cwd)
        elif args and not args[0].startswith("-") and args[0] != "":
            script = os.path.join(cwd, args[0])
            if not os.path.isfile(script):
                return None
            mode, target, argv = "path", args[0], args
            path0 = os.path.dirname(os.path.realpath(script))
        else:
            return None
    else:
        named = _shebang_python(first)
        if named is None:
            return None
        executable, through_sh = named
        # The #! line and the command may name the same folder through different symlinks.
        if os.path.realpath(os.path.dirname(executable)) != os.path.realpath(os.path.dirname(first)):
            return None
        if through_sh and os.path.basename(os.path.realpath("/bin/sh")) != "dash":
            return None  # another shell adds other variables (bash: SHLVL, _): left to exec
        mode, target, argv, path0 = "path", first, list(command), os.path.dirname(os.path.realpath(first))
    venv = _venv_of(executable)
    if venv is None or not os.path.isfile(executable):
        return None
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = os.path.join(venv, "lib", version, "site-packages")
    if not os.path.isdir(site):
        return None
    return ForkPlan(
        venv, executable, os.path.realpath(executable), mode, target, argv, path0, [site], through_sh
    )
