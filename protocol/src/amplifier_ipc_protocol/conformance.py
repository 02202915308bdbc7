"""Check any service command against the wire protocol (PROTOCOL.md).

    python -m amplifier_ipc_protocol.conformance -- amplifier-foundation-serve
    python -m amplifier_ipc_protocol.conformance -- node my-service.js

The service is started in its own process group and spoken to with raw
lines, not with this library's ``Peer``, so the check holds for a service
written in any language. It prints one line per check and exits 1 when any
check fails. Tools are never executed: only requests that must be refused
(unknown tool, invalid input) are sent, so running the check has no side
effects beyond starting the service.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from . import errors as e
from . import loops

__all__ = ["Check", "ConformanceReport", "run_conformance", "format_report", "main"]

# The first describe may import a service's code from a cold disk.
DESCRIBE_TIMEOUT_S = 30.0
# Every other answer the check waits for: they do no real work.
ANSWER_TIMEOUT_S = 10.0
# PROTOCOL §3: the Host's default grace period before SIGTERM after EOF.
EXIT_GRACE_S = 2.0
# How long to keep listening for an answer that must NOT come.
SILENCE_WINDOW_S = 0.3
# After SIGKILL of the group, how long to wait for the process to be reaped.
REAP_TIMEOUT_S = 5.0
# stderr lines kept to show with a failure.
STDERR_TAIL_LINES = 20
# A stdout line of this size is surely not a sensible answer to a small check.
MAX_ANSWER_BYTES = 64 * 1024 * 1024


@dataclass(slots=True)
class Check:
    """The outcome of one check."""

    name: str
    passed: bool
    detail: str = ""
    skipped: bool = False


@dataclass(slots=True)
class ConformanceReport:
    """Every check run against one command, and the service's stderr tail."""

    command: list[str]
    checks: list[Check] = field(default_factory=list)
    stderr_tail: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]


_SKIPPED = "skipped"


class _Failed(Exception):
    """A check failed; the message says how."""


