"""Shared test helpers: the providers service as a real process, with the test
acting as its Host through the protocol library's Host double
(``amplifier_ipc_protocol.testing``), and loopback vendor servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from amplifier_ipc_protocol import ProviderError
from amplifier_ipc_protocol.testing import HostDouble, python_module, service_env

# How often the loopback server checks for shutdown; short so teardown is quick.
SERVER_POLL_SECONDS = 0.02

# One tool spec, in the ChatRequest's shape, that every vendor test offers.
TOOLS = [
    {
        "name": "bash",
        "description": "run",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
    }
]
# What the loopback vendor streams in the through-the-service tests.
SERVICE_ANSWER = "From the service."


def chat_request(**extra: Any) -> dict[str, Any]:
    """A ChatRequest of one user message and a system prompt, plus ``extra`` fields."""
    return {"messages": [{"role": "user", "content": "hi"}], "system": "Be brief.", **extra}


class ServiceHost(HostDouble):
    """Plays the Host for one providers-service process."""

    async def complete(self, provider: str, request: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.call(
            "provider.complete", {"provider": provider, "request": request}
        )
        return result

    def streamed(self, kind: str = "token") -> str:
        return "".join(p.get("text", "") for p in self.notified(f"stream.provider.{kind}"))


@pytest.fixture
async def service_factory(tmp_path: Any) -> AsyncIterator[Any]:
    """Start ``python -m amplifier_providers`` in ``tmp_path`` (or ``cwd``) with
    only ``env`` added to the Host's base environment; all are closed after the test."""
    started: list[ServiceHost] = []

    async def factory(
        env: dict[str, str] | None = None, state: dict[str, Any] | None = None, cwd: str | None = None
    ) -> ServiceHost:
        host = await ServiceHost.spawn(
            python_module("amplifier_providers"),
            cwd=cwd or str(tmp_path),
            env=service_env(extra=env),
            state=state,
        )
        started.append(host)
        return host

    yield factory
    for host in started:
        await host.close()


# -- loopback vendor servers ------------------------------------------------------


class Reply:
    """One canned HTTP answer: a JSON body, server-sent events, or JSON lines."""

    def __init__(
        self,
        status: int = 200,
        *,
        json_body: Any = None,
        sse: list[tuple[str | None, Any]] | None = None,
        ndjson: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.json_body = json_body
        self.sse = sse
        self.ndjson = ndjson
        self.headers = headers or {}

    def body(self) -> tuple[str, bytes]:
        import json as _json

        if self.sse is not None:
            chunks = []
            for event, data in self.sse:
                text = data if isinstance(data, str) else _json.dumps(data)
                prefix = f"event: {event}\n" if event else ""
                chunks.append(f"{prefix}data: {text}\n\n")
            return "text/event-stream", "".join(chunks).encode()
        if self.ndjson is not None:
            return "application/x-ndjson", "".join(_json.dumps(x) + "\n" for x in self.ndjson).encode()
        return "application/json", _json.dumps(self.json_body if self.json_body is not None else {}).encode()


class Received:
    """A request the loopback server received."""

    def __init__(self, method: str, path: str, headers: dict[str, str], body: Any) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body


class LoopbackVendor:
    """A stdlib HTTP server on 127.0.0.1 that answers queued ``Reply`` objects in
    order and keeps every request, so a test drives a vendor SDK for real."""

    def __init__(self) -> None:
        import http.server
        import json as _json
        import threading

        self.replies: list[Reply] = []
        self.received: list[Received] = []
        vendor = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = _json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                headers = {k.lower(): v for k, v in self.headers.items()}
                vendor.received.append(Received(self.command, self.path, headers, body))
                if vendor.replies:
                    reply = vendor.replies.pop(0)
                else:
                    reply = Reply(
                        599, json_body={"error": {"message": "the test queued no reply for this request"}}
                    )
                content_type, payload = reply.body()
                self.send_response(reply.status)
                self.send_header("content-type", content_type)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                if reply.sse is None and reply.ndjson is None:
                    self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()

            do_POST = _serve
            do_GET = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SERVER_POLL_SECONDS},
            name="loopback-vendor",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def queue(self, *replies: Reply | dict[str, Any]) -> None:
        """Queue answers, as ``Reply`` objects or their keyword arguments
        (``{"status": 429, "json_body": {...}, "headers": {...}}``, ``{"sse": [...]}``)."""
        self.replies.extend(r if isinstance(r, Reply) else Reply(**r) for r in replies)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def vendor() -> Any:
    server = LoopbackVendor()
    yield server
    server.close()


class RecordingHost:
    """Stands in for the HostClient when a provider runs inside the test process:
    keeps the stream notifications."""

    def __init__(self) -> None:
        self.notifications: list[tuple[str, dict[str, Any]]] = []

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        self.notifications.append((method, dict(params or {})))

    def streamed(self, kind: str = "token") -> str:
        return "".join(p.get("text", "") for m, p in self.notifications if m == f"stream.provider.{kind}")

    def kinds(self) -> list[str]:
        return [m.removeprefix("stream.provider.") for m, _ in self.notifications]


@pytest.fixture
def make_provider() -> Any:
    """Build a provider component in the test process, configured as the Server would."""

    def build(cls: type, config: dict[str, Any]) -> Any:
        instance = cls()
        instance.host = RecordingHost()
        instance.config = config
        instance.configure(config)
        return instance

    return build


async def assert_vendor_error_mapped(
    provider: Any,
    vendor: LoopbackVendor,
    reply: dict[str, Any],
    *,
    status: int,
    retryable: bool,
    retry_after: float | None,
    fragment: str,
    vendor_message: str = "vendor says no",
) -> None:
    """The vendor answers ``reply`` (an error); the provider raises a
    ProviderError carrying the retry data, a message with ``fragment`` and the
    vendor's own words, after one request (the SDK's own retries are off)."""
    vendor.queue(reply)
    with pytest.raises(ProviderError) as info:
        await provider.complete(chat_request())
    data = info.value.data
    assert (data["retryable"], data["retry_after"], data["status"]) == (retryable, retry_after, status)
    assert fragment in info.value.message and vendor_message in info.value.message
    assert len(vendor.received) == 1


@pytest.fixture
def through_the_service(service_factory: Any, vendor: LoopbackVendor) -> Any:
    """``await through_the_service(provider, reply, config=, env=)``: a real service
    process, configured for ``provider`` with ``config``, completes a request
    against the loopback vendor answering ``reply`` (which streams
    SERVICE_ANSWER); the answer comes back both as the response and as the
    stream notifications relayed to the Host."""

    async def complete(
        provider: str, reply: dict[str, Any], *, config: dict[str, Any], env: dict[str, str] | None = None
    ) -> None:
        vendor.queue(reply)
        host = await service_factory(env=env)
        await host.configure({provider: config})
        response = await host.complete(provider, chat_request())
        assert response["content"] == [{"type": "text", "text": SERVICE_ANSWER}]
        assert host.streamed() == SERVICE_ANSWER

    return complete
