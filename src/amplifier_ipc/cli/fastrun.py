"""A single-shot ``run`` from a kept config: no click, no registry, services forked at once.

``main`` calls ``run_cached`` for ``amplifier-ipc run ...`` before importing
click. When the run's flags, folder and environment match a config kept by
an earlier run (registry/runcache.py says when one may be used), its first
services are forked at once and the turn runs as ``run`` would run it;
otherwise ``run_cached`` returns and click parses the command as usual, and
``run`` keeps the config it resolves (``remember``).

Only runs with the prompt as arguments take this path (a prompt on stdin,
the REPL, ``--session`` and ``--continue`` do not), and only flags whose
reading here was checked against click's: ``remember`` keeps a config only
when ``parse`` reads the command line exactly as click did.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Parsed", "parse", "remember", "run_cached", "set_command_line"]

# The options of ``run`` that take a value (run_cmd.py), by how they are written.
VALUE_OPTIONS = frozenset(
    {
        "--agent",
        "--add-behavior",
        "--provider",
        "--model",
        "--working-dir",
        "-C",
        "--approval",
        "--output",
        "--tool-timeout",
    }
)
# Given more than once, these add up; the others keep their last value (as click does).
REPEATABLE = frozenset({"--add-behavior", "-C"})

_command_line: list[str] | None = None


class Parsed:
    """A ``run`` command line as click reads it: the options in order, and the prompt's words."""

    __slots__ = ("options", "prompt")

    def __init__(self, options: list[list[str]], prompt: list[str]) -> None:
        self.options = options
        self.prompt = prompt

    def last(self, name: str) -> str | None:
        values = [value for option, value in self.options if option == name]
        return values[-1] if values else None

    def every(self, name: str) -> tuple[str, ...]:
        return tuple(value for option, value in self.options if option == name)

    def values(self) -> dict[str, Any]:
        """What click gives ``run`` for this command line (its parameters by name)."""
        from pathlib import Path

        working_dir = self.last("--working-dir")
        timeout = self.last("--tool-timeout")
        return {
            "prompt": tuple(self.prompt),
            "agent": self.last("--agent"),
            "add_behaviors": self.every("--add-behavior"),
            "session_ref": None,
            "continue_": False,
            "provider": self.last("--provider"),
            "model": self.last("--model"),
            "working_dir": Path(working_dir) if working_dir is not None else None,
            "component": self.every("-C"),
            "approval": self.last("--approval"),
            "output": self.last("--output") or "text",
            "tool_timeout": float(timeout) if timeout is not None else None,
        }

    def cwd(self) -> str:
        """The folder the run works in, resolved as ``run`` resolves it."""
        return os.path.realpath(self.last("--working-dir") or os.getcwd())


def parse(args: list[str]) -> Parsed | None:
    """``args`` (after ``run``) read as click reads them, or None for anything
    this module does not handle (another option, ``--``, ``--help``, a missing value)."""
    options: list[list[str]] = []
    prompt: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        if token.startswith("--"):
            name, equals, value = token.partition("=")
            if name not in VALUE_OPTIONS:
                return None
            if not equals:
                if i + 1 >= len(args):
                    return None
                value, i = args[i + 1], i + 1
        elif token.startswith("-C"):
            name, value = "-C", token[2:]
            if not value:
                if i + 1 >= len(args):
                    return None
                value, i = args[i + 1], i + 1
        elif token.startswith("-") and token != "-":
            return None
        else:
            prompt.append(token)
            i += 1
            continue
        options.append([name, value])
        i += 1
    return Parsed(options, prompt)


def set_command_line(argv: list[str]) -> None:
    """The process's own command line (``main``): what ``remember`` checks click's reading against."""
    global _command_line
    _command_line = list(argv)


def remember(built: Any, clicked: dict[str, Any]) -> bool:
    """Keep ``built``'s config for the next run with these flags, if this
    module reads the command line exactly as click did (``clicked``: run's
    parameters); whether it was kept."""
    if _command_line is None or _command_line[:1] != ["run"]:
        return False
    parsed = parse(_command_line[1:])
    if parsed is None or not parsed.prompt:
        return False
    try:
        ours = parsed.values()
    except ValueError:
        return False
    if any(clicked.get(name) != value for name, value in ours.items()):
        return False
    from ..registry import runcache
    from ..registry.home import AmplifierHome

    return runcache.store(parsed.options, parsed.cwd(), AmplifierHome.from_env(), built)


def run_cached(args: list[str]) -> None:
    """Run the turn from a kept config and end the process; returns when there is none to use."""
    from .single import MAX_PROMPT_BYTES

    parsed = parse(args)
    if parsed is None or not parsed.prompt:
        return
    working_dir = parsed.last("--working-dir")
    if working_dir is not None and not os.path.isdir(working_dir):
        return  # click says so
    text = " ".join(parsed.prompt).strip()
    if not text or len(text.encode("utf-8", errors="surrogateescape")) > MAX_PROMPT_BYTES:
        return  # run says so
    from ..registry import runcache

    config = runcache.load(parsed.options, parsed.cwd())
    if config is None:
        return
    values = parsed.values()
    output = values["output"]
    from .single import settle_approvals

    interactive = settle_approvals(config, output, values["approval"])
    from ..host import early

    config = early.start(config)
    from amplifier_ipc_protocol import loops

    from .main import exit_now
    from .single import lazy_resolver, run_turn

    try:
        code = loops.run(
            run_turn(
                config,
                text,
                output,
                interactive,
                resolver=lazy_resolver(lambda: _request(values, config.working_dir)),
                tool_timeout=values["tool_timeout"],
            )
        )
    except BaseException as exc:  # as the click group reports it
        from .group import report_exception

        try:
            report_exception(exc, verbose=False)
        except SystemExit as done:
            exit_now(done.code)
        raise
    exit_now(code)


def _request(values: dict[str, Any], working_dir: Any) -> Any:
    """The RunRequest ``run`` would have made (a delegation builds its agent with its flags)."""
    from ..registry.session import RunRequest, parse_component_flags

    return RunRequest(
        agent=values["agent"],
        add_behaviors=list(values["add_behaviors"]),
        provider=values["provider"],
        model=values["model"],
        working_dir=working_dir,
        component_config=parse_component_flags(list(values["component"])),
        approval=values["approval"],
    )
