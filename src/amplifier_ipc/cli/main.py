"""The ``amplifier-ipc`` entry point.

Commands load their modules only when invoked, and the top-level ``--help``
is printed from the table below without importing click, so asking for help
costs little more than starting Python.
"""

from __future__ import annotations

import sys

# Not typing's: nothing may delay the fork server started first thing (runs_a_turn).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["COMMANDS", "main", "cli"]

PROG = "amplifier-ipc"
SUMMARY = "Run agents whose every component is its own process."

# name -> (module in amplifier_ipc.cli, attribute, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("run_cmd", "run", "Run a turn (PROMPT or stdin), or open the REPL when no prompt is given."),
    "session": ("session_cmds", "session", "List, show, resume, fork, delete and clean up sessions."),
    "discover": ("catalog_cmds", "discover", "Find agent and behavior definitions under a folder."),
    "register": ("catalog_cmds", "register", "Register one definition (path or URL) under its alias."),
    "install": ("catalog_cmds", "install", "Build the uv environment of a registered definition's services."),
    "update": ("catalog_cmds", "update", "Fetch a registered definition again; reinstall when it changed."),
    "unregister": ("catalog_cmds", "unregister", "Forget a registered agent or behavior."),
    "uninstall": ("catalog_cmds", "uninstall", "Delete the environments of a definition's services."),
    "agents": ("catalog_cmds", "agents", "List registered agents, or show one resolved."),
    "tool": ("catalog_cmds", "tool", "List the tools an agent offers the model."),
    "provider": ("settings_cmds", "provider", "List providers, choose the default one, store an API key."),
    "routing": ("settings_cmds", "routing", "List routing matrices and choose the active one."),
    "mcp": ("settings_cmds", "mcp", "Add MCP servers to the project as tools."),
    "allowed-dirs": ("settings_cmds", "allowed_dirs", "List, add or remove directories the agent may write."),
    "denied-dirs": (
        "settings_cmds",
        "denied_dirs",
        "List, add or remove directories the agent may never write.",
    ),
    "reset": ("settings_cmds", "reset", "Delete AMPLIFIER_HOME's registrations, environments and caches."),
    "version": ("settings_cmds", "version", "Print the version."),
}

# Commands that may run a turn, so spawn services (``session`` only to resume one).
TURN_COMMANDS = (("run",), ("session", "resume"))


def runs_a_turn(argv: list[str]) -> bool:
    """Whether these arguments may run a turn (and so want the fork server early)."""
    if "--help" in argv or "-h" in argv:
        return False
    words = tuple(a for a in argv if not a.startswith("-"))
    return any(words[: len(command)] == command for command in TURN_COMMANDS)


def fast_help() -> str:
    """The top-level help, the same text click prints, without importing click."""
    width = max(len(name) for name in COMMANDS)
    lines = [
        f"Usage: {PROG} [OPTIONS] COMMAND [ARGS]...",
        "",
        f"  {SUMMARY}",
        "",
        "  AMPLIFIER_HOME (default ~/.amplifier) holds registrations, environments and sessions.",
        "",
        "Options:",
        "  --verbose  Show full tracebacks on errors.",
        "  --help     Show this message and exit.",
        "",
        "Commands:",
    ]
    lines += [f"  {name.ljust(width)}  {help_text}" for name, (_m, _a, help_text) in COMMANDS.items()]
    return "\n".join(lines) + "\n"


def cli() -> Any:
    """The click group (built on first use)."""
    from .group import build_group

    return build_group()


def main() -> None:
    argv = sys.argv[1:]
    if argv in ([], ["--help"], ["-h"]):
        sys.stdout.write(fast_help())
        return
    if argv == ["version"] or argv == ["--version"]:
        from importlib.metadata import version

        sys.stdout.write(f"{PROG} {version('amplifier-ipc')}\n")
        return
    if runs_a_turn(argv):
        # The fork server imports the standard library for the services while
        # this process imports click and the Host: started first, it is ready
        # when the first service is spawned.
        from amplifier_ipc.host import forkserver

        forkserver.prestart()
        from . import fastrun

        fastrun.set_command_line(argv)
        if argv[0] == "run":
            fastrun.run_cached(argv[1:])  # ends the process when it ran the turn
    try:
        cli()(prog_name=PROG)
    except SystemExit as done:
        exit_now(done.code)


def exit_now(code: object) -> None:
    """End the process as ``sys.exit(code)`` would, without the interpreter's
    teardown of every module (30-40 ms on 2 cores, after everything is written):
    output is flushed and the atexit handlers run first (they end services and
    the fork server)."""
    import atexit
    import os

    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        sys.stderr.write(f"{code}\n")
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed pipe (| head): nothing more can be said
    atexit._run_exitfuncs()
    os._exit(status)


if __name__ == "__main__":
    main()
