"""The Host test double of ``amplifier_ipc_protocol.testing``, against the
sample service and a small probe service written for each test."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from amplifier_ipc_protocol.errors import InternalError, MethodNotFound, ProviderError
from amplifier_ipc_protocol.testing import (
    HostDouble,
    alive,
    python_module,
    python_service,
    run_service,
    service_env,
    start_service,
)

FIXTURES = Path(__file__).parent / "fixtures"
# Bounds the wait for a killed orphan to disappear; it dies at once.
ORPHAN_GONE_S = 5.0

# A service whose one tool asks the Host for what its input names.
PROBE_TOOL = """
from typing import Any

from amplifier_ipc_protocol import tool


@tool
class Ask:
    name = "ask"
    description = "Ask the Host something."

    @property
    def input_schema(self) -> dict[str, Any]:
        return {"type": "object", "properties": {"what": {"type": "string"}}, "required": ["what"]}

    async def execute(self, input: dict[str, Any]) -> Any:
        what = input["what"]
        if what == "state":
            return await self.host.state_get("probe.key")
        if what == "hook":
            return await self.host.hook_emit("probe:event", {"session_id": "s", "n": 1})
        if what == "provider":
            return await self.host.provider_complete({"messages": [{"role": "user", "content": "hi"}]})
        if what == "approval":
            return await self.host.approval("go on?", ["allow", "deny"], default="allow")
        if what == "spawn":
            return await self.host.session_spawn("helper", "do it")
        return await self.host.tool_execute("ask", {"what": "state"})
"""


@pytest.fixture
def packages(tmp_path: Path) -> Path:
    """A folder on the service's PYTHONPATH holding the ``probe_svc`` package."""
    folder = tmp_path / "pkgs"
    (folder / "probe_svc" / "tools").mkdir(parents=True)
    (folder / "probe_svc" / "__init__.py").write_text("")
    (folder / "probe_svc" / "__main__.py").write_text(
        "from amplifier_ipc_protocol import Server\n\nServer('probe_svc').run()\n"
    )
    (folder / "probe_svc" / "tools" / "ask.py").write_text(PROBE_TOOL)
    return folder


@pytest.fixture
def env(tmp_path: Path, packages: Path) -> dict[str, str]:
    path = os.pathsep.join([str(FIXTURES), str(packages), *sys.path])
    return service_env(home=tmp_path / "home", extra={"PYTHONPATH": path})


async def test_describe_configure_and_a_tool_reach_the_sample_service(
    tmp_path: Path, env: dict[str, str]
) -> None:
    async with run_service(python_module("sample_svc"), cwd=tmp_path, env=env) as host:
        configured = await host.configure({"echo": {}})
        added = await host.execute_tool("add", {"a": 1})
        tools = [t["name"] for t in host.describe["capabilities"]["tools"]]
    assert host.describe["name"] == "sample-svc"
    assert sorted(tools) == ["add", "echo"]
    assert configured == {"ok": True}
    assert added == {"success": True, "output": 3, "error": None}
    assert host.process.returncode == 0


async def test_state_handed_to_the_next_process_is_the_next_turn(tmp_path: Path, env: dict[str, str]) -> None:
    state: dict[str, Any] = {}
    async with run_service(python_module("sample_svc"), cwd=tmp_path, env=env, state=state) as first:
        await first.execute_tool("echo", {"text": "state"})
    written = state["echo"]
    state["probe.key"] = "from the first turn"
    async with run_service(python_module("probe_svc"), cwd=tmp_path, env=env, state=state) as second:
        read = await second.execute_tool("ask", {"what": "state"})
    assert written["pid"] == first.process.pid
    assert second.process.pid != first.process.pid
    assert read["output"] == "from the first turn"


async def test_a_tool_the_service_asks_the_host_for_is_run_by_the_same_service(
    tmp_path: Path, env: dict[str, str]
) -> None:
    async with run_service(python_module("sample_svc"), cwd=tmp_path, env=env) as host:
        answer = await host.call(
            "orchestrator.execute",
            {"prompt": "tool", "system_prompt": "", "session_id": "s", "config": {}},
        )
    assert answer == {"response": "via host"}
    assert host.tool_calls == [("echo", {"text": "via host"})]


