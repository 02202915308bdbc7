"""One single-shot turn on a resolved SessionConfig, without click.

``run`` (run_cmd.py) and the cached path (fastrun.py) both end here; the
cached path never imports click or the registry unless a child session
needs an agent resolved (``lazy_resolver``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "MAX_PROMPT_BYTES",
    "ask_on_terminal",
    "choose",
    "lazy_resolver",
    "registry_resolver",
    "run_turn",
    "settle_approvals",
]

# 1 MiB of text is ~250k tokens, more than the largest context windows in common
# use: a bigger prompt cannot be answered, so it is refused before a session or a
# paid request exists.
MAX_PROMPT_BYTES = 1024 * 1024


def settle_approvals(config: Any, output: str, approval: str | None) -> bool:
    """Whether someone at a terminal can answer approvals; when nobody can,
    they follow ``--approval``, deny by default, never a silent approve."""
    import sys

    interactive = output == "text" and sys.stdin.isatty() and sys.stdout.isatty()
    if not interactive:
        config.approval_mode = approval or "deny"
    return interactive


def choose(options: list[str], answer: str, default: str) -> str | None:
    """The option an answer names (a number, a unique prefix, or Enter for the default), or None."""
    answer = answer.strip()
    if not answer:
        return default
    if answer.isdigit() and 1 <= int(answer) <= len(options):
        return options[int(answer) - 1]
    matches = [o for o in options if o.lower().startswith(answer.lower())]
    return matches[0] if len(matches) == 1 else None


async def ask_on_terminal(renderer: Any, data: dict[str, Any]) -> str | None:
    """Show the approval panel and read a choice (number, name, or Enter for the default)."""
    import asyncio

    options = data.get("options") or ["allow", "deny"]
    default = data.get("default") or options[-1]
    renderer.approval_panel(data)
    loop = asyncio.get_running_loop()
    while True:
        try:
            answer = await loop.run_in_executor(None, input, "choice: ")
        except EOFError:
            return default
        choice = choose(options, answer, default)
        if choice is not None:
            return choice
        renderer.console.print(f"[yellow]answer 1-{len(options)} or an option's name[/]")


def build_agent(request: Any, name: str) -> Any:
    """The registered agent ``name`` built with the run's flags (a BuiltSession), or None."""
    from ..registry.errors import NotRegisteredError
    from ..registry.home import AmplifierHome
    from ..registry.session import RunRequest, build_session

    try:
        return build_session(
            AmplifierHome.from_env(),
            RunRequest(
                agent=name,
                provider=request.provider,
                model=request.model,
                working_dir=request.working_dir,
                component_config=request.component_config,
                approval=request.approval,
            ),
        )
    except NotRegisteredError:
        return None


def lazy_resolver(make_request: Callable[[], Any]) -> Callable[[str], Any]:
    """``name -> SessionConfig | None`` building a registered agent's config like
    ``run --agent NAME`` with the flags of ``make_request()`` (called on first use).

    The parent's provider, model and approval flags carry over; ``None`` for a
    name that is not registered lets the Host try the Markdown agents its
    services ship. Installing a missing environment happens here, in the
    Host's worker thread, never in the parent's event loop.
    """
    made: list[Any] = []

    def resolve(name: str) -> Any:
        if not made:
            made.append(make_request())
        built = build_agent(made[0], name)
        return built.config if built is not None else None

    return resolve


def registry_resolver(request: Any) -> Callable[[str], Any]:
    """``lazy_resolver`` for a RunRequest already made."""
    return lazy_resolver(lambda: request)


async def run_turn(
    config: Any,
    prompt: str,
    output: str,
    interactive: bool,
    *,
    resolver: Callable[[str], Any] | None = None,
    tool_timeout: float | None = None,
    verbose: bool = False,
) -> int:
    """Run ``prompt`` as one turn of ``config``, printing as ``output`` says; the exit code."""
    from ..host import Host, HostLimits
    from .turn import drive_turn, exit_code_for

    limits = HostLimits() if tool_timeout is None else HostLimits(tool_timeout=tool_timeout)
    host = Host(config, prespawn=False, limits=limits, interactive=interactive, resolve_agent=resolver)
    try:
        if output == "text":
            from .console import console
            from .render import EventRenderer

            renderer = EventRenderer(console(), verbose=verbose)
            outcome = await drive_turn(
                host,
                prompt,
                renderer,
                ask_approval=(lambda data: ask_on_terminal(renderer, data)) if interactive else None,
            )
        else:
            from .headless import JsonSink, StreamJsonSink

            sink = StreamJsonSink() if output == "stream-json" else JsonSink()
            outcome = await drive_turn(host, prompt, sink)
            sink.finish(outcome)
    finally:
        await host.close()
    return exit_code_for(outcome)
