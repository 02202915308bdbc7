"""Session folders: what the Host writes during a turn, and how anyone reads it back.

Layout of ``<sessions_dir>/<session id>/`` (ARCHITECTURE.md):

- ``transcript.jsonl``: one message per line (PROTOCOL §9 shape), appended
  and flushed as each passes through ``request.context_add_message``,
  fsynced at the end of each turn.
- ``metadata.json``: replaced atomically (write, fsync, rename): ``id``,
  ``agent``, ``name``, ``created``, ``updated`` (ISO 8601, UTC), ``status``
  (``running``, ``completed``, ``failed``, ``cancelled``, ``interrupted``),
  ``turns``, ``usage``, ``parent_id``, ``working_dir``, ``error``.
- ``state.json``: the session state services set with ``state.set``.
- ``events.jsonl``: the turns' events (stream tokens excluded) and timings.
- ``services.log``: every service's stderr, prefixed by its name.
- ``.lock``: held (``flock``) by the Host while a turn runs.

Public reader API (used by the CLI; none of it needs a running Host):

- ``list_sessions(sessions_dir) -> list[dict]``: metadata of every session,
  most recently updated first.
- ``read_metadata(sessions_dir, session_id) -> dict``: a session whose
  metadata says ``running`` but whose Host is gone (nobody holds its lock) is
  reported ``interrupted``.
- ``read_transcript(sessions_dir, session_id) -> list[dict]``: the messages;
  a last line cut short by a crash is ignored.
- ``read_state(sessions_dir, session_id) -> dict``.
- ``resolve_session_id(sessions_dir, prefix) -> str``: the one session whose
  id starts with ``prefix``; ``SessionNotFound`` for none, ``PersistenceError``
  listing the candidates for several.
- ``validate_session_id(session_id)`` and ``new_session_id()``.

Writing never raises a bare ``OSError``: a failed write, flush, fsync or
close (a full disk, above all) raises ``StoreWriteError``, a
``PersistenceError`` whose message says what could not be written and what
was kept. It is also an ``OSError`` (same ``errno``), so code that already
handles ``OSError`` keeps working.
"""

from __future__ import annotations

import datetime as _dt
import errno
import fcntl
import os
import re
import uuid
from pathlib import Path
from typing import IO, Any

import orjson

from .errors import PersistenceError, SessionNotFound

__all__ = [
    "METADATA_FILE",
    "TRANSCRIPT_FILE",
    "STATE_FILE",
    "EVENTS_FILE",
    "SERVICES_LOG",
    "SessionStore",
    "StoreWriteError",
    "list_sessions",
    "new_session_id",
    "now_iso",
    "read_metadata",
    "read_state",
    "read_transcript",
    "repair_transcript",
    "resolve_session_id",
    "validate_session_id",
]

METADATA_FILE = "metadata.json"
TRANSCRIPT_FILE = "transcript.jsonl"
STATE_FILE = "state.json"
EVENTS_FILE = "events.jsonl"
SERVICES_LOG = "services.log"
LOCK_FILE = ".lock"

# Letters, digits, '-', '_' and single dots: no separators, no '..', no hidden names.
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")

# errno values that mean the device (or the user's quota) has no room left.
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
# What is left of each file after a write to it failed (files are written so that it holds).
_KEPT = {
    TRANSCRIPT_FILE: "the transcript keeps every message written in full before (a cut-short last line is ignored)",
    EVENTS_FILE: "events.jsonl keeps the events written before; the rest of this turn's were dropped",
    METADATA_FILE: "the previous metadata.json is unchanged",
    STATE_FILE: "the previous state.json is unchanged",
}

INTERRUPTED_RESULT = "interrupted: the session ended before this tool call finished; it did not complete"


def new_session_id() -> str:
    """A fresh, unique session id."""
    return str(uuid.uuid4())


def validate_session_id(session_id: str) -> str:
    """``session_id`` if it is safe as a folder name; ``PersistenceError`` otherwise."""
    if not isinstance(session_id, str) or not _ID_PATTERN.match(session_id) or ".." in session_id:
        raise PersistenceError(
            f"invalid session id {session_id!r}",
            hint="a session id holds only letters, digits, '-', '_' and '.' (as given by `session list`)",
        )
    return session_id


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def _session_dir(sessions_dir: Path, session_id: str) -> Path:
    return Path(sessions_dir) / validate_session_id(session_id)


class StoreWriteError(PersistenceError, OSError):
    """A session file could not be written (a full disk, above all); says what was kept."""

    def __init__(self, path: Path, exc: OSError) -> None:
        kept = _KEPT.get(path.name, "what was written before is unchanged")
        if exc.errno in _NO_SPACE:
            message = f"the disk holding {path.parent} is full ({exc.strerror}): {path.name} could not be written; {kept}"
            hint = "free some space (or set AMPLIFIER_HOME to a disk with room), then resume the session"
        else:
            message = f"cannot write {path}: {exc.strerror or exc}; {kept}"
            hint = "check the folder's permissions and the disk"
        PersistenceError.__init__(self, message, hint=hint)
        self.errno = exc.errno
        self.strerror = exc.strerror
        self.filename = str(path)

    def __str__(self) -> str:  # OSError's would show only errno and the path
        return self.message


