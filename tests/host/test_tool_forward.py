"""The Host passes request.tool_execute on without a task (router.py,
``_tool_forward``): what it does when the caller withdraws the call, when
the tool's service times out or goes away, and the running-tools count."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from amplifier_ipc_protocol import methods as m
from amplifier_ipc_protocol.errors import ComponentNotFound, RequestTimeout, ServiceGone
from amplifier_ipc_protocol.peer import Peer
from amplifier_ipc_protocol.stdio import open_wire

from amplifier_ipc.host.config import HostLimits
from amplifier_ipc.host.router import Router
from amplifier_ipc.host.routing import ToolRoute

# Every wait here is bounded by this; nothing should take a fraction of it.
DEADLINE_S = 20.0


class _Service:
    """What the router needs of a ServiceProcess: its peer."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer


async def _pair(name: str, left: dict[str, Any], right: dict[str, Any]) -> tuple[Peer, Peer]:
    a_read, b_write = os.pipe()
    b_read, a_write = os.pipe()
    a = Peer(*(await open_wire(a_read, a_write)), name=f"{name}-a", handlers=left, report=lambda t: None)  # type: ignore[misc]
    b = Peer(*(await open_wire(b_read, b_write)), name=name, handlers=right, report=lambda t: None)  # type: ignore[misc]
    a.start()
    b.start()
    return a, b


class Rig:
    """An orchestrator peer -> the Router -> a tool service peer, over real pipes."""

    def __init__(self, tool_timeout: float = DEADLINE_S) -> None:
        self.router = Router(
            session_id="s", model=None, limits=HostLimits(tool_timeout=tool_timeout), emit=lambda k, d: None
        )
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()

    async def tool(self, params: dict[str, Any]) -> Any:
        if params["name"] == "echo":
            return {"success": True, "output": params["input"]["text"], "error": None}
        self.started.set()
        try:
            await asyncio.sleep(DEADLINE_S * 2)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return None

    async def start(self) -> Rig:
        self.host_side, self.service = await _pair("tools", {}, {m.TOOL_EXECUTE: self.tool})
        self.router.services["tools"] = _Service(self.host_side)  # type: ignore[assignment]
        for name in ("echo", "hang"):
            self.router.table.tools[name] = ToolRoute(service="tools", spec={"name": name})
        self.orchestrator, self.host_for_core = await _pair("core", {}, self.router.handlers_for("core"))
        return self

    async def close(self) -> None:
        for peer in (self.orchestrator, self.host_for_core, self.host_side, self.service):
            await peer.close()


async def test_a_routed_call_returns_the_tools_answer_and_unknown_tools_are_named() -> None:
    rig = await Rig().start()
    call = {"name": "echo", "input": {"text": "hi"}}
    assert (await rig.orchestrator.request(m.REQUEST_TOOL_EXECUTE, call, timeout=DEADLINE_S))[
        "output"
    ] == "hi"
    with pytest.raises(ComponentNotFound, match="echo, hang"):
        await rig.orchestrator.request(m.REQUEST_TOOL_EXECUTE, {"name": "nope"}, timeout=DEADLINE_S)
    assert not rig.router.running_tools
    await rig.close()


async def test_a_call_the_orchestrator_withdraws_is_cancelled_in_the_tools_service() -> None:
    rig = await Rig().start()
    call = asyncio.ensure_future(
        rig.orchestrator.request(m.REQUEST_TOOL_EXECUTE, {"name": "hang", "input": {}})
    )
    await asyncio.wait_for(rig.started.wait(), DEADLINE_S)
    assert rig.router.running_tools == {"hang": 1}
    call.cancel()  # the orchestrator sends cancel for its request
    await asyncio.wait_for(rig.cancelled.wait(), DEADLINE_S)
    assert not rig.router.running_tools
    await rig.close()


async def test_a_tool_past_the_tool_timeout_is_cancelled_and_the_error_says_how_to_raise_it() -> None:
    rig = await Rig(tool_timeout=0.2).start()
    with pytest.raises(RequestTimeout, match="--tool-timeout") as timed_out:
        await rig.orchestrator.request(
            m.REQUEST_TOOL_EXECUTE, {"name": "hang", "input": {}}, timeout=DEADLINE_S
        )
    assert timed_out.value.data["tool"] == "hang"
    await asyncio.wait_for(rig.cancelled.wait(), DEADLINE_S)
    assert not rig.router.running_tools
    await rig.close()


async def test_a_tool_service_that_goes_away_mid_call_is_named_in_the_error() -> None:
    rig = await Rig().start()
    call = asyncio.ensure_future(
        rig.orchestrator.request(m.REQUEST_TOOL_EXECUTE, {"name": "hang", "input": {}}, timeout=DEADLINE_S)
    )
    await asyncio.wait_for(rig.started.wait(), DEADLINE_S)
    await rig.service.close()  # the service's end of the pipe closes
    with pytest.raises(ServiceGone, match="service tools exited during tool hang"):
        await call
    assert not rig.router.running_tools
    await rig.close()
