"""``session list|show|resume|fork|delete|cleanup``: sessions under AMPLIFIER_HOME/sessions."""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from typing import Any

import click

from .console import console, error_console, home
from .group import EXIT_USAGE, fail

__all__ = ["session", "fork_session", "message_text"]

# Enough of an id to be unique in practice; any unique prefix works on the command line.
SHORT_ID = 12


def _resolve(ref: str) -> tuple[Any, str]:
    from ..host.errors import PersistenceError
    from ..host.persistence import resolve_session_id

    sessions_dir = home().sessions_dir
    try:
        return sessions_dir, resolve_session_id(sessions_dir, ref)
    except PersistenceError as exc:
        fail(exc.message, exc.hint, EXIT_USAGE)
    raise AssertionError("unreachable")


def message_text(message: dict[str, Any]) -> str:
    """The readable text of a transcript message (text blocks, tool calls summarised)."""
    content = message.get("content")
    if isinstance(content, str):
        text = content
    else:
        text = "\n".join(
            str(block.get("text", ""))
            for block in content or []
            if isinstance(block, dict) and block.get("type") == "text"
        )
    calls = message.get("tool_calls") or []
    if calls:
        text += ("\n" if text else "") + "\n".join(f"→ {c.get('name')}({c.get('arguments')})" for c in calls)
    return text


def _updated(metadata: dict[str, Any]) -> str:
    value = str(metadata.get("updated", ""))
    return value[:19].replace("T", " ")


@click.group()
def session() -> None:
    """Sessions: list, show, resume, fork, delete, cleanup."""