def _write_atomic(path: Path, data: bytes) -> None:
    """Write, fsync, rename: ``path`` holds the old bytes or the new ones, never a part."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise StoreWriteError(path, exc) from None


def _dump(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)


def _lock_is_free(directory: Path) -> bool:
    try:
        fd = os.open(directory / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


# -- readers --------------------------------------------------------------


def read_metadata(sessions_dir: Path, session_id: str) -> dict[str, Any]:
    """The session's metadata; ``running`` without a live Host reads as ``interrupted``."""
    directory = _session_dir(sessions_dir, session_id)
    path = directory / METADATA_FILE
    try:
        metadata: dict[str, Any] = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise SessionNotFound(
            f"no session {session_id} in {sessions_dir}",
            hint="`amplifier-ipc session list` shows the sessions",
        ) from None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise PersistenceError(
            f"cannot read {path}: {exc}", hint="the file is damaged; remove the session"
        ) from None
    if metadata.get("status") == "running" and _lock_is_free(directory):
        metadata["status"] = "interrupted"
    return metadata


def read_transcript(sessions_dir: Path, session_id: str) -> list[dict[str, Any]]:
    """The session's messages, in order. A cut-short last line (a crash mid-write) is ignored."""
    path = _session_dir(sessions_dir, session_id) / TRANSCRIPT_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    lines = raw.split(b"\n")
    messages: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError:
            if number >= len(lines) - 1:
                break  # the message in flight when the Host died
            raise PersistenceError(
                f"{path} line {number} is not JSON", hint="the transcript is damaged; fix or remove that line"
            ) from None
        if not isinstance(message, dict):
            raise PersistenceError(f"{path} line {number} is not a message object")
        messages.append(message)
    return messages


def read_state(sessions_dir: Path, session_id: str) -> dict[str, Any]:
    path = _session_dir(sessions_dir, session_id) / STATE_FILE
    try:
        state = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError) as exc:
        raise PersistenceError(f"cannot read {path}: {exc}", hint="the file is damaged; remove it") from None
    if not isinstance(state, dict):
        raise PersistenceError(f"{path} does not hold an object")
    return state


def list_sessions(sessions_dir: Path) -> list[dict[str, Any]]:
    """Metadata of every session under ``sessions_dir``, most recently updated first."""
    root = Path(sessions_dir)
    if not root.is_dir():
        return []
    found: list[dict[str, Any]] = []
    for entry in root.iterdir():
        if not entry.is_dir() or not _ID_PATTERN.match(entry.name):
            continue
        try:
            found.append(read_metadata(root, entry.name))
        except PersistenceError:
            continue
    found.sort(key=lambda m: str(m.get("updated", "")), reverse=True)
    return found


def resolve_session_id(sessions_dir: Path, prefix: str) -> str:
    """The one session id starting with ``prefix``."""
    if not prefix or not re.match(r"^[A-Za-z0-9_.-]+$", prefix) or ".." in prefix:
        raise PersistenceError(f"invalid session id {prefix!r}", hint="give a session id or a prefix of one")
    root = Path(sessions_dir)
    if (root / prefix / METADATA_FILE).is_file():
        return prefix
    matches = sorted(p.name for p in root.iterdir() if p.name.startswith(prefix)) if root.is_dir() else []
    matches = [m for m in matches if (root / m / METADATA_FILE).is_file()]
    # A child's id starts with its parent's: a prefix of the parent's id names the parent.
    matches = [m for m in matches if not any(m.startswith(f"{other}-") for other in matches)]
    if not matches:
        raise SessionNotFound(
            f"no session id starts with {prefix!r}", hint="`amplifier-ipc session list` shows the sessions"
        )
    if len(matches) > 1:
        raise PersistenceError(
            f"{prefix!r} matches several sessions: {', '.join(matches[:10])}", hint="give more of the id"
        )
    return matches[0]


def repair_transcript(messages: list[dict[str, Any]], text: str = INTERRUPTED_RESULT) -> list[dict[str, Any]]:
    """Tool results to append so every tool call of the last assistant message has one.

    A turn cut short (killed, cancelled at once) can leave tool calls without
    results; providers reject such a history, so each gets a failed result.
    """
    last = None
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "assistant":
            last = index
            break
    if last is None:
        return []
    calls = messages[last].get("tool_calls") or []
    answered = {m.get("tool_call_id") for m in messages[last + 1 :] if m.get("role") == "tool"}
    return [
        {
            "role": "tool",
            "tool_call_id": call.get("id"),
            "name": call.get("name"),
            "content": text,
            "metadata": {"success": False, "synthetic": True},
        }
        for call in calls
        if isinstance(call, dict) and call.get("id") not in answered
    ]


