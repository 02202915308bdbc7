"""The click group: commands imported on demand, errors turned into short messages and exit codes.

Exit codes: 0 done, 1 a turn or an operation failed, 2 a usage error (bad
arguments, an unknown or invalid definition), 130 interrupted.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from .main import COMMANDS, PROG, SUMMARY

__all__ = [
    "build_group",
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "EXIT_INTERRUPTED",
    "fail",
    "report_exception",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def fail(message: str, hint: str = "", code: int = EXIT_FAILED) -> None:
    """Print a short red error and its hint on stderr, then exit with ``code``."""
    from .console import error_console

    console = error_console()
    console.print(f"[bold red]error:[/] {_escape(message)}", soft_wrap=True)
    if hint:
        console.print(f"[dim]hint: {_escape(hint)}[/]", soft_wrap=True)
    raise SystemExit(code)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs (or help lists it)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(f"amplifier_ipc.cli.{entry[0]}")
        command: click.Command = getattr(module, entry[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_m, _a, help_text) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except BaseException as exc:
            report_exception(exc, verbose=bool(ctx.obj and ctx.obj.get("verbose")))
            raise


def report_exception(exc: BaseException, *, verbose: bool) -> None:
    """End with the exit code and short message of a failure the user can act on
    (interrupted, install, registry, session); returns for any other exception."""
    from ..host.errors import SessionError
    from ..registry.errors import InstallError, RegistryError

    if isinstance(exc, KeyboardInterrupt):
        raise SystemExit(EXIT_INTERRUPTED) from None
    if isinstance(exc, InstallError | SessionError):
        code = EXIT_FAILED
    elif isinstance(exc, RegistryError):
        code = EXIT_USAGE
    else:
        return
    if verbose:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    fail(str(exc), exc.hint, code)


def build_group() -> click.Group:
    @click.group(
        cls=LazyGroup,
        help=f"{SUMMARY}\n\nAMPLIFIER_HOME (default ~/.amplifier) holds registrations, environments and sessions.",
    )
    @click.option("--verbose", is_flag=True, help="Show full tracebacks on errors.")
    @click.pass_context
    def group(ctx: click.Context, verbose: bool) -> None:
        ctx.ensure_object(dict)
        ctx.obj["verbose"] = verbose

    group.name = PROG
    return group
