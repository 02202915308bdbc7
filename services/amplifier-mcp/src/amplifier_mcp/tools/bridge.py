"""The MCP bridge: every tool of every configured MCP server, offered as
``<server>__<tool>`` (a tool set: its tools depend on config, listed at
describe time)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from amplifier_ipc_protocol import tool
from amplifier_ipc_protocol.schema import check_object_schema

from ..connection import McpConnection, StartFailed, tool_name_for
from ..results import failure, to_tool_result
from ..settings import BridgeSettings, ServerSpec, parse_settings


def _log(text: str) -> None:
    sys.stderr.write(f"[amplifier-mcp] {text}\n")


@tool
class McpBridge:
    name = "mcp"
    config: dict[str, Any]
    host: Any

    def __init__(self) -> None:
        self._settings: BridgeSettings | None = None
        self._connections: dict[str, McpConnection] = {}
        self._routes: dict[str, tuple[McpConnection, str]] = {}
        self._specs: list[dict[str, Any]] = []
        self._started = False
        self._lock = asyncio.Lock()
        self.failures: dict[str, str] = {}
        """Server name -> why it failed to start (also logged to stderr)."""

    def configure(self, config: dict[str, Any]) -> None:
        settings = parse_settings(config)  # a wrong top-level field fails configure/describe
        if settings != self._settings and self._started:
            raise ValueError("the mcp servers are already running; the config cannot change within a turn")
        self._settings = settings

    async def list_tools(self) -> list[dict[str, Any]]:
        await self._ensure_started()
        return list(self._specs)

    def warnings(self) -> list[str]:
        """Servers left out or failed while others started (describe ``warnings``)."""
        settings = self._settings
        left_out = [f"MCP server left out: {problem}" for problem in (settings.problems if settings else [])]
        return left_out + list(self.failures.values())

    async def _ensure_started(self) -> None:
        async with self._lock:
            if self._started:
                return
            settings = self._settings or parse_settings(self.config or {})
            self._settings = settings
            self._started = True
            for problem in settings.problems:
                _log(f"left out: {problem}")
            specs = list(settings.servers)
            outcomes = await asyncio.gather(
                *(self._start(spec, settings.startup_timeout) for spec in specs), return_exceptions=True
            )
            for spec, outcome in zip(specs, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    reason = (
                        str(outcome)
                        if isinstance(outcome, StartFailed)
                        else f"{type(outcome).__name__}: {outcome}"
                    )
                    self.failures[spec.name] = reason
                    _log(reason)
            if specs and len(self.failures) == len(specs):
                from amplifier_ipc_protocol import InternalError

                reasons = "; ".join(self.failures.values())
                raise InternalError(
                    f"no MCP server started: {reasons}", data={"failed": sorted(self.failures)}
                )

    async def _start(self, spec: ServerSpec, timeout: float) -> None:
        connection = McpConnection(spec)
        try:
            await connection.start(timeout)
        except StartFailed as exc:
            raise StartFailed(f"MCP server {spec.name!r} failed to start: {exc}") from None
        self._connections[spec.name] = connection
        for mcp_tool in connection.tools:
            name = tool_name_for(spec.name, mcp_tool.name)
            schema = mcp_tool.input_schema
            try:
                check_object_schema(schema, owner=f"MCP tool {mcp_tool.name} of server {spec.name}")
            except ValueError as exc:
                _log(f"left out: {exc}")
                continue
            if name in self._routes:
                _log(f"left out: MCP server {spec.name!r} offers two tools named {name!r}")
                continue
            self._routes[name] = (connection, mcp_tool.name)
            description = mcp_tool.description or mcp_tool.title or mcp_tool.name
            self._specs.append(
                {"name": name, "description": f"[MCP {spec.name}] {description}", "input_schema": schema}
            )

    async def execute(self, input: dict[str, Any], *, name: str) -> dict[str, Any]:
        route = self._routes.get(name)
        if route is None:
            return failure(f"no MCP tool named {name!r}", "ComponentNotFound")
        connection, mcp_name = route
        session = connection.session
        if session is None:
            return failure(f"MCP server {connection.spec.name!r} is not running", "McpServerGone")
        from mcp import MCPError
        from mcp.types import REQUEST_TIMEOUT

        # The Server runs a handler's first step inline in its reader task and
        # moves the rest to a new task at the first suspension; an anyio cancel
        # scope (the SDK's request timeout) entered before that switch would be
        # exited in another task, which anyio refuses. Suspend once first.
        await asyncio.sleep(0)

        timeout = connection.spec.call_timeout
        try:
            result = await session.call_tool(mcp_name, input, read_timeout_seconds=timeout)
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                return failure(
                    f"MCP tool {mcp_name!r} of server {connection.spec.name!r} did not answer within "
                    f"{timeout:g}s; the call was cancelled (notifications/cancelled sent)",
                    "Timeout",
                )
            return failure(
                f"MCP server {connection.spec.name!r} refused {mcp_name!r}: {exc.error.message} (code {exc.code})",
                "McpError",
            )
        return to_tool_result(result)

    async def aclose(self) -> None:
        connections = list(self._connections.values())
        self._connections.clear()
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)