# -- the writer -----------------------------------------------------------


class SessionStore:
    """The files of one session, written by the Host that runs it."""

    def __init__(self, sessions_dir: Path, session_id: str) -> None:
        self.sessions_dir = Path(sessions_dir)
        self.session_id = validate_session_id(session_id)
        self.directory = self.sessions_dir / session_id
        self._transcript: IO[bytes] | None = None
        self._events: IO[bytes] | None = None
        self._lock_fd: int | None = None
        self._failure: StoreWriteError | None = None
        """A write that failed where raising would have interrupted the turn, raised by ``sync``/``close``."""

    @property
    def exists(self) -> bool:
        return (self.directory / METADATA_FILE).is_file()

    def open(self) -> None:
        """Create the folder if needed and take the session's lock."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PersistenceError(
                f"cannot create session folder {self.directory}: {exc.strerror}",
                hint="check AMPLIFIER_HOME and its permissions",
            ) from None
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise PersistenceError(
                f"session {self.session_id} is in use by another process",
                hint="wait for its turn to finish, or start a new session",
            ) from None
        self._lock_fd = fd
        self._transcript = open(self.directory / TRANSCRIPT_FILE, "ab")  # noqa: SIM115
        self._events = open(self.directory / EVENTS_FILE, "ab")  # noqa: SIM115

    def close(self) -> None:
        """Flush, fsync and close the files, then release the lock.

        Everything is closed and the lock released even when a write fails;
        the first failure is then raised as ``StoreWriteError``.
        """
        failure, self._failure = self._failure, None
        for name, handle in ((TRANSCRIPT_FILE, self._transcript), (EVENTS_FILE, self._events)):
            if handle is None:
                continue
            try:
                handle.flush()
                os.fsync(handle.fileno())
            except OSError as exc:
                failure = failure or StoreWriteError(self.directory / name, exc)
            try:
                handle.close()  # the file is closed even when this raises
            except OSError as exc:
                failure = failure or StoreWriteError(self.directory / name, exc)
        self._transcript = self._events = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None
        if failure is not None:
            raise failure

    @property
    def services_log(self) -> Path:
        return self.directory / SERVICES_LOG

    # -- transcript ---------------------------------------------------------

    def read_transcript(self) -> list[dict[str, Any]]:
        return read_transcript(self.sessions_dir, self.session_id)

    def append_message(self, message: dict[str, Any]) -> None:
        """Append one message and flush it to the OS (a crash of the Host loses nothing)."""
        assert self._transcript is not None
        try:
            self._transcript.write(orjson.dumps(message, option=orjson.OPT_NON_STR_KEYS) + b"\n")
            self._transcript.flush()
        except OSError as exc:
            raise StoreWriteError(self.directory / TRANSCRIPT_FILE, exc) from None

    def rewrite_transcript(self, messages: list[dict[str, Any]]) -> None:
        """Replace the transcript (dropping a cut-short last line) atomically."""
        assert self._transcript is not None
        data = b"".join(orjson.dumps(m, option=orjson.OPT_NON_STR_KEYS) + b"\n" for m in messages)
        self._transcript.close()
        _write_atomic(self.directory / TRANSCRIPT_FILE, data)
        self._transcript = open(self.directory / TRANSCRIPT_FILE, "ab")  # noqa: SIM115

    def sync(self) -> None:
        """fsync the transcript and the event log (end of a turn)."""
        for name, handle in ((TRANSCRIPT_FILE, self._transcript), (EVENTS_FILE, self._events)):
            if handle is not None:
                try:
                    handle.flush()
                    os.fsync(handle.fileno())
                except OSError as exc:
                    raise StoreWriteError(self.directory / name, exc) from None
        self._raise_kept_failure()

    def _raise_kept_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    # -- metadata, state, events -------------------------------------------

    def read_metadata(self) -> dict[str, Any]:
        return read_metadata(self.sessions_dir, self.session_id)

    def write_metadata(self, metadata: dict[str, Any]) -> None:
        _write_atomic(self.directory / METADATA_FILE, _dump(metadata))

    def read_state(self) -> dict[str, Any]:
        return read_state(self.sessions_dir, self.session_id)

    def write_state(self, state: dict[str, Any]) -> None:
        _write_atomic(self.directory / STATE_FILE, _dump(state))

    def append_event(self, event: dict[str, Any]) -> None:
        """Buffered: events are flushed by ``sync`` at the end of the turn.

        A failed write does not interrupt the turn (the event still reaches
        its listeners): the event log stops there, and ``sync`` or ``close``
        raises the failure.
        """
        if self._events is None:
            return
        try:
            self._events.write(orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS) + b"\n")
        except OSError as exc:
            self._failure = self._failure or StoreWriteError(self.directory / EVENTS_FILE, exc)
            handle, self._events = self._events, None
            try:
                handle.close()
            except OSError:
                pass  # the same failure, already kept
