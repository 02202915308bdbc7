"""The skills service through a real process, with a test-side Host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from amplifier_ipc_protocol.testing import HostDouble, python_service

MODULE = "amplifier_skills"


def write_skill(root: Path, folder: str, header: str, body: str = "Do the thing.\n") -> Path:
    path = root / folder
    path.mkdir(parents=True)
    (path / "SKILL.md").write_text(f"---\n{header}\n---\n{body}")
    return path


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    work, home = tmp_path / "work", tmp_path / "home"
    write_skill(
        home / ".amplifier" / "skills",
        "pdf-forms",
        "name: pdf-forms\ndescription: Fill in PDF forms with pypdf.",
        "Open the form with pypdf and set each field.\n",
    )
    write_skill(
        home / ".amplifier" / "skills",
        "writing/release-notes",
        "name: release-notes\ndescription: Write release notes from a git log.",
    )
    (home / ".amplifier" / "skills" / "pdf-forms" / "fill.py").write_text("print('fill')\n")
    write_skill(
        work / ".amplifier" / "skills",
        "release-notes",
        "name: release-notes\ndescription: Project style release notes.",
        "Use the CHANGELOG format of this project.\n",
    )
    return work, home


async def load_skill(host: HostDouble, **input: Any) -> dict[str, Any]:
    return await host.execute_tool("load_skill", input)


async def test_list_finds_skills_in_home_and_project_with_the_project_winning(
    dirs: tuple[Path, Path],
) -> None:
    work, home = dirs
    async with python_service(MODULE, cwd=work, home=home) as host:
        result = await load_skill(host, operation="list")
    assert result["output"]["skills"] == [
        {"name": "pdf-forms", "description": "Fill in PDF forms with pypdf."},
        {"name": "release-notes", "description": "Project style release notes."},
    ]


async def test_search_matches_every_word_in_name_or_description(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    async with python_service(MODULE, cwd=work, home=home) as host:
        hit = await load_skill(host, operation="search", query="PDF fill")
        miss = await load_skill(host, operation="search", query="pdf notes")
        empty = await load_skill(host, operation="search")
    assert [s["name"] for s in hit["output"]["skills"]] == ["pdf-forms"]
    assert miss["output"]["skills"] == []
    assert empty["success"] is False and "needs a query" in empty["error"]["message"]


async def test_info_lists_the_skill_folder_and_its_files(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    async with python_service(MODULE, cwd=work, home=home) as host:
        result = await load_skill(host, operation="info", skill_name="pdf-forms")
    assert result["output"]["files"] == ["SKILL.md", "fill.py"]
    assert result["output"]["folder"] == str(home / ".amplifier" / "skills" / "pdf-forms")


async def test_a_loaded_skill_is_remembered_in_the_next_turn(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    state: dict[str, Any] = {}
    async with python_service(MODULE, cwd=work, home=home, state=state) as host:
        loaded = await load_skill(host, operation="load", skill_name="pdf-forms")
    assert "Open the form with pypdf" in loaded["output"]
    assert "---" not in loaded["output"].split("\n\n", 1)[1]
    assert state["skills.loaded"] == ["pdf-forms"]

    async with python_service(MODULE, cwd=work, home=home, state=state) as second_turn:
        injected = await second_turn.call(
            "hook.emit",
            {"event": "provider:request", "data": {"session_id": "s"}, "name": "skills_available"},
        )
        await load_skill(second_turn, operation="load", skill_name="pdf-forms")
    assert injected["action"] == "INJECT_CONTEXT"
    assert injected["ephemeral"] is True
    assert "- pdf-forms: Fill in PDF forms with pypdf." in injected["context_injection"]
    assert "Already loaded in this session: pdf-forms." in injected["context_injection"]
    assert state["skills.loaded"] == ["pdf-forms"]


async def test_configured_dirs_are_searched(tmp_path: Path) -> None:
    work, home = tmp_path / "work", tmp_path / "home"
    write_skill(work / "team-skills", "deploy", "description: Deploy the service.")
    async with python_service(
        MODULE, cwd=work, home=home, config={"load_skill": {"dirs": ["team-skills"]}}
    ) as host:
        result = await load_skill(host, operation="list")
    assert [s["name"] for s in result["output"]["skills"]] == ["deploy"]


async def test_no_skills_means_no_injection(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    async with python_service(MODULE, cwd=tmp_path / "work", home=tmp_path / "home") as host:
        result = await host.call(
            "hook.emit",
            {"event": "provider:request", "data": {"session_id": "s"}, "name": "skills_available"},
        )
    assert result["action"] == "CONTINUE"


async def test_an_unknown_skill_fails_naming_the_available_ones(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    async with python_service(MODULE, cwd=work, home=home) as host:
        result = await load_skill(host, operation="load", skill_name="nope")
        unnamed = await load_skill(host, operation="info")
    assert result["success"] is False
    assert "no skill named 'nope'; available: pdf-forms, release-notes" in result["error"]["message"]
    assert unnamed["success"] is False and "needs a skill_name" in unnamed["error"]["message"]


async def test_a_skill_without_a_description_is_reported_not_offered(tmp_path: Path) -> None:
    work, home = tmp_path / "work", tmp_path / "home"
    write_skill(work / ".amplifier" / "skills", "vague", "name: vague")
    async with python_service(MODULE, cwd=work, home=home) as host:
        result = await load_skill(host, operation="list")
    assert result["output"]["skills"] == []
    assert any("vague" in p and "needs a description" in p for p in result["output"]["problems"])
