"""Helpers shared by the protocol tests (imported by them; conftest.py puts
this folder on sys.path): peers over real pipes, a peer driven with raw
bytes, and the sample service as a real subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amplifier_ipc_protocol.peer import Handler, Peer
from amplifier_ipc_protocol.stdio import open_wire

FIXTURES = Path(__file__).parent / "fixtures"
if str(FIXTURES) not in sys.path:
    sys.path.insert(0, str(FIXTURES))

# Every wait in these tests is bounded by this deadline; nothing here should
# take more than a fraction of it on a loaded machine.
DEADLINE_S = 20.0
# After the test, the service gets this long to exit before its group is killed.
STOP_GRACE_S = 5.0


async def peer_pair(
    left_handlers: dict[str, Handler] | None = None,
    right_handlers: dict[str, Handler] | None = None,
    **options: Any,
) -> tuple[Peer, Peer]:
    """Two started Peers talking over two real pipes."""
    a_read, b_write = os.pipe()
    b_read, a_write = os.pipe()
    a_reader, a_writer = await open_wire(a_read, a_write)
    b_reader, b_writer = await open_wire(b_read, b_write)
    left = Peer(a_reader, a_writer, name="left", handlers=left_handlers, **options)  # type: ignore[arg-type]
    right = Peer(b_reader, b_writer, name="right", handlers=right_handlers, **options)  # type: ignore[arg-type]
    left.start()
    right.start()
    return left, right


async def close_pair(*peers: Peer) -> None:
    for peer in peers:
        await peer.close()
    for peer in peers:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(peer.wait_closed(), DEADLINE_S)


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = DEADLINE_S) -> None:
    """Poll ``condition`` on the loop until it holds, failing after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


class SampleService:
    """The sample service running as a real subprocess, with a Host-side Peer."""

    def __init__(self, process: asyncio.subprocess.Process, peer: Peer, stderr: list[bytes]) -> None:
        self.process = process
        self.peer = peer
        self.stderr = stderr
        self.state: dict[str, Any] = {}
        self.notifications: list[tuple[str, dict[str, Any]]] = []
        self.draining: asyncio.Future[None] | None = None

    def stderr_text(self) -> str:
        return b"".join(self.stderr).decode("utf-8", errors="replace")

    async def write_raw(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        await self.process.stdin.drain()


def service_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FIXTURES), env.get("PYTHONPATH", "")]))
    return env


async def start_service(
    module: str = "sample_svc",
    host_handlers: dict[str, Handler] | None = None,
    on_bad_line: Callable[[str], None] | None = None,
) -> SampleService:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=service_env(),
        start_new_session=True,
    )
    stderr: list[bytes] = []

    async def drain() -> None:
        assert process.stderr is not None
        while chunk := await process.stderr.read(65536):
            stderr.append(chunk)

    draining = asyncio.ensure_future(drain())
    state: dict[str, Any] = {}
    notifications: list[tuple[str, dict[str, Any]]] = []

    def state_get(params: dict[str, Any]) -> dict[str, Any]:
        return {"value": state.get(params["key"])}

    def state_set(params: dict[str, Any]) -> dict[str, Any]:
        state[params["key"]] = params["value"]
        return {"ok": True}

    def record(method: str, params: dict[str, Any]) -> None:
        notifications.append((method, params))

    handlers: dict[str, Handler] = {"state.get": state_get, "state.set": state_set, **(host_handlers or {})}
    peer = Peer(
        process.stdout,  # type: ignore[arg-type]
        process.stdin,  # type: ignore[arg-type]
        name=module,
        handlers=handlers,
        on_notification=record,
        report=on_bad_line or (lambda text: None),
    )
    service = SampleService(process, peer, stderr)
    service.draining = draining
    service.state = state
    service.notifications = notifications
    peer.start()
    return service


