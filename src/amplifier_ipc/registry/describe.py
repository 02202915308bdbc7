"""Ask a service what it offers, outside a session: install checks, `tool list`, config routing.

The answer without config is cached beside the environment (it depends only
on what is installed); an answer with config is always fresh.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

from .errors import InstallError

__all__ = ["describe_service", "component_names", "base_environment", "BASE_ENV"]

# Loading a service's components is quick; an SDK import at describe time is a bug, but still allowed for.
DESCRIBE_TIMEOUT_S = 30.0
# A service must exit promptly once its stdin closes (PROTOCOL §3); after this it is killed.
EXIT_GRACE_S = 2.0
CACHE_FILE = "amplifier-describe.json"
BASE_ENV = ("PATH", "HOME", "LANG", "TERM", "TMPDIR", "AMPLIFIER_HOME")


def base_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The small environment every service gets (PROTOCOL §8)."""
    env = {k: os.environ[k] for k in BASE_ENV if k in os.environ}
    env.update(extra or {})
    return env


def describe_service(
    argv: list[str],
    *,
    name: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    config: dict[str, Any] | None = None,
    cache_dir: Path | None = None,
    stderr_lines: list[str] | None = None,
) -> dict[str, Any]:
    """The ``describe`` answer of the service started by ``argv``.

    ``stderr_lines``, when given, receives what the service wrote to stderr
    (a service reports there what it left out, such as an MCP server that
    failed to start while others did).
    """
    cache = cache_dir / CACHE_FILE if cache_dir is not None and not config else None
    if cache is not None and cache.is_file():
        try:
            cached: dict[str, Any] = json.loads(cache.read_bytes())
            return cached
        except ValueError:
            pass
    params = {"config": config} if config else {}
    request = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "describe", "params": params}) + "\n"
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env if env is not None else base_environment(),
            start_new_session=True,
        )
    except OSError as exc:
        raise InstallError(
            f"cannot start {name} ({argv[0]}): {exc.strerror}",
            hint=f"reinstall it: amplifier-ipc install {name} --force",
        ) from None
    answer: dict[str, Any] = {}
    stderr_chunks: list[bytes] = []

    def read_answer() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("id") == 1:
                answer.update(message)
                return

    def drain_stderr() -> None:
        assert proc.stderr is not None
        stderr_chunks.append(proc.stderr.read())

    reader = threading.Thread(target=read_answer, daemon=True)
    drainer = threading.Thread(target=drain_stderr, daemon=True)
    reader.start()
    drainer.start()
    try:
        assert proc.stdin is not None
        proc.stdin.write(request.encode())
        proc.stdin.flush()
    except BrokenPipeError:
        pass
    reader.join(DESCRIBE_TIMEOUT_S)
    _stop(proc)
    drainer.join(EXIT_GRACE_S)
    stderr = b"".join(stderr_chunks).decode(errors="replace").strip()
    if stderr_lines is not None:
        stderr_lines.extend(line for line in stderr.splitlines() if line.strip())
    if "result" not in answer:
        detail = answer.get("error", {}).get("message") if answer else None
        tail = "\n".join(stderr.splitlines()[-6:])
        raise InstallError(
            f"{name} did not describe itself: {detail or tail or 'no answer'}",
            hint=f"run it by hand to see why: {' '.join(argv)}",
        )
    result: dict[str, Any] = answer["result"]
    if cache is not None:
        cache.write_text(json.dumps(result))
    return result


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        if proc.stdin is not None:
            proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(EXIT_GRACE_S)
        return
    except subprocess.TimeoutExpired:
        pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(EXIT_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            continue


def component_names(description: dict[str, Any]) -> set[str]:
    """Every component name a describe answer reveals (what configure accepts)."""
    caps = description.get("capabilities") or {}
    names: set[str] = set()
    for kind in ("orchestrators", "context_managers", "hooks", "providers", "tools", "components"):
        for item in caps.get(kind) or []:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                names.add(item["name"])
    return names
