"""Render Host events on a terminal with rich: streamed text, dimmed thinking, tool calls, usage, errors."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from ..host import events as ev

__all__ = ["EventRenderer", "summarize", "RESULT_PREVIEW_CHARS", "INPUT_PREVIEW_CHARS"]

# Enough of a tool result to see what happened; the model gets all of it.
RESULT_PREVIEW_CHARS = 400
RESULT_PREVIEW_LINES = 6
# A tool's input on one line; long inputs (a file's content) are cut.
INPUT_PREVIEW_CHARS = 160
INDENT = "  "


def summarize(value: Any, limit: int) -> str:
    """``value`` on one line, cut at ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split()) if not isinstance(value, str) else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


class EventRenderer:
    """Prints each event as it comes; ``handle`` is the only entry point."""

    def __init__(self, console: Console, *, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self._midline = False
        self._mode = ""  # "text" or "thinking": what the current line is made of
        self._streamed = False  # whether this turn's answer came as tokens
        self._pending: dict[str, str] = {}  # tool calls shown without a result yet: id -> name

    def _break(self) -> None:
        if self._midline:
            self.console.print()
            self._midline = False
        self._mode = ""

    def _stream(self, text: str, style: str, mode: str, depth: int) -> None:
        if self._mode != mode:
            self._break()
        if not self._midline and depth:
            self.console.print(INDENT * depth, end="")
        self.console.print(Text(text, style=style), end="", soft_wrap=True)
        self._mode = mode
        self._midline = not text.endswith("\n")

    def handle(self, event: ev.Event) -> None:
        d = event.data
        depth = event.depth
        pad = INDENT * depth
        kind = event.type
        if kind == ev.TURN_START and not depth:
            self._streamed = False
        if kind == ev.TOKEN:
            if not depth:
                self._streamed = True
            self._stream(d.get("text", ""), "", "text", depth)
        elif kind == ev.THINKING:
            self._stream(d.get("text", ""), "dim italic", "thinking", depth)
        elif kind == ev.TOOL_CALL:
            self._pending[str(d.get("id"))] = str(d.get("name"))
            self._break()
            self.console.print(
                f"{pad}[bold cyan]⏺ {escape(str(d.get('name')))}[/]"
                f"[dim]({escape(summarize(d.get('input', {}), INPUT_PREVIEW_CHARS))})[/]"
            )
        elif kind == ev.TOOL_RESULT:
            self._pending.pop(str(d.get("id")), None)
            self._break()
            ok = d.get("success", True)
            self.console.print(
                f"{pad}  [{'green' if ok else 'red'}]⎿[/] " + escape(self._preview(d.get("output"), pad))
            )
        elif kind == ev.TURN_START and depth:
            self._break()
            self.console.print(
                f"{pad}[magenta]↳ {escape(str(d.get('agent', 'agent')))}[/] [dim]{_child_part(event)[:8]}[/]"
            )
        elif kind == ev.USAGE:
            pass  # the total comes with `complete`
        elif kind == ev.TODO_UPDATE:
            self._break()
            for item in d.get("todos") or []:
                done = item.get("status") == "completed"
                mark = (
                    "[green]☑[/]"
                    if done
                    else ("[yellow]▶[/]" if item.get("status") == "in_progress" else "☐")
                )
                self.console.print(f"{pad}  {mark} {escape(str(item.get('content', item)))}")
        elif kind == ev.WARNING:
            self._break()
            self.console.print(f"{pad}[yellow]warning:[/] {escape(str(d.get('message')))}")
        elif kind == ev.LOG:
            if self.verbose or d.get("level") in ("warning", "error"):
                self._break()
                self.console.print(
                    f"{pad}[dim]{escape(str(d.get('service', '')))}: {escape(str(d.get('message')))}[/]"
                )
        elif kind in (ev.HOOK_ERROR, ev.SERVICE_ERROR):
            self._break()
            what = d.get("hook") or d.get("service") or ""
            self.console.print(
                f"{pad}[yellow]{kind.replace('_', ' ')} ({escape(str(what))}):[/] {escape(str(d.get('error')))}"
            )
            if self.verbose and d.get("stderr_tail"):
                self.console.print(Text(str(d["stderr_tail"]), style="dim"))
        elif kind == ev.ERROR:
            self._break()
            self.console.print(f"{pad}[bold red]error:[/] {escape(str(d.get('message')))}")
            if d.get("hint"):
                self.console.print(f"{pad}[dim]hint: {escape(str(d['hint']))}[/]")
            if self.verbose and d.get("traceback"):
                self.console.print(Text(str(d["traceback"]), style="dim"))
        elif kind == ev.CANCELLING:
            self._break()
            running = sorted(set(d.get("running") or []) | set(self._pending.values()))
            how = "now" if d.get("immediate") else "after the running tools finish (Ctrl-C again to stop now)"
            extra = f"; running: {', '.join(running)}" if running else ""
            self.console.print(f"[yellow]cancelling {how}{escape(extra)}[/]")
        elif kind == ev.COMPLETE and not depth:
            self._pending.clear()
            self._break()
            self._complete(d)

    def approval_panel(self, data: dict[str, Any]) -> None:
        """The approval question with its options, numbered."""
        self._break()
        options = data.get("options") or ["allow", "deny"]
        lines = [escape(str(data.get("prompt", "")))] + [
            f"  [bold]{i}[/] {escape(o)}{' [dim](default)[/]' if o == data.get('default') else ''}"
            for i, o in enumerate(options, 1)
        ]
        self.console.print(
            Panel("\n".join(lines), title="approval needed", border_style="yellow", expand=False)
        )

    def _preview(self, output: Any, pad: str) -> str:
        text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False, default=str)
        lines = text.strip().splitlines() or [""]
        shown = lines[:RESULT_PREVIEW_LINES]
        joined = f"\n{pad}    ".join(shown)
        if len(joined) > RESULT_PREVIEW_CHARS:
            joined = joined[:RESULT_PREVIEW_CHARS] + "…"
        elif len(lines) > RESULT_PREVIEW_LINES:
            joined += f"\n{pad}    … ({len(lines) - RESULT_PREVIEW_LINES} more lines)"
        return joined

    def _complete(self, d: dict[str, Any]) -> None:
        response = d.get("response")
        if not self._streamed and isinstance(response, str) and response.strip():
            self.console.print(response)
        self._streamed = False
        usage = d.get("usage") or {}
        status = d.get("status")
        parts = []
        if usage.get("input_tokens") or usage.get("output_tokens"):
            parts.append(f"{usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out tokens")
        timings = d.get("timings") or {}
        if timings.get("total_ms") is not None:
            parts.append(f"{timings['total_ms'] / 1000:.1f} s")
        if status and status != "completed":
            parts.insert(0, f"[{'yellow' if status == 'cancelled' else 'red'}]{status}[/]")
        if parts:
            self.console.print("[dim]" + " · ".join(parts) + "[/]")


def _child_part(event: ev.Event) -> str:
    """What tells a child apart: its id after ``<parent id>-`` (the start is its parent's)."""
    parent = event.parent_id
    if parent and event.session_id.startswith(parent + "-"):
        return event.session_id[len(parent) + 1 :]
    return event.session_id