async def piped_to_service(
    requests: list[dict[str, Any]], env: dict[str, str] | None = None
) -> tuple[dict[Any, dict[str, Any]], int | None]:
    """``requests`` piped into the sample service, then EOF, as ``echo REQUEST |
    service`` does: its answers by id, and its exit code."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sample_svc",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**service_env(), **(env or {})},
    )
    data = b"".join(json.dumps(request).encode() + b"\n" for request in requests)
    out, _ = await asyncio.wait_for(process.communicate(data), DEADLINE_S)
    return {answer["id"]: answer for answer in map(json.loads, out.splitlines())}, process.returncode


async def stop_service(service: SampleService) -> None:
    process = service.process
    if process.stdin is not None and not process.stdin.is_closing():
        process.stdin.close()
    try:
        await asyncio.wait_for(process.wait(), STOP_GRACE_S)
    except TimeoutError:
        pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    await asyncio.wait_for(process.wait(), DEADLINE_S)


class RawSide:
    """The far end of a Peer as raw bytes: write any bytes, read answers as dicts."""

    def __init__(self, peer: Peer, write_fd: int, reader: Any) -> None:
        self.peer = peer
        self._write_fd = write_fd
        self._reader = reader
        self._splitter_buffer = b""

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._write_fd, view) :]

    async def send_async(self, data: bytes) -> None:
        """Send without blocking the loop (for payloads larger than the pipe buffer)."""
        await asyncio.get_running_loop().run_in_executor(None, self.send, data)

    async def receive(self, timeout: float = DEADLINE_S) -> dict[str, Any]:
        import orjson

        line = await asyncio.wait_for(self._reader.readline(), timeout)
        if not line:
            raise AssertionError("the peer closed its end")
        value = orjson.loads(line)
        assert isinstance(value, dict)
        return value

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._write_fd)


async def raw_peer(handlers: dict[str, Handler] | None = None, **options: Any) -> RawSide:
    """A started Peer whose other end is driven with raw bytes by the test."""
    peer_read, raw_write = os.pipe()
    raw_read, peer_write = os.pipe()
    reader, writer = await open_wire(peer_read, peer_write)
    peer = Peer(reader, writer, name="peer", handlers=handlers, report=lambda text: None, **options)  # type: ignore[arg-type]
    peer.start()
    answers = asyncio.StreamReader(limit=2**31 - 1)
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(answers), os.fdopen(raw_read, "rb", buffering=0)
    )
    return RawSide(peer, raw_write, answers)


def make_package(root: Path, files: dict[str, str]) -> str:
    """Write a uniquely named service package under ``root`` and make it
    importable; ``files`` maps paths inside the package to their text."""
    import textwrap
    import uuid

    name = f"svc_{uuid.uuid4().hex[:10]}"
    base = root / name
    base.mkdir(parents=True)
    (base / "__init__.py").write_text("")
    for relative, text in files.items():
        path = base / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return name


class InProcessService:
    """A Server serving a package over real pipes inside the test's loop, with
    a Host-side Peer that answers state.get/state.set and records notifications."""

    def __init__(self, host: Peer, serving: asyncio.Future[None], state: dict[str, Any]) -> None:
        self.host = host
        self.serving = serving
        self.state = state
        self.notifications: list[tuple[str, dict[str, Any]]] = []

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return await self.host.request(method, params, timeout=DEADLINE_S)

    async def close(self) -> None:
        await self.host.close()
        await asyncio.wait_for(self.serving, DEADLINE_S)


async def serve_in_process(package: str, host_handlers: dict[str, Handler] | None = None) -> InProcessService:
    from amplifier_ipc_protocol.server import Server

    host_read, server_write = os.pipe()
    server_read, host_write = os.pipe()
    server_reader, server_writer = await open_wire(server_read, server_write)
    host_reader, host_writer = await open_wire(host_read, host_write)
    state: dict[str, Any] = {}

    def state_get(params: dict[str, Any]) -> dict[str, Any]:
        return {"value": state.get(params["key"])}

    def state_set(params: dict[str, Any]) -> dict[str, Any]:
        state[params["key"]] = params["value"]
        return {"ok": True}

    notifications: list[tuple[str, dict[str, Any]]] = []
    host = Peer(
        host_reader,  # type: ignore[arg-type]
        host_writer,  # type: ignore[arg-type]
        name="host",
        handlers={"state.get": state_get, "state.set": state_set, **(host_handlers or {})},
        on_notification=lambda method, params: notifications.append((method, params)),
    )
    host.start()
    serving = asyncio.ensure_future(Server(package).serve(server_reader, server_writer))
    service = InProcessService(host, serving, state)
    service.notifications = notifications
    return service
