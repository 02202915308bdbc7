"""What the reliability and security tests share: an installed AMPLIFIER_HOME, the real CLI, and checks.

Imported by the conftest files of tests/reliability and tests/security (they
put this folder on ``sys.path``). Installing is real (uv, offline): the
environments live in one cache folder per user, rebuilt by the registry only
when a service's source changed, so a test run pays for installs once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FAULTS = Path(__file__).resolve().parent
AGENT_FILE = FAULTS / "agents" / "faulty.yaml"
CLI = str(Path(sys.executable).parent / "amplifier-ipc")
# One install cache per user and checkout (two checkouts installing into one
# cache would rebuild each other's environments mid-run); the registry
# rebuilds an environment when its source changes.
ENV_CACHE = Path(tempfile.gettempdir()) / (
    f"amplifier-ipc-test-envs-{os.getuid()}-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]}"
)
# Installing three services on a loaded 2-core machine (uv, offline, compiled bytecode).
INSTALL_TIMEOUT_S = 600.0
# A whole single-shot turn through real services, including a lazy re-install when a source changed.
RUN_TIMEOUT_S = 240.0
# The Host's teardown: shutdown grace 2 s, SIGTERM grace 2 s, plus slack for a loaded machine.
LEFTOVER_GRACE_S = 10.0
# How often conditions are re-checked while waiting on them.
POLL_S = 0.02
PROVIDER_KEYS = (
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "OPENAI_COMPATIBLE_API_KEY",
    "OLLAMA_API_KEY",
    "OLLAMA_HOST",
)

PROBE_SCRIPT = """
- text: "Probing."
  tool_calls: [{name: fault_probe, arguments: {text: hi}}]
- text: "Done."
"""


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS}
    env["AMPLIFIER_HOME"] = str(home)
    return env


def _cli(args: list[str], env: dict[str, str], timeout: float = INSTALL_TIMEOUT_S) -> None:
    done = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"amplifier-ipc {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def _register(home: Path) -> None:
    env = clean_env(home)
    _cli(["discover", str(ROOT / "services"), "--register"], env)
    _cli(["discover", str(ROOT / "definitions"), "--register"], env)
    _cli(["register", str(AGENT_FILE)], env)


def _built_elsewhere(environments: Path) -> bool:
    """True when a script of the shared environments points into another home's folder.

    That happens when a run re-installs lazily (a service's source changed
    meanwhile) through a test home's ``environments`` symlink: uv writes that
    path, which dies with the test home.
    """
    real = str(environments.resolve())
    for script in environments.glob("*/bin/amplifier-*"):
        for found in re.findall(rb"(/[^\s'\"]*/environments/)", script.read_bytes()[:1024]):
            if not found.decode(errors="replace").startswith(real):
                return True
    return False


def build_home(root: Path) -> Path:
    """A fresh AMPLIFIER_HOME at ``root`` with every definition registered and the faulty agent installed."""
    ENV_CACHE.mkdir(parents=True, exist_ok=True)
    cache_home = ENV_CACHE / "home"
    with open(ENV_CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _register(cache_home)
        force = ["--force"] if _built_elsewhere(cache_home / "environments") else []
        _cli(["install", "faulty", *force], clean_env(cache_home))  # a no-op for current environments
    root.mkdir(parents=True)
    (root / "environments").symlink_to(cache_home / "environments")
    _register(root)
    return root


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for: {what}")
        time.sleep(POLL_S)


# -- processes -----------------------------------------------------------------


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def processes_of(session_id: str) -> list[tuple[int, str]]:
    """Every live process that belongs to the session: its environment or argv names the session id.

    Every service gets ``AMPLIFIER_SESSION_ID`` and passes it to what it starts;
    the fault service's grandchildren also carry it in their argv. Zombies are
    not counted (they hold no resources but a pid, and their parent reaps them).
    """
    needle = session_id.encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        stat = _read(f"/proc/{entry}/stat")
        if not stat or stat.rsplit(b")", 1)[-1].split()[0] == b"Z":
            continue
        environ = _read(f"/proc/{entry}/environ")
        cmdline = _read(f"/proc/{entry}/cmdline")
        if b"AMPLIFIER_SESSION_ID=" + needle in environ or needle in cmdline:
            found.append((int(entry), cmdline.replace(b"\0", b" ").decode(errors="replace")))
    return found


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def logged_pids(services_log: Path) -> tuple[list[int], list[int]]:
    """(process groups, grandchild pids) the fault service logged."""
    groups, grandchildren = [], []
    for line in services_log.read_text(errors="replace").splitlines():
        if line.startswith("[faults] faults: pid="):
            groups.append(int(line.rsplit("pgid=", 1)[1]))
        elif line.startswith("[faults] faults: grandchild pid="):
            grandchildren.append(int(line.split("pid=", 1)[1].split()[0]))
    return groups, grandchildren


def pid_alive(pid: int) -> bool:
    stat = _read(f"/proc/{pid}/stat")
    return bool(stat) and stat.rsplit(b")", 1)[-1].split()[0] != b"Z"


def kill_leftovers(session_id: str) -> None:
    """Clean up after a failed check, so one bug does not leak into every later test."""
    for pid, _ in processes_of(session_id):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def assert_nothing_left(home: Path, session_id: str, timeout: float = LEFTOVER_GRACE_S) -> None:
    """No process of the session's turns is left: by process group and by a scan of /proc."""
    log = home / "sessions" / session_id / "services.log"
    groups, grandchildren = logged_pids(log) if log.is_file() else ([], [])
    try:
        wait_until(lambda: not processes_of(session_id), timeout, f"no process of session {session_id} left")
        wait_until(lambda: not any(group_alive(g) for g in groups), timeout, f"process groups {groups} gone")
        wait_until(
            lambda: not any(pid_alive(p) for p in grandchildren),
            timeout,
            f"grandchildren {grandchildren} gone",
        )
    except AssertionError as exc:
        left = processes_of(session_id)
        kill_leftovers(session_id)
        for pid in grandchildren:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        raise AssertionError(f"{exc}; left: {left}") from None