async def test_a_tool_handler_of_the_test_answers_instead_of_the_service(
    tmp_path: Path, env: dict[str, str]
) -> None:
    async def fake_state(tool_input: dict[str, Any]) -> dict[str, Any]:
        return {"success": True, "output": f"handled {tool_input['what']}", "error": None}

    async with run_service(python_module("probe_svc"), cwd=tmp_path, env=env) as host:
        host.tool_handlers["ask"] = fake_state
        answer = await host.execute_tool("ask", {"what": "route"})
    assert answer == {"success": True, "output": "handled state", "error": None}
    assert host.tool_calls == [("ask", {"what": "state"})]


async def test_hook_emits_are_recorded_and_answered_continue_unless_scripted(
    tmp_path: Path, env: dict[str, str]
) -> None:
    async with run_service(python_module("probe_svc"), cwd=tmp_path, env=env) as host:
        default = await host.execute_tool("ask", {"what": "hook"})
        host.hook_results["probe:event"] = lambda data: {"action": "DENY", "reason": f"n={data['n']}"}
        scripted = await host.execute_tool("ask", {"what": "hook"})
    assert default["output"] == {"action": "CONTINUE", "data": {"session_id": "s", "n": 1}}
    assert scripted["output"] == {"action": "DENY", "reason": "n=1"}
    assert host.event_names() == ["probe:event", "probe:event"]


async def test_provider_requests_are_answered_from_the_scripted_replies_in_order(
    tmp_path: Path, env: dict[str, str]
) -> None:
    async def computed(request: dict[str, Any], double: HostDouble) -> dict[str, Any]:
        return {"content": [{"type": "text", "text": f"seen {len(double.provider_requests)}"}]}

    async with run_service(python_module("probe_svc"), cwd=tmp_path, env=env) as host:
        host.provider_replies += [
            {"content": [{"type": "text", "text": "first"}]},
            computed,
            ProviderError("vendor down", data={"retryable": True}),
        ]
        first = await host.execute_tool("ask", {"what": "provider"})
        second = await host.execute_tool("ask", {"what": "provider"})
        with pytest.raises(ProviderError, match="vendor down"):
            await host.execute_tool("ask", {"what": "provider"})
        with pytest.raises(InternalError, match="scripted no reply for provider request 4"):
            await host.execute_tool("ask", {"what": "provider"})
    assert first["output"]["content"][0]["text"] == "first"
    assert second["output"]["content"][0]["text"] == "seen 2"
    assert host.provider_requests[0] == {"messages": [{"role": "user", "content": "hi"}]}


async def test_approvals_pop_the_scripted_decisions_then_answer_the_default(
    tmp_path: Path, env: dict[str, str]
) -> None:
    async with run_service(python_module("probe_svc"), cwd=tmp_path, env=env) as host:
        host.approvals.append("deny")
        scripted = await host.execute_tool("ask", {"what": "approval"})
        default = await host.execute_tool("ask", {"what": "approval"})
    assert (scripted["output"], default["output"]) == ("deny", "allow")
    assert host.approval_requests[0]["prompt"] == "go on?"


async def test_a_child_session_request_is_refused_saying_how_to_provide_one(
    tmp_path: Path, env: dict[str, str]
) -> None:
    async with run_service(python_module("probe_svc"), cwd=tmp_path, env=env) as host:
        with pytest.raises(MethodNotFound, match=r"host\.on\(method, handler\)"):
            await host.execute_tool("ask", {"what": "spawn"})


async def test_a_handler_given_for_a_method_replaces_the_default(tmp_path: Path, env: dict[str, str]) -> None:
    handlers = {"state.get": lambda params: {"value": f"override of {params['key']}"}}
    async with run_service(python_module("probe_svc"), cwd=tmp_path, env=env, handlers=handlers) as host:
        read = await host.execute_tool("ask", {"what": "state"})
    assert read["output"] == "override of probe.key"