def _tree(sessions: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """Top-level sessions newest first, each followed by its children (oldest first), depth-first."""
    ids = {s.get("id") for s in sessions}
    children: dict[Any, list[dict[str, Any]]] = {}
    for s in sessions:
        children.setdefault(s.get("parent_id") if s.get("parent_id") in ids else None, []).append(s)
    out: list[tuple[dict[str, Any], int]] = []

    def visit(s: dict[str, Any], depth: int) -> None:
        out.append((s, depth))
        for child in sorted(children.get(s.get("id"), []), key=lambda c: str(c.get("created", ""))):
            visit(child, depth + 1)

    for s in children.get(None, []):
        visit(s, 0)
    return out


@session.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include child sessions.")
@click.option("--tree", is_flag=True, help="Show child sessions under their parents.")
def session_list(show_all: bool, tree: bool) -> None:
    """Sessions, newest first."""
    from rich.table import Table

    from ..host.persistence import list_sessions

    every = list_sessions(home().sessions_dir)
    rows = _tree(every) if tree else [(s, 0) for s in every if show_all or not s.get("parent_id")]
    sessions = [s for s, _ in rows]
    if not sessions:
        error_console().print("no sessions yet; start one: amplifier-ipc run PROMPT")
        return
    table = Table("id", "name", "agent", "turns", "updated", "status", box=None, header_style="bold")
    colours = {
        "completed": "green",
        "failed": "red",
        "cancelled": "yellow",
        "interrupted": "yellow",
        "running": "cyan",
    }
    for s, depth in rows:
        status = str(s.get("status", ""))
        sid = str(s.get("id", ""))
        table.add_row(
            ("  " * (depth - 1) + "└ " + sid[len(str(s.get("parent_id"))) + 1 :])
            if depth
            else sid[:SHORT_ID],
            str(s.get("name", "")),
            str(s.get("agent", "")),
            str(s.get("turns", 0)),
            _updated(s),
            f"[{colours.get(status, 'white')}]{status}[/]",
        )
    console().print(table)


@session.command("show")
@click.argument("session_id")
def session_show(session_id: str) -> None:
    """Metadata and transcript of SESSION_ID."""
    from rich.markup import escape

    from ..host.persistence import list_sessions, read_metadata, read_transcript

    sessions_dir, sid = _resolve(session_id)
    metadata = read_metadata(sessions_dir, sid)
    out = console()
    out.print(f"[bold]{escape(str(metadata.get('name', '')))}[/]  [dim]{sid}[/]")
    usage = metadata.get("usage") or {}
    out.print(
        f"agent {metadata.get('agent')} · {metadata.get('turns', 0)} turns · {metadata.get('status')} · "
        f"updated {_updated(metadata)} · {usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out tokens"
    )
    if metadata.get("parent_id"):
        out.print(f"[dim]child of {metadata['parent_id']}[/]")
    children = sorted(
        (s for s in list_sessions(sessions_dir) if s.get("parent_id") == sid),
        key=lambda s: str(s.get("created", "")),
    )
    if children:
        out.print(f"children ({len(children)}):")
        for child in children:
            out.print(
                f"  {escape(str(child.get('id')))}  {escape(str(child.get('agent', '')))} · "
                f"{child.get('turns', 0)} turns · {child.get('status')} · {escape(str(child.get('name', '')))}"
            )
    styles = {"user": "bold", "assistant": "", "tool": "dim"}
    for message in read_transcript(sessions_dir, sid):
        role = str(message.get("role"))
        label = f"tool {message.get('name')}" if role == "tool" else role
        out.print(f"\n[cyan]{escape(label)}[/]")
        text = message_text(message)
        out.print(
            escape(text if role != "tool" or len(text) < 500 else text[:500] + "…"),
            style=styles.get(role, ""),
        )


@session.command("resume")
@click.argument("session_id")
def session_resume(session_id: str) -> None:
    """Open the REPL on SESSION_ID (`run --session ID PROMPT` continues it single-shot)."""
    from pathlib import Path

    from ..host.persistence import read_metadata
    from ..registry.session import RunRequest
    from .agents import build_resumed
    from .repl import run_repl

    if not sys.stdin.isatty():
        fail(
            "resume opens the REPL, which needs a terminal",
            f"continue it single-shot: amplifier-ipc run --session {session_id} PROMPT",
            EXIT_USAGE,
        )
    sessions_dir, sid = _resolve(session_id)
    metadata = read_metadata(sessions_dir, sid)
    working_dir = Path(metadata.get("working_dir") or Path.cwd())
    if not working_dir.is_dir():
        working_dir = Path.cwd()
    request = RunRequest(agent=metadata.get("agent"), working_dir=working_dir, session_id=sid)
    built = build_resumed(request, metadata, quiet=False)
    raise SystemExit(run_repl(built, resumed=metadata))


def fork_session(sessions_dir: Any, sid: str, at_turn: int | None) -> str:
    """Copy SESSION ``sid`` (up to ``at_turn`` user turns) into a new session; returns its id."""
    from ..host.persistence import (
        SessionStore,
        new_session_id,
        now_iso,
        read_metadata,
        read_state,
        read_transcript,
    )

    metadata = read_metadata(sessions_dir, sid)
    messages = read_transcript(sessions_dir, sid)
    turns = int(metadata.get("turns", 0))
    if at_turn is not None:
        if at_turn < 1 or at_turn > turns:
            fail(f"--at-turn must be between 1 and {turns} (the session's turns)", code=EXIT_USAGE)
        users = 0
        cut = len(messages)
        for index, message in enumerate(messages):
            if message.get("role") == "user":
                users += 1
                if users == at_turn + 1:
                    cut = index
                    break
        messages = messages[:cut]
        turns = at_turn
    new_id = new_session_id()
    store = SessionStore(sessions_dir, new_id)
    store.open()
    try:
        store.rewrite_transcript(messages)
        store.write_state(read_state(sessions_dir, sid))
        store.write_metadata(
            {
                **metadata,
                "id": new_id,
                "name": f"{metadata.get('name', '')} (fork)",
                "created": now_iso(),
                "updated": now_iso(),
                "turns": turns,
                "status": "completed" if metadata.get("status") != "failed" else "failed",
                "forked_from": sid,
                "forked_at_turn": turns,
            }
        )
        store.sync()
    finally:
        store.close()
    return new_id


@session.command("fork")
@click.argument("session_id")
@click.option("--at-turn", type=int, help="Keep only the first N turns.")
def session_fork(session_id: str, at_turn: int | None) -> None:
    """Copy SESSION_ID into a new session (optionally cut after N turns)."""
    sessions_dir, sid = _resolve(session_id)
    new_id = fork_session(sessions_dir, sid, at_turn)
    console().print(new_id)


def _delete(sessions_dir: Any, sid: str) -> bool:
    from ..host.persistence import read_metadata

    if read_metadata(sessions_dir, sid).get("status") == "running":
        return False
    shutil.rmtree(sessions_dir / sid)
    return True


@session.command("delete")
@click.argument("session_id")
def session_delete(session_id: str) -> None:
    """Delete SESSION_ID (refused while a turn of it is running)."""
    sessions_dir, sid = _resolve(session_id)
    if not _delete(sessions_dir, sid):
        fail(f"session {sid} is running", "wait for its turn to finish")
    error_console().print(f"deleted {sid}")


@session.command("cleanup")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=0),
    required=True,
    metavar="DAYS",
    help="Delete sessions not updated for DAYS days.",
)
def session_cleanup(days: int) -> None:
    """Delete sessions not updated for DAYS days."""
    from ..host.persistence import list_sessions

    sessions_dir = home().sessions_dir
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    deleted = 0
    for metadata in list_sessions(sessions_dir):
        try:
            updated = dt.datetime.fromisoformat(str(metadata.get("updated")))
        except ValueError:
            continue
        if updated.tzinfo is None:
            updated = updated.replace(tzinfo=dt.UTC)
        if updated < cutoff and _delete(sessions_dir, str(metadata["id"])):
            deleted += 1
    error_console().print(f"deleted {deleted} session{'s' if deleted != 1 else ''} older than {days} days")
