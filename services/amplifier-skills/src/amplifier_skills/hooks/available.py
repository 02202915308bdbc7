"""Offers the model the list of available skills on each provider request,
as an ephemeral injection (never stored in the transcript)."""

from __future__ import annotations

import sys
from typing import Any

from amplifier_ipc_protocol import hook

from ..catalog import LOADED_KEY, dirs_from, load_catalog

# Descriptions are for choosing a skill; longer ones are cut to keep the list cheap.
MAX_DESCRIPTION_CHARS = 200


@hook(events=["provider:request"], priority=20, name="skills_available")
class AvailableSkills:
    config: dict[str, Any]
    host: Any

    def __init__(self) -> None:
        self._listing: str | None = None

    async def handle(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        if self._listing is None:  # the folders do not change within a turn
            try:
                catalog = load_catalog(dirs_from(self.config))
            except ValueError as exc:
                sys.stderr.write(f"[amplifier-skills] {exc}\n")
                return {"action": "CONTINUE"}
            for problem in catalog.problems:
                sys.stderr.write(f"[amplifier-skills] skipped: {problem}\n")
            self._listing = "\n".join(f"- {s.name}: {_short(s.description)}" for s in catalog.skills.values())
        if not self._listing:
            return {"action": "CONTINUE"}
        loaded = await self.host.state_get(LOADED_KEY) or []
        text = [
            '<system-reminder source="skills">',
            "Skills available (read one with the load_skill tool, operation 'load', before a task it fits):",
            self._listing,
        ]
        if loaded:
            text.append(f"Already loaded in this session: {', '.join(loaded)}.")
        text.append("</system-reminder>")
        return {
            "action": "INJECT_CONTEXT",
            "context_injection": "\n".join(text),
            "context_injection_role": "user",
            "ephemeral": True,
        }


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_DESCRIPTION_CHARS else line[: MAX_DESCRIPTION_CHARS - 1] + "…"