async def test_notifications_are_kept_and_can_be_waited_for(tmp_path: Path, env: dict[str, str]) -> None:
    async with run_service(python_module("sample_svc"), cwd=tmp_path, env=env) as host:
        request = {"messages": [{"role": "user", "content": "hello wide world"}]}
        await host.call("provider.complete", {"request": request})
        await host.wait_for(lambda: len(host.notified("stream.provider.token")) == 3, "three tokens")
        running = asyncio.ensure_future(
            host.call(
                "orchestrator.execute", {"prompt": "x", "system_prompt": "", "session_id": "s", "config": {}}
            )
        )
        await host.wait_for(lambda: bool(host.notified("stream.token")), "the orchestrator's token")
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    assert [p["text"] for p in host.notified("stream.provider.token")] == ["hello", "wide", "world"]
    assert host.notified("stream.token")[0]["text"] == "working"


async def test_waiting_for_what_never_comes_fails_naming_it(tmp_path: Path, env: dict[str, str]) -> None:
    async with run_service(python_module("sample_svc"), cwd=tmp_path, env=env) as host:
        with pytest.raises(AssertionError, match="waiting for a token that is never sent"):
            await host.wait_for(lambda: False, "a token that is never sent", timeout=0.2)


async def test_a_service_that_ignores_stdin_closing_is_killed_and_fails_the_test(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-c",
        "import sys, time; print('ignoring EOF', file=sys.stderr, flush=True); time.sleep(3600)",
    ]
    host = await start_service(command, cwd=tmp_path, name="stubborn")
    await host.wait_for(lambda: bool(host.stderr), "the service's stderr line")
    with pytest.raises(AssertionError, match=r"stubborn did not exit within 0\.3s(.|\n)*ignoring EOF"):
        await host.close(grace=0.3)
    assert host.process.returncode == -9


async def test_a_process_left_in_the_services_group_fails_the_test_and_is_killed(
    tmp_path: Path, env: dict[str, str]
) -> None:
    # The subshell starts sleep and exits: sleep is an orphan of the group that
    # the service cannot find among its children.
    command = ["sh", "-c", f"(sleep 3600 &) ; exec {sys.executable} -m sample_svc"]
    with pytest.raises(AssertionError, match=r"left processes of its group running \(pids (\d+)\)") as failed:
        async with run_service(command, cwd=tmp_path, env=env, name="leaky"):
            pass
    orphan = int(failed.value.args[0].split("pids ")[1].split(")")[0])
    await _wait_gone(orphan)


async def test_a_failing_test_body_is_not_hidden_by_the_teardown(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="the test's own failure"):
        async with run_service(python_module("sample_svc"), cwd=tmp_path, env=env) as host:
            raise ValueError("the test's own failure")
    assert host.process.returncode == 0


def test_the_service_environment_holds_the_base_set_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "not for a tool service")
    env = service_env(home=tmp_path, session_id="s1", extra={"EXTRA": "1"})
    assert "ANTHROPIC_API_KEY" not in env
    assert env["HOME"] == str(tmp_path)
    assert env["AMPLIFIER_HOME"] == str(tmp_path / ".amplifier")
    assert (env["AMPLIFIER_SESSION_ID"], env["EXTRA"]) == ("s1", "1")
    assert set(env) <= {
        "PATH",
        "LANG",
        "TERM",
        "TMPDIR",
        "HOME",
        "AMPLIFIER_HOME",
        "AMPLIFIER_SESSION_ID",
        "EXTRA",
    }


async def _wait_gone(pid: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ORPHAN_GONE_S
    while alive(pid):
        assert loop.time() < deadline, f"process {pid} still runs after its group was killed"
        await asyncio.sleep(0.01)


async def test_a_python_service_turn_runs_the_module_and_reaches_its_hook(tmp_path: Path) -> None:
    pythonpath = {"PYTHONPATH": os.pathsep.join([str(FIXTURES), *sys.path])}
    async with python_service("sample_svc", cwd=tmp_path, home=tmp_path, extra_env=pythonpath) as host:
        denied = await host.emit_hook("tool:pre", {"name": "forbidden"}, name="audit")
        modified = await host.emit_hook("tool:pre", {"name": "echo"})
    assert (denied["action"], denied["reason"]) == ("DENY", "forbidden tool")
    assert modified["data"] == {"name": "echo", "audited": True}
