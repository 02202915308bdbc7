"""The rich consoles the commands print to (stdout for results, stderr for errors and progress)."""

from __future__ import annotations

from functools import cache
from typing import Any

__all__ = ["console", "error_console", "home", "verbose"]


@cache
def console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


@cache
def error_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def home() -> Any:
    from ..registry.home import AmplifierHome

    return AmplifierHome.from_env()


def verbose() -> bool:
    import click

    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if ctx.obj and ctx.obj.get("verbose"):
            return True
        ctx = ctx.parent
    return False
