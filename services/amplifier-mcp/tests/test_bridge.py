"""The MCP bridge against real MCP servers from PyPI (mcp-server-time,
mcp-server-git) and one built on the official SDK for timeouts, content
types and stubborn processes."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from amplifier_ipc_protocol import ProtocolError
from amplifier_ipc_protocol.testing import HostDouble, alive, python_service

MODULE = "amplifier_mcp"
FIXTURE_SERVER = Path(__file__).parent / "fixtures" / "fixture_mcp_server.py"
# Bounds waits on things that happen in another process.
DEADLINE_S = 15.0
# Long enough to be sure the timeout, not the tool, ends the call.
NEVER_S = 600


def server_command(name: str) -> str:
    """The PyPI server's script, installed in the dev venv by the mcp service's dev group."""
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} is not installed; run `uv sync --all-packages` (it is in amplifier-mcp's dev group)"
        )
    return found


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "repo").mkdir()
    git = ["git", "-C", str(tmp_path / "repo"), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "repo" / "hello.txt").write_text("hello\n")
    subprocess.run([*git, "add", "hello.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first commit"], check=True)
    return tmp_path


def time_server() -> dict[str, Any]:
    return {"name": "time", "command": server_command("mcp-server-time"), "args": ["--local-timezone", "UTC"]}


def git_server(work: Path) -> dict[str, Any]:
    return {
        "name": "git",
        "command": server_command("mcp-server-git"),
        "args": ["--repository", str(work / "repo")],
    }


def fixture_server(*extra: str, name: str = "fixture", **fields: Any) -> dict[str, Any]:
    return {"name": name, "command": sys.executable, "args": [str(FIXTURE_SERVER), *extra], **fields}


def config(*servers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"mcp": {"servers": list(servers), **fields}}


def tool_names(host: HostDouble) -> list[str]:
    return [t["name"] for t in host.describe["capabilities"]["tools"]]


async def call(host: HostDouble, name: str, **input: Any) -> dict[str, Any]:
    return await host.execute_tool(name, input)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_bytes()
            except OSError:
                continue
            if int(stat[stat.rfind(b")") + 2 :].split()[1]) == pid:
                found.append(int(entry))
    return found


async def until(condition: Any, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not happen within {DEADLINE_S}s")
        await asyncio.sleep(0.02)


async def test_describe_offers_every_tool_of_every_server_with_its_schema(work: Path) -> None:
    async with python_service(
        MODULE, cwd=work, home=work, config=config(time_server(), git_server(work))
    ) as host:
        tools = {t["name"]: t for t in host.describe["capabilities"]["tools"]}
    assert {"time__get_current_time", "time__convert_time", "git__git_status", "git__git_log"} <= set(tools)
    assert "warnings" not in host.describe, "all servers started: nothing to warn about"
    assert tools["git__git_status"]["input_schema"]["required"] == ["repo_path"]
    assert tools["time__get_current_time"]["description"].startswith("[MCP time] ")


async def test_calls_reach_the_real_servers(work: Path) -> None:
    async with python_service(
        MODULE, cwd=work, home=work, config=config(time_server(), git_server(work))
    ) as host:
        now = await call(host, "time__get_current_time", timezone="Europe/Paris")
        log = await call(host, "git__git_log", repo_path=str(work / "repo"))
    assert now["success"] is True
    assert json.loads(now["output"])["timezone"] == "Europe/Paris"
    assert log["success"] is True and "first commit" in log["output"]


async def test_an_error_result_is_a_failed_tool_result_the_model_can_read(work: Path) -> None:
    async with python_service(MODULE, cwd=work, home=work, config=config(time_server())) as host:
        result = await call(host, "time__get_current_time", timezone="Not/AZone")
    assert result["success"] is False
    assert result["error"]["type"] == "McpToolError"
    assert "Not/AZone" in result["error"]["message"]


async def test_a_server_that_fails_to_start_is_named_and_the_others_still_work(work: Path) -> None:
    missing = {"name": "missing", "command": str(work / "no-such-server")}
    crashing = {
        "name": "crashing",
        "command": sys.executable,
        "args": ["-c", "import sys; sys.stderr.write('bad flag\\n'); sys.exit(3)"],
    }
    async with python_service(
        MODULE, cwd=work, home=work, config=config(missing, time_server(), crashing)
    ) as host:
        names = tool_names(host)
        now = await call(host, "time__get_current_time", timezone="UTC")
        log = "\n".join(host.stderr)
    assert names and all(n.startswith("time__") for n in names)
    assert now["success"] is True
    assert "MCP server 'missing' failed to start" in log and "was not found" in log
    assert "MCP server 'crashing' failed to start" in log and "bad flag" in log
    warnings = host.describe["warnings"]  # what the Host shows the user, not only the log
    assert len(warnings) == 2
    assert any("MCP server 'missing' failed to start" in w and "was not found" in w for w in warnings)
    assert any("MCP server 'crashing' failed to start" in w and "bad flag" in w for w in warnings)


async def test_when_no_server_starts_describe_fails_naming_each(work: Path) -> None:
    broken = {"name": "broken", "command": str(work / "nothing-here")}
    with pytest.raises(ProtocolError) as caught:
        async with python_service(MODULE, cwd=work, home=work, config=config(broken)):
            pass
    assert "no MCP server started" in caught.value.message
    assert "broken" in caught.value.message


async def test_a_call_that_times_out_fails_and_the_server_is_told_to_cancel(work: Path) -> None:
    marker = work / "cancelled"
    slow = fixture_server("--marker", str(marker), timeout=0.5)
    async with python_service(MODULE, cwd=work, home=work, config=config(slow)) as host:
        result = await call(host, "fixture__wait", seconds=NEVER_S)
        await until(marker.exists, "the server seeing notifications/cancelled")
        again = await call(host, "fixture__wait", seconds=0)
    assert result["success"] is False
    assert result["error"]["type"] == "Timeout"
    assert "did not answer within 0.5s" in result["error"]["message"]
    assert again["success"] is True and again["output"] == "waited 0.0"


async def test_image_and_resource_content_become_blocks(work: Path) -> None:
    async with python_service(MODULE, cwd=work, home=work, config=config(fixture_server())) as host:
        result = await call(host, "fixture__picture")
    assert result["success"] is True
    text, image, resource = result["output"]
    assert text == {"type": "text", "text": "a pixel"}
    assert image["type"] == "image" and image["source"]["media_type"] == "image/png"
    assert image["source"]["type"] == "base64" and image["source"]["data"]
    assert resource == {
        "type": "resource",
        "uri": "file:///notes.txt",
        "mime_type": "text/plain",
        "text": "notes",
    }


async def test_no_server_process_is_left_after_the_service_exits(work: Path) -> None:
    servers = config(time_server(), git_server(work), fixture_server("--stubborn", name="stubborn"))
    async with python_service(MODULE, cwd=work, home=work, config=servers) as host:
        assert host.process is not None
        children = children_of(host.process.pid)
        assert len(children) == 3
    for pid in children:
        await until(lambda pid=pid: not alive(pid), f"MCP server process {pid} exiting")


async def test_a_wrong_server_entry_is_left_out_with_a_reason(work: Path) -> None:
    entries = config(time_server(), {"name": "bad name!", "command": "x"}, {"name": "nocmd"})
    async with python_service(MODULE, cwd=work, home=work, config=entries) as host:
        names = tool_names(host)
        log = "\n".join(host.stderr)
    assert names and all(n.startswith("time__") for n in names)
    assert "servers[1].name must be 1-32 letters" in log
    assert "mcp server 'nocmd': command must be the program to run" in log
    warnings = host.describe["warnings"]
    assert any(
        w.startswith("MCP server left out: ") and "servers[1].name must be 1-32" in w for w in warnings
    )
    assert any("mcp server 'nocmd': command must be the program to run" in w for w in warnings)


async def test_an_unknown_config_field_fails_describe(work: Path) -> None:
    with pytest.raises(ProtocolError) as caught:
        async with python_service(MODULE, cwd=work, home=work, config={"mcp": {"server": []}}):
            pass
    assert "unknown fields server" in caught.value.message


async def test_env_values_may_name_variables_the_service_was_given(work: Path) -> None:
    entry = time_server() | {"env": {"TOKEN": "${NOT_GIVEN_TO_THE_SERVICE}"}}
    async with python_service(MODULE, cwd=work, home=work, config=config(entry, fixture_server())) as host:
        names = tool_names(host)
        log = "\n".join(host.stderr)
    assert not any(n.startswith("time__") for n in names)
    assert "${NOT_GIVEN_TO_THE_SERVICE}, which is not set for the mcp service" in log
