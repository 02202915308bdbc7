"""The ``logging`` hook: every hook event, with session id and timestamp,
appended to the session's ``hook-events.jsonl`` (AMPLIFIER_HOME/sessions/<id>/).
The Host owns ``events.jsonl`` beside it (its own events, another process);
two writers of different record shapes must not share one file.

Config::

    logging:
      path: null        # default: the session's hook-events.jsonl
      redact: true      # mask secrets in the logged copy
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO, Any

from amplifier_ipc_protocol import hook

from ..session import session_dir, session_id
from ._secrets import redact

__all__ = ["EventLog", "LOG_FILE"]

LOG_FILE = "hook-events.jsonl"


@hook(events=["*"], priority=1000, name="logging")
class EventLog:
    def __init__(self) -> None:
        self.config: dict[str, Any] = {}
        self._file: IO[str] | None = None
        self._path: Path | None = None

    def _target(self, sid: str) -> Path | None:
        if self.config.get("path"):
            return Path(self.config["path"]).expanduser()
        folder = session_dir(sid)
        return folder / LOG_FILE if folder else None

    async def handle(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        sid = session_id(data)
        path = self._target(sid)
        if path is None:
            return {"action": "CONTINUE"}
        if self._file is None or path != self._path:
            self.close()
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")
            self._path = path
        logged = redact(data) if self.config.get("redact", True) else data
        record = {"ts": time.time(), "session_id": sid, "event": event, "data": logged}
        self._file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._file.flush()
        return {"action": "CONTINUE"}

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