class _Channel:
    """Raw JSON lines to and from the process under test."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        assert process.stdin is not None and process.stdout is not None
        self._stdin = process.stdin
        self._stdout = process.stdout
        self.messages: list[dict[str, Any]] = []
        self.garbage: list[bytes] = []
        self.stderr: list[str] = []
        self._arrived = asyncio.Condition()
        self._next_id = 1000
        self.reading = asyncio.ensure_future(self._read_stdout())
        self.draining = asyncio.ensure_future(self._drain_stderr())

    async def _read_stdout(self) -> None:
        while True:
            try:
                line = await self._stdout.readuntil(b"\n")
            except asyncio.IncompleteReadError as exc:
                if exc.partial.strip():
                    self.garbage.append(exc.partial[:200])
                break
            except asyncio.LimitOverrunError:
                self.garbage.append(b"<a stdout line over the reader limit>")
                break
            if not line.strip():
                continue
            try:
                message = orjson.loads(line)
            except orjson.JSONDecodeError:
                self.garbage.append(line[:200])
                continue
            async with self._arrived:
                if isinstance(message, dict):
                    self.messages.append(message)
                else:
                    self.garbage.append(line[:200])
                self._arrived.notify_all()
        async with self._arrived:
            self._arrived.notify_all()

    async def _drain_stderr(self) -> None:
        stream = self.process.stderr
        if stream is None:
            return
        while True:
            line = await stream.readline()
            if not line:
                return
            self.stderr.append(line.decode("utf-8", errors="replace").rstrip())
            del self.stderr[:-STDERR_TAIL_LINES]

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def send_raw(self, data: bytes) -> None:
        self._stdin.write(data)
        await self._stdin.drain()

    async def send(self, message: dict[str, Any]) -> None:
        await self.send_raw(orjson.dumps(message) + b"\n")

    async def wait_for(self, request_id: int | None, timeout: float, what: str) -> dict[str, Any]:
        """The first answer with ``request_id`` (None: an error with id null)."""
        deadline = time.monotonic() + timeout
        async with self._arrived:
            while True:
                for message in self.messages:
                    if message.get("id") == request_id and ("result" in message or "error" in message):
                        self.messages.remove(message)
                        return message
                if self.reading.done():
                    raise _Failed(
                        f"the service closed stdout (exit code {self.process.returncode}) before {what}"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _Failed(f"no answer to {what} within {timeout:g}s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), remaining)

    async def call(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = ANSWER_TIMEOUT_S
    ) -> dict[str, Any]:
        request_id = self.new_id()
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)
        return await self.wait_for(request_id, timeout, method)

    async def answers_for(self, request_id: int, window: float) -> list[dict[str, Any]]:
        """Every answer with ``request_id`` that arrives within ``window``."""
        deadline = time.monotonic() + window
        async with self._arrived:
            while (remaining := deadline - time.monotonic()) > 0 and not self.reading.done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), remaining)
            found = [m for m in self.messages if m.get("id") == request_id]
            for message in found:
                self.messages.remove(message)
            return found


def _expect_error(answer: dict[str, Any], code: int, what: str) -> dict[str, Any]:
    error = answer.get("error")
    if not isinstance(error, dict):
        raise _Failed(f"{what}: expected error {code}, got result {_short(answer.get('result'))}")
    if error.get("code") != code:
        raise _Failed(f"{what}: expected error {code}, got {error.get('code')} ({error.get('message')!r})")
    if not isinstance(error.get("message"), str):
        raise _Failed(f"{what}: error {code} has no message string")
    data = error.get("data")
    if data is not None and not isinstance(data, dict):
        raise _Failed(f"{what}: error.data must be an object (PROTOCOL §7), got {_short(data)}")
    return error


def _expect_result(answer: dict[str, Any], what: str) -> Any:
    if "error" in answer:
        error = answer["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise _Failed(f"{what} failed: {_short(message)}")
    return answer.get("result")


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_describe(result: Any) -> str:
    if not isinstance(result, dict):
        raise _Failed(f"describe result must be an object, got {_short(result)}")
    if not isinstance(result.get("name"), str) or not result["name"]:
        raise _Failed("describe result needs a non-empty name string")
    if result.get("protocol_version") != 1:
        raise _Failed(f"protocol_version must be 1, got {_short(result.get('protocol_version'))}")
    caps = result.get("capabilities")
    if not isinstance(caps, dict):
        raise _Failed("describe result needs a capabilities object")
    for kind in ("tools", "hooks", "providers", "orchestrators", "context_managers"):
        entries = caps.get(kind, [])
        if not isinstance(entries, list) or not all(
            isinstance(x, dict) and isinstance(x.get("name"), str) and x["name"] for x in entries
        ):
            raise _Failed(f"capabilities.{kind} must be a list of objects with a name")
    for spec in caps.get("tools", []):
        schema = spec.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise _Failed(f"tool {spec['name']}: input_schema must be a JSON Schema with type 'object'")
        if not isinstance(spec.get("description", ""), str):
            raise _Failed(f"tool {spec['name']}: description must be a string")
    for spec in caps.get("hooks", []):
        events = spec.get("events")
        if not isinstance(events, list) or not events or not all(isinstance(x, str) for x in events):
            raise _Failed(f"hook {spec['name']}: events must be a non-empty list of event names")
        if not isinstance(spec.get("priority", 0), int):
            raise _Failed(f"hook {spec['name']}: priority must be an integer")
    content = caps.get("content", {"paths": []})
    paths = content.get("paths") if isinstance(content, dict) else None
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise _Failed("capabilities.content must be {paths: [...strings]}")
    counts = ", ".join(f"{len(caps.get(k, []))} {k}" for k in ("tools", "hooks", "providers") if caps.get(k))
    return f"{result['name']}" + (f" ({counts})" if counts else "")


async def _run_checks(channel: _Channel, report: ConformanceReport) -> None:
    async def check(name: str, body: Any) -> Any:
        try:
            detail = await body()
        except _Failed as exc:
            report.checks.append(Check(name, False, str(exc)))
            return None
        text = detail or ""
        report.checks.append(Check(name, True, text, skipped=text.startswith(_SKIPPED)))
        return detail

    described: dict[str, Any] = {}

    async def describe() -> str:
        result = _expect_result(await channel.call("describe", timeout=DESCRIBE_TIMEOUT_S), "describe")
        summary = _check_describe(result)
        described.update(result)
        return summary

    if await check("describe shape", describe) is None:
        return  # nothing else can be checked against a service that cannot describe itself
    caps: dict[str, Any] = described["capabilities"]

    async def ping() -> str:
        result = _expect_result(await channel.call("ping"), "ping")
        if result != {}:
            raise _Failed(f"ping must answer {{}}, got {_short(result)}")
        return "{}"

    async def unknown_method() -> str:
        answer = await channel.call("conformance.no_such_method", {})
        _expect_error(answer, e.METHOD_NOT_FOUND, "an unknown method")
        return "-32601"

    async def malformed_line() -> str:
        await channel.send_raw(b'{"jsonrpc": "2.0", "id": 1, "method": \n')
        error = _expect_error(
            await channel.wait_for(None, ANSWER_TIMEOUT_S, "a malformed line"),
            e.PARSE_ERROR,
            "a malformed line",
        )
        _expect_result(await channel.call("ping"), "ping after a malformed line")
        return f"-32700 ({_short(error.get('message'), 60)}), then ping answered"

    async def batch() -> str:
        await channel.send_raw(b'[{"jsonrpc": "2.0", "id": 7, "method": "ping"}]\n')
        _expect_error(await channel.wait_for(None, ANSWER_TIMEOUT_S, "a batch"), e.INVALID_REQUEST, "a batch")
        return "-32600 with id null"

    async def unknown_tool() -> str:
        answer = await channel.call("tool.execute", {"name": "conformance-no-such-tool", "input": {}})
        _expect_error(answer, e.COMPONENT_NOT_FOUND, "tool.execute of an unknown tool")
        return "-32003"

    async def invalid_input() -> str:
        for spec in caps.get("tools", []):
            required = spec["input_schema"].get("required") or []
            if required:
                answer = await channel.call("tool.execute", {"name": spec["name"], "input": {}})
                error = _expect_error(answer, e.INVALID_PARAMS, f"tool {spec['name']} without {required[0]}")
                if required[0] not in str(error.get("message")):
                    raise _Failed(
                        f"tool {spec['name']}: the -32602 message should name the missing field "
                        f"{required[0]!r}, got {error.get('message')!r}"
                    )
                return f"tool {spec['name']}: -32602 naming {required[0]}"
        return f"{_SKIPPED}: no tool has required fields"

    async def traversal() -> str:
        for path in ("../../../../etc/passwd", "context/../../../../etc/passwd", "/etc/passwd"):
            answer = await channel.call("content.read", {"path": path})
            _expect_error(answer, e.INVALID_PARAMS, f"content.read of {path}")
        listed = _expect_result(await channel.call("content.list", {}), "content.list")
        if not isinstance(listed, dict) or not isinstance(listed.get("paths"), list):
            raise _Failed(f"content.list must answer {{paths: [...]}}, got {_short(listed)}")
        declared = caps.get("content", {}).get("paths", [])
        if declared:
            first = declared[0]
            read = _expect_result(
                await channel.call("content.read", {"path": first}), f"content.read {first}"
            )
            if not isinstance(read, dict) or not isinstance(read.get("content"), str):
                raise _Failed(f"content.read {first} must answer {{content: string}}")
        return "'..' and absolute paths refused with -32602"

    async def cancel() -> str:
        stray = channel.new_id()
        await channel.send({"jsonrpc": "2.0", "method": "cancel", "params": {"id": stray}})
        request_id = channel.new_id()
        await channel.send_raw(
            orjson.dumps({"jsonrpc": "2.0", "id": request_id, "method": "ping"})
            + b"\n"
            + orjson.dumps({"jsonrpc": "2.0", "method": "cancel", "params": {"id": request_id}})
            + b"\n"
        )
        first = await channel.wait_for(request_id, ANSWER_TIMEOUT_S, "a ping cancelled at once")
        if "error" in first:
            _expect_error(first, e.CANCELLED, "a cancelled request")
        extra = await channel.answers_for(request_id, SILENCE_WINDOW_S)
        if extra:
            raise _Failed(f"request {request_id} was answered twice after cancel")
        if await channel.answers_for(stray, 0):
            raise _Failed("a cancel for an id not in flight was answered; notifications get no answer")
        _expect_result(await channel.call("ping"), "ping after cancel")
        return "answered once (result or -32002); unknown ids ignored"

    await check("ping", ping)
    await check("unknown method", unknown_method)
    await check("malformed line, then a valid request", malformed_line)
    await check("batch refused", batch)
    await check("unknown tool", unknown_tool)
    await check("invalid input", invalid_input)
    await check("content traversal", traversal)
    await check("cancel", cancel)

    async def stdout_clean() -> str:
        if channel.garbage:
            raise _Failed(f"stdout carried non-protocol output: {channel.garbage[0]!r}")
        return "only JSON-RPC messages"

    await check("stdout holds only protocol messages", stdout_clean)

    async def exit_on_eof() -> str:
        channel.process.stdin.close()  # type: ignore[union-attr]
        started = time.monotonic()
        try:
            code = await asyncio.wait_for(channel.process.wait(), EXIT_GRACE_S)
        except TimeoutError:
            raise _Failed(f"still running {EXIT_GRACE_S:g}s after stdin closed") from None
        return f"exited with code {code} after {time.monotonic() - started:.2f}s"

    await check("exit on EOF within the grace period", exit_on_eof)


async def run_conformance(
    command: Sequence[str], *, cwd: str | None = None, env: dict[str, str] | None = None
) -> ConformanceReport:
    """Start ``command``, run every check against it, and stop it."""
    report = ConformanceReport(command=list(command))
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,
            limit=MAX_ANSWER_BYTES,
        )
    except OSError as exc:
        report.checks.append(Check("start", False, f"cannot start {command[0]!r}: {exc}"))
        return report
    channel = _Channel(process)
    try:
        await _run_checks(channel, report)
    finally:
        await _stop(process)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(channel.reading, channel.draining), REAP_TIMEOUT_S)
        report.stderr_tail = list(channel.stderr)
    return report


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.stdin is not None and not process.stdin.is_closing():
        process.stdin.close()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # the whole group: no child may outlive the check
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(process.wait(), REAP_TIMEOUT_S)


def format_report(report: ConformanceReport) -> str:
    """The pass/fail table, one line per check, and the stderr tail on failure."""
    width = max((len(c.name) for c in report.checks), default=10)
    lines = [f"conformance: {' '.join(report.command)}"]
    for check in report.checks:
        status = "SKIP" if check.skipped else "PASS" if check.passed else "FAIL"
        lines.append(f"  {status}  {check.name:<{width}}  {check.detail}")
    failed = report.failed()
    if failed or not report.checks:
        lines.append(f"FAILED: {len(failed)} of {len(report.checks)} checks")
        if report.stderr_tail:
            lines.append("service stderr (last lines):")
            lines.extend(f"  | {line}" for line in report.stderr_tail)
    else:
        lines.append(f"PASSED: all {len(report.checks)} checks")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m amplifier_ipc_protocol.conformance -- <command...>``."""
    parser = argparse.ArgumentParser(
        prog="python -m amplifier_ipc_protocol.conformance",
        description="Check a service command against the amplifier-ipc wire protocol.",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the service command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.print_usage(sys.stderr)
        sys.stderr.write("error: give the service command after --, e.g. -- amplifier-foundation-serve\n")
        return 2
    report = loops.run(run_conformance(command))
    print(format_report(report))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
