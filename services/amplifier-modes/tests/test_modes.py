"""The modes service through a real process, with a test-side Host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from amplifier_ipc_protocol.testing import HostDouble, python_service

MODULE = "amplifier_modes"


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    work = tmp_path / "work"
    home = tmp_path / "home"
    work.mkdir()
    home.mkdir()
    return work, home


async def mode(host: HostDouble, **input: Any) -> dict[str, Any]:
    return await host.execute_tool("mode", input)


async def emit(host: HostDouble, event: str, data: dict[str, Any]) -> dict[str, Any]:
    return await host.emit_hook(event, {"session_id": "s", **data}, name="mode_enforcer")


async def test_describe_offers_the_mode_tool_and_the_enforcing_hook(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    async with python_service(MODULE, cwd=work, home=home) as host:
        caps = host.describe["capabilities"]
        assert [t["name"] for t in caps["tools"]] == ["mode"]
        assert caps["hooks"] == [
            {"name": "mode_enforcer", "events": ["tool:pre", "provider:request"], "priority": 5}
        ]


async def test_list_shows_the_shipped_modes(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    async with python_service(MODULE, cwd=work, home=home) as host:
        result = await mode(host, operation="list")
    names = {m["name"] for m in result["output"]["modes"]}
    assert {"plan", "review", "code"} <= names
    assert result["output"]["active"] is None


async def test_a_set_mode_survives_into_the_next_turn_and_denies_tools(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    state: dict[str, Any] = {}
    async with python_service(MODULE, cwd=work, home=home, state=state) as host:
        result = await mode(host, operation="set", name="plan")
        assert result["success"] is True
    assert state["modes.active"] == "plan"

    async with python_service(MODULE, cwd=work, home=home, state=state) as second_turn:
        denied = await emit(second_turn, "tool:pre", {"tool_name": "write_file", "tool_input": {}})
        allowed = await emit(second_turn, "tool:pre", {"tool_name": "read_file", "tool_input": {}})
        current = await mode(second_turn, operation="current")
    assert denied["action"] == "DENY"
    assert "write_file" in denied["reason"] and "plan" in denied["reason"]
    assert allowed["action"] == "CONTINUE"
    assert current["output"]["active"] == "plan"


async def test_provider_request_gets_the_mode_instruction_as_an_ephemeral_injection(
    dirs: tuple[Path, Path],
) -> None:
    work, home = dirs
    state: dict[str, Any] = {"modes.active": "review"}
    async with python_service(MODULE, cwd=work, home=home, state=state) as host:
        result = await emit(host, "provider:request", {"request": {"messages": []}})
    assert result["action"] == "INJECT_CONTEXT"
    assert result["ephemeral"] is True
    assert "You are in review mode." in result["context_injection"]
    assert "Review the code" in result["context_injection"]


async def test_an_allow_list_blocks_every_other_tool_but_never_the_mode_tool(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    async with python_service(MODULE, cwd=work, home=home, state={"modes.active": "review"}) as host:
        bash = await emit(host, "tool:pre", {"tool_name": "bash"})
        grep = await emit(host, "tool:pre", {"tool_name": "grep"})
        leave = await emit(host, "tool:pre", {"tool_name": "mode"})
    assert bash["action"] == "DENY" and "not allowed" in bash["reason"]
    assert grep["action"] == "CONTINUE"
    assert leave["action"] == "CONTINUE"


async def test_without_an_active_mode_nothing_is_denied_or_injected(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    async with python_service(MODULE, cwd=work, home=home) as host:
        pre = await emit(host, "tool:pre", {"tool_name": "bash"})
        request = await emit(host, "provider:request", {})
    assert pre["action"] == "CONTINUE"
    assert request["action"] == "CONTINUE"


async def test_clear_leaves_the_mode(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    state: dict[str, Any] = {"modes.active": "plan"}
    async with python_service(MODULE, cwd=work, home=home, state=state) as host:
        result = await mode(host, operation="clear")
        pre = await emit(host, "tool:pre", {"tool_name": "bash"})
    assert result["output"] == {"active": None, "previous": "plan"}
    assert state["modes.active"] is None
    assert pre["action"] == "CONTINUE"


async def test_project_modes_override_home_modes_which_override_shipped_ones(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    (home / ".amplifier" / "modes").mkdir(parents=True)
    (home / ".amplifier" / "modes" / "plan.md").write_text(
        "---\nname: plan\ndescription: home plan\n---\nhome\n"
    )
    (home / ".amplifier" / "modes" / "careful.md").write_text(
        "---\ndescription: only reads\ntools:\n  allow: [read_*]\n---\nBe careful.\n"
    )
    (work / ".amplifier" / "modes").mkdir(parents=True)
    (work / ".amplifier" / "modes" / "plan.md").write_text(
        "---\nname: plan\ndescription: project plan\ntools:\n  deny: [grep]\n---\nproject\n"
    )
    async with python_service(MODULE, cwd=work, home=home, state={"modes.active": "plan"}) as host:
        listed = await mode(host, operation="list")
        grep = await emit(host, "tool:pre", {"tool_name": "grep"})
        await mode(host, operation="set", name="careful")
        read = await emit(host, "tool:pre", {"tool_name": "read_file"})
        write = await emit(host, "tool:pre", {"tool_name": "write_file"})
    by_name = {m["name"]: m for m in listed["output"]["modes"]}
    assert by_name["plan"]["description"] == "project plan"
    assert by_name["careful"]["description"] == "only reads"
    assert grep["action"] == "DENY"
    assert read["action"] == "CONTINUE"
    assert write["action"] == "DENY"


async def test_setting_an_unknown_mode_fails_and_names_the_available_ones(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    state: dict[str, Any] = {}
    async with python_service(MODULE, cwd=work, home=home, state=state) as host:
        result = await mode(host, operation="set", name="nope")
        missing = await mode(host, operation="set")
    assert result["success"] is False
    assert "no mode named 'nope'" in result["error"]["message"]
    assert "plan" in result["error"]["message"]
    assert missing["success"] is False and "needs a mode name" in missing["error"]["message"]
    assert "modes.active" not in state


async def test_a_broken_mode_file_is_reported_with_its_path(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    folder = work / ".amplifier" / "modes"
    folder.mkdir(parents=True)
    (folder / "bad.md").write_text("---\ntools: [not, a, mapping]\n---\nx\n")
    (folder / "noheader.md").write_text("just text\n")
    async with python_service(MODULE, cwd=work, home=home) as host:
        listed = await mode(host, operation="list")
        result = await mode(host, operation="set", name="bad")
    problems = listed["output"]["problems"]
    assert any("bad.md" in p and "tools must be a mapping" in p for p in problems)
    assert any("noheader.md" in p and "no YAML header" in p for p in problems)
    assert result["success"] is False and "bad.md" in result["error"]["message"]


async def test_an_active_mode_that_was_deleted_enforces_nothing_and_says_so(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    async with python_service(MODULE, cwd=work, home=home, state={"modes.active": "gone"}) as host:
        pre = await emit(host, "tool:pre", {"tool_name": "bash"})
        current = await mode(host, operation="current")
    assert pre["action"] == "CONTINUE"
    assert current["success"] is False and "no longer exists" in current["error"]["message"]


async def test_a_bad_dirs_config_is_a_clear_error(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    async with python_service(MODULE, cwd=work, home=home, config={"mode": {"dirs": "not-a-list"}}) as host:
        result = await mode(host, operation="list")
    assert result["success"] is False
    assert "'dirs' must be a list" in result["error"]["message"]
