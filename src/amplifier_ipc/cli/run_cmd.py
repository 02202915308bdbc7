"""``run``: one turn single-shot (text, json, stream-json), or the REPL when no prompt is given."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .console import error_console, home, verbose
from .group import EXIT_USAGE, fail
from .single import MAX_PROMPT_BYTES

__all__ = ["MAX_PROMPT_BYTES", "run", "resolve_session", "build_for_run"]


def resolve_session(ref: str | None, continue_: bool, working_dir: Path) -> dict[str, Any] | None:
    """The metadata of the session to resume (by id or unique prefix, or the latest), or None."""
    if not ref and not continue_:
        return None
    from ..host.errors import PersistenceError
    from ..host.persistence import list_sessions, read_metadata, resolve_session_id

    sessions_dir = home().sessions_dir
    if continue_:
        sessions = [s for s in list_sessions(sessions_dir) if not s.get("parent_id")]
        here = [s for s in sessions if s.get("working_dir") == str(working_dir)]
        if not (here or sessions):
            fail("there is no session to continue", "start one: amplifier-ipc run PROMPT", EXIT_USAGE)
        return (here or sessions)[0]
    assert ref is not None
    try:
        return read_metadata(sessions_dir, resolve_session_id(sessions_dir, ref))
    except PersistenceError as exc:
        fail(exc.message, exc.hint, EXIT_USAGE)
    raise AssertionError("unreachable")


class _Progress:
    """Install progress on stderr, set up at its first message: a run with
    nothing to install does not import rich before its services start."""

    def __init__(self) -> None:
        self._out: Any = None
        self._status: Any = None

    def __call__(self, message: str) -> None:
        if self._out is None:
            self._out = error_console()
            if self._out.is_terminal:
                self._status = self._out.status(message)
                self._status.start()
        if self._status is not None:
            self._status.update(message)
        else:
            self._out.print(f"[dim]{message}[/]")

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def build_for_run(request: Any, *, quiet: bool) -> Any:
    """Resolve the session config, installing missing environments with a progress display."""
    from ..registry.session import build_session

    amp = home()
    if quiet:  # machine output: no progress
        return build_session(amp, request, progress=None)
    progress = _Progress()
    try:
        return build_session(amp, request, progress=progress)
    finally:
        progress.stop()


@click.command()
@click.argument("prompt", nargs=-1)
@click.option("--agent", help="Agent alias or YAML file (default: settings, then foundation).")
@click.option(
    "--add-behavior",
    "add_behaviors",
    multiple=True,
    metavar="B",
    help="Add a behavior (alias or path); repeatable.",
)
@click.option("--session", "session_ref", metavar="ID", help="Continue this session (id or unique prefix).")
@click.option("--continue", "continue_", is_flag=True, help="Continue the latest session of this folder.")
@click.option("--provider", help="Provider component, for example anthropic or scripted.")
@click.option("--model", help="Model name for the provider.")
@click.option(
    "--working-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder the agent works in.",
)
@click.option(
    "-C",
    "component",
    multiple=True,
    metavar="COMPONENT.KEY=VALUE",
    help="Component config for this run; repeatable.",
)
@click.option(
    "--approval",
    type=click.Choice(["ask", "auto", "deny"]),
    help="How tool approvals are answered (default: ask on a terminal, deny otherwise).",
)
@click.option(
    "--output", type=click.Choice(["text", "json", "stream-json"]), default="text", show_default=True
)
@click.option(
    "--tool-timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Cancel a tool call that has not answered after this long (default: 900).",
)
def run(
    prompt: tuple[str, ...],
    agent: str | None,
    add_behaviors: tuple[str, ...],
    session_ref: str | None,
    continue_: bool,
    provider: str | None,
    model: str | None,
    working_dir: Path | None,
    component: tuple[str, ...],
    approval: str | None,
    output: str,
    tool_timeout: float | None,
) -> None:
    """Run PROMPT (or the prompt on stdin) as one turn; with no prompt on a terminal, open the REPL."""
    from ..registry.session import RunRequest, parse_component_flags
    from .agents import build_resumed

    if session_ref and continue_:
        fail("--session and --continue cannot be used together", "choose one", EXIT_USAGE)
    text = " ".join(prompt).strip()
    if not text and not sys.stdin.isatty():
        text = sys.stdin.read().strip()
    size = len(text.encode("utf-8", errors="surrogateescape"))
    if size > MAX_PROMPT_BYTES:
        fail(
            f"the prompt is too large: {size:,} bytes, over the limit of {MAX_PROMPT_BYTES:,} bytes",
            "give the agent the path of a file holding the material instead of its contents",
            EXIT_USAGE,
        )
    repl = not text
    if repl and (output != "text" or not sys.stdin.isatty()):
        fail("no prompt given", "give a PROMPT argument or pipe one on stdin", EXIT_USAGE)
    cwd = (working_dir or Path.cwd()).resolve()
    resumed = resolve_session(session_ref, continue_, cwd)
    request = RunRequest(
        agent=agent or (resumed or {}).get("agent"),
        add_behaviors=list(add_behaviors),
        provider=provider,
        model=model,
        working_dir=cwd,
        component_config=parse_component_flags(list(component)),
        approval=approval,
        session_id=(resumed or {}).get("id"),
    )
    built = build_resumed(request, resumed, quiet=output != "text")  # a child: rebuilt as it was spawned
    if not repl and resumed is None:
        from . import fastrun

        fastrun.remember(built, locals())  # for the next run with these flags (fastrun.py)
    from .single import registry_resolver, run_turn, settle_approvals

    interactive = settle_approvals(built.config, output, approval)
    if repl:
        from .repl import run_repl

        raise SystemExit(run_repl(built, resumed=resumed))
    from ..host import early

    built.config = early.start(built.config)  # the services start while the Host is imported
    from amplifier_ipc_protocol import loops

    code = loops.run(
        run_turn(
            built.config,
            text,
            output,
            interactive,
            resolver=registry_resolver(request),
            tool_timeout=tool_timeout,
            verbose=verbose(),
        )
    )
    raise SystemExit(code)
