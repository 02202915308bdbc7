"""The interactive REPL: prompt-toolkit input, rich output, slash commands, Ctrl-C to cancel a turn.

Enter sends, Ctrl-J inserts a newline. During a turn the first Ctrl-C cancels
gracefully (running tools finish) and a second cancels at once; at an empty
prompt Ctrl-C asks before exiting, Ctrl-D exits.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from amplifier_ipc_protocol import loops
from rich.markup import escape

from ..host import Host
from ..host.persistence import SessionStore, read_metadata, read_state, read_transcript
from .console import console, home, verbose
from .render import EventRenderer
from .session_cmds import fork_session, message_text
from .turn import drive_turn

__all__ = ["run_repl", "SLASH_COMMANDS"]

SLASH_COMMANDS = {
    "/help": "this list",
    "/status": "session, agent, provider, model, turns, services",
    "/tools": "the tools offered to the model",
    "/agents": "registered agents",
    "/mode": "/mode NAME sets the active mode, /mode off clears it",
    "/modes": "available modes",
    "/clear": "start a new session (same agent)",
    "/save": "/save [FILE] writes the transcript as Markdown (default: session-<id>.md here)",
    "/rename": "/rename NAME renames the session",
    "/fork": "/fork [TURN] copies the session (or its first TURN turns) into a new one",
    "/exit": "leave (Ctrl-D too)",
}
MODES_STATE_KEY = "modes.active"


def history_file(working_dir: Path) -> Path:
    """One history per project folder."""
    key = hashlib.sha256(str(working_dir.resolve()).encode()).hexdigest()[:16]
    path = home().root / "history" / f"{key}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


class Repl:
    def __init__(self, built: Any, resumed: dict[str, Any] | None) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.completion import WordCompleter
        from prompt_toolkit.history import FileHistory
        from prompt_toolkit.key_binding import KeyBindings

        from ..registry.session import RunRequest
        from .agents import registry_resolver

        self.built = built
        self.config = built.config
        self.resolve_agent = registry_resolver(RunRequest(working_dir=self.config.working_dir))
        self.console = console()
        self.renderer = EventRenderer(self.console, verbose=verbose())
        bindings = KeyBindings()

        @bindings.add("c-j")
        def _newline(event: Any) -> None:
            event.current_buffer.insert_text("\n")

        self.prompt: PromptSession[str] = PromptSession(
            history=FileHistory(str(history_file(self.config.working_dir))),
            completer=WordCompleter(list(SLASH_COMMANDS), sentence=True),
            key_bindings=bindings,
        )
        self.host = Host(self.config, prespawn=True, interactive=True, resolve_agent=self.resolve_agent)
        self.resumed = resumed

    @property
    def sessions_dir(self) -> Path:
        return Path(self.config.sessions_dir)

    def _has_session(self) -> bool:
        return SessionStore(self.sessions_dir, self.host.session_id).exists

    async def run(self) -> int:
        if self.resumed:
            self.console.print(
                f"[dim]resumed {escape(str(self.resumed.get('name', '')))} ({self.host.session_id[:12]}), "
                f"{self.resumed.get('turns', 0)} turns[/]"
            )
        self.console.print(
            f"[dim]{self.config.agent} · {self.built.provider.provider} · /help for commands · Ctrl-D to exit[/]"
        )
        try:
            while True:
                try:
                    text = await self.prompt.prompt_async("> ")
                except KeyboardInterrupt:
                    if await self._confirm_exit():
                        return 0
                    continue
                except EOFError:
                    return 0
                text = text.strip()
                if not text:
                    continue
                if text.startswith("/"):
                    if await self._command(text) == "exit":
                        return 0
                    continue
                await drive_turn(self.host, text, self.renderer, ask_approval=self._ask)
        finally:
            await self.host.close()

    async def _confirm_exit(self) -> bool:
        try:
            answer = await self.prompt.prompt_async("exit? [y/N] ")
        except (KeyboardInterrupt, EOFError):
            return True
        return answer.strip().lower() in ("y", "yes")

    async def _ask(self, data: dict[str, Any]) -> str | None:
        from .single import ask_on_terminal

        return await ask_on_terminal(self.renderer, data)

    async def _command(self, line: str) -> str | None:
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        out = self.console
        if name == "/exit":
            return "exit"
        if name == "/help":
            for command, text in SLASH_COMMANDS.items():
                out.print(f"  [bold]{command}[/] {escape(text)}")
        elif name == "/status":
            self._status()
        elif name == "/tools":
            from ..registry.tools import is_offered

            for service, description in self.built.descriptions.items():
                for tool in (description.get("capabilities") or {}).get("tools") or []:
                    if is_offered(tool["name"], self.config):
                        out.print(f"  [bold]{escape(tool['name'])}[/] [dim]({service})[/]")
        elif name == "/agents":
            for alias in sorted(home().aliases("agent")):
                out.print(f"  {alias}{' [green](current)[/]' if alias == self.config.agent else ''}")
        elif name == "/modes":
            active = self._state().get(MODES_STATE_KEY)
            for mode in self._modes():
                out.print(f"  {mode}{' [green](active)[/]' if mode == active else ''}")
        elif name == "/mode":
            self._set_mode(arg)
        elif name == "/clear":
            await self.host.close()
            self.config.session_id = None
            self.host = Host(self.config, prespawn=True, interactive=True, resolve_agent=self.resolve_agent)
            out.print(f"[dim]new session {self.host.session_id[:12]}[/]")
        elif name == "/save":
            self._save(arg)
        elif name == "/rename":
            self._rename(arg)
        elif name == "/fork":
            self._fork(arg)
        else:
            out.print(f"[yellow]unknown command {escape(name)}[/]; /help lists them")
        return None

    def _status(self) -> None:
        metadata = read_metadata(self.sessions_dir, self.host.session_id) if self._has_session() else {}
        usage = metadata.get("usage") or {}
        self.console.print(
            f"  session  {self.host.session_id}\n"
            f"  agent    {self.config.agent}\n"
            f"  provider {self.built.provider.provider} ({self.built.provider.reason})\n"
            f"  model    {self.config.model or 'provider default'}\n"
            f"  turns    {metadata.get('turns', 0)}  tokens {usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out\n"
            f"  folder   {self.config.working_dir}\n"
            f"  services {', '.join(s.name for s in self.config.services)}\n"
            f"  mode     {self._state().get(MODES_STATE_KEY) or 'none'}"
        )

    def _state(self) -> dict[str, Any]:
        return read_state(self.sessions_dir, self.host.session_id) if self._has_session() else {}

    def _modes(self) -> list[str]:
        """Mode files: shipped with the installed modes service, AMPLIFIER_HOME/modes, .amplifier/modes."""
        from ..registry.environments import environment

        folders: list[Path] = []
        for spec in self.config.services:
            if spec.name == "modes" and spec.definition_id:
                folders += environment(home(), spec.definition_id).root.glob(
                    "lib/python*/site-packages/amplifier_modes/modes"
                )
        folders += [home().root / "modes", Path(self.config.working_dir) / ".amplifier" / "modes"]
        return sorted({p.stem for folder in folders if folder.is_dir() for p in folder.glob("*.md")})

    def _set_mode(self, arg: str) -> None:
        if not arg:
            self.console.print(
                f"active mode: {self._state().get(MODES_STATE_KEY) or 'none'}; /modes lists them"
            )
            return
        value = None if arg in ("off", "none", "clear") else arg
        if value is not None and value not in self._modes():
            self.console.print(f"[yellow]no mode named {escape(arg)}[/]; /modes lists them")
            return
        store = SessionStore(self.sessions_dir, self.host.session_id)
        if not store.exists:
            self.console.print("[yellow]send a first message, then set the mode[/]")
            return
        state = store.read_state()
        state[MODES_STATE_KEY] = value
        store.write_state(state)
        self.console.print(f"mode: {value or 'none'}")

    def _fork(self, arg: str) -> None:
        """``/fork`` copies the whole session, ``/fork N`` its first N turns."""
        if not self._has_session():
            self.console.print("[yellow]nothing to fork yet[/]")
            return
        turns = int(read_metadata(self.sessions_dir, self.host.session_id).get("turns", 0))
        at_turn = None
        if arg:
            if not arg.isdigit() or not 1 <= int(arg) <= turns:
                self.console.print(
                    f"[yellow]/fork {escape(arg)}: the turn must be a number from 1 to {turns}[/] "
                    "(the session's turns); /fork alone copies the whole session"
                )
                return
            at_turn = int(arg)
        new_id = fork_session(self.sessions_dir, self.host.session_id, at_turn)
        self.console.print(
            f"forked into {new_id} ({at_turn or turns} turns); "
            f"resume it with: amplifier-ipc session resume {new_id[:12]}"
        )

    def _save(self, arg: str) -> None:
        """``/save FILE`` writes the transcript as Markdown; without FILE, session-<id>.md here."""
        if not self._has_session():
            self.console.print("[yellow]nothing to save yet[/]")
            return
        path = Path(arg or f"session-{self.host.session_id[:8]}.md").expanduser()
        lines = []
        for message in read_transcript(self.sessions_dir, self.host.session_id):
            lines.append(f"## {message.get('role')}\n\n{message_text(message)}\n")
        try:
            path.write_text("\n".join(lines))
        except OSError as exc:
            self.console.print(
                f"[yellow]cannot save {escape(str(path))}: {escape(exc.strerror or str(exc))}[/]; "
                "give a file in an existing folder you can write, e.g. /save notes.md"
            )
            return
        self.console.print(f"saved {escape(str(path))} ({len(lines)} messages)")

    def _rename(self, arg: str) -> None:
        if not arg or not self._has_session():
            self.console.print("[yellow]/rename NAME, after the first message[/]")
            return
        store = SessionStore(self.sessions_dir, self.host.session_id)
        metadata = store.read_metadata()
        metadata["name"] = arg
        store.write_metadata(metadata)
        self.console.print(f"renamed to {escape(arg)}")


def run_repl(built: Any, resumed: dict[str, Any] | None = None) -> int:
    """Run the REPL until the user leaves; returns the exit code."""

    async def main() -> int:
        # Made inside the loop: the Host pre-spawns the first turn's services
        # while the user types the first prompt, not after it.
        return await Repl(built, resumed).run()

    return loops.run(main())