# -- sessions ----------------------------------------------------------------


def session_dir(home: Path, session_id: str) -> Path:
    return home / "sessions" / session_id


def metadata(home: Path, session_id: str) -> dict[str, Any]:
    from amplifier_ipc.host.persistence import read_metadata

    return read_metadata(home / "sessions", session_id)


def transcript(home: Path, session_id: str) -> list[dict[str, Any]]:
    from amplifier_ipc.host.persistence import read_transcript

    return read_transcript(home / "sessions", session_id)


def assert_transcript_valid(messages: list[dict[str, Any]]) -> None:
    """Roles known, a user message first, every tool call answered once by a later tool message."""
    assert messages, "the transcript is empty"
    assert messages[0]["role"] == "user", messages[0]
    open_calls: dict[str, str] = {}
    answered: set[str] = set()
    for index, message in enumerate(messages):
        role = message.get("role")
        assert role in ("user", "assistant", "tool", "system"), f"message {index} has role {role!r}"
        for call in message.get("tool_calls") or []:
            assert call["id"] not in open_calls and call["id"] not in answered, f"call id {call['id']} reused"
            open_calls[call["id"]] = call["name"]
        if role == "tool":
            call_id = message.get("tool_call_id")
            assert call_id in open_calls, f"message {index} answers unknown call {call_id!r}"
            open_calls.pop(call_id)
            answered.add(call_id)
    assert not open_calls, f"tool calls without a result: {open_calls}"


def script_skipping(position: int, entries: str) -> str:
    """A script whose first ``position`` entries are already used (the provider's saved position)."""
    filler = "".join(f"- text: 'used entry {n}'\n" for n in range(position))
    return filler + entries


def scripted_position(home: Path, session_id: str) -> int:
    from amplifier_ipc.host.persistence import read_state

    return int(read_state(home / "sessions", session_id).get("scripted.position") or 0)


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (symlinked folders are not followed)."""
    out = {}
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_file():
                out[str(path.relative_to(folder))] = path.read_bytes()
    return out


# -- the CLI -----------------------------------------------------------------


@dataclass
class Turn:
    """One finished ``amplifier-ipc run --output stream-json``."""

    returncode: int
    stdout: str
    stderr: str
    lines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def result(self) -> dict[str, Any]:
        assert self.lines and self.lines[-1].get("type") == "result", (
            self.stdout[-2000:] + self.stderr[-2000:]
        )
        return self.lines[-1]

    @property
    def session_id(self) -> str:
        return str(self.lines[0]["session_id"]) if self.lines else str(self.result["session_id"])

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("type") in types]

    def tool_result(self, name: str) -> dict[str, Any]:
        found = [line for line in self.of_type("tool_result") if line.get("name") == name]
        assert found, f"no tool_result for {name}: {self.stdout[-3000:]}"
        return found[-1]


def parse_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class Cli:
    """The real ``amplifier-ipc`` entry point against one AMPLIFIER_HOME, in one project folder."""

    def __init__(self, home: Path, cwd: Path) -> None:
        self.home = home
        self.cwd = cwd
        self.env = clean_env(home)
        self.started: list[subprocess.Popen[str]] = []

    def __call__(
        self, *args: str, input: str = "", timeout: float = RUN_TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CLI, *args],
            env=self.env,
            cwd=self.cwd,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def script(self, entries: str, name: str = "script.yaml") -> Path:
        path = self.cwd / name
        path.write_text(entries)
        return path

    def run_args(self, script: Path, mode: str | None, extra: Iterable[str], prompt: str) -> list[str]:
        args = ["run", "--agent", "faulty", "--provider", "scripted", "-C", f"scripted.script={script}"]
        if mode is not None:
            args += ["-C", f"fault_probe.mode={mode}"]
        return [*args, "--output", "stream-json", *extra, prompt]

    def turn(
        self,
        entries: str,
        *extra: str,
        mode: str | None = None,
        prompt: str = "hello",
        name: str = "script.yaml",
    ) -> Turn:
        done = self(*self.run_args(self.script(entries, name), mode, extra, prompt))
        lines = []
        for line in done.stdout.splitlines():
            if line.strip():
                lines.append(json.loads(line))
        return Turn(done.returncode, done.stdout, done.stderr, lines)

    def popen(
        self, entries: str, *extra: str, mode: str | None = None, prompt: str = "hello"
    ) -> subprocess.Popen[str]:
        """A turn left running for the test to signal; it is killed at teardown if still alive."""
        proc = subprocess.Popen(
            [CLI, *self.run_args(self.script(entries), mode, extra, prompt)],
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.started.append(proc)
        return proc

    def close(self) -> None:
        """Kill what ``popen`` started and the test left behind (a failed assertion mid-turn)."""
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()

    def resume(self, session_id: str, entries: str, prompt: str = "after the fault") -> Turn:
        """One more turn of ``session_id``, with a script that continues at the provider's saved position."""
        script = script_skipping(scripted_position(self.home, session_id), entries)
        return self.turn(script, "--session", session_id, mode="none", prompt=prompt, name="resume.yaml")
