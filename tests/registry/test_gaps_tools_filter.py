"""An agent's `tools:` selection: parsed and validated, applied by the session builder.

The session builder runs against real installed services (uv, offline): a
tiny service with two tools, and another one added as an extra behavior.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from amplifier_ipc.registry.catalog import register_location
from amplifier_ipc.registry.definitions import parse_definition
from amplifier_ipc.registry.errors import DefinitionError, ResolutionError
from amplifier_ipc.registry.home import AmplifierHome
from amplifier_ipc.registry.session import RunRequest, build_session
from amplifier_ipc.registry.tools import is_offered

SHOUT = """
from amplifier_ipc_protocol import tool


@tool(name="shout")
class Shout:
    description = "Shout the input back."
    input_schema = {"type": "object", "properties": {"text": {"type": "string"}}}

    async def execute(self, input):
        return {"success": True, "output": input.get("text", "").upper()}
"""
WHISPER = SHOUT.replace('"shout"', '"whisper"').replace("Shout", "Whisper").replace(".upper()", ".lower()")


def agent_text(kit: Any, tools: str | None) -> str:
    text = kit.agent_yaml("a", {"core": "core.yaml"})
    return text + (f"  tools: {tools}\n" if tools is not None else "")


def test_tools_is_a_list_of_names_or_globs_and_each_wrong_entry_is_named(kit: Any) -> None:
    good = parse_definition(agent_text(kit, "[read_file, 'time__*', 'g?ep', '[ab]*']"), "a.yaml")
    assert good.tools == ["read_file", "time__*", "g?ep", "[ab]*"]
    assert parse_definition(agent_text(kit, None), "a.yaml").tools is None
    assert parse_definition(agent_text(kit, "[]"), "a.yaml").tools == []
    with pytest.raises(
        DefinitionError, match=r"a\.yaml: field 'agent\.tools': expected a list of tool names"
    ):
        parse_definition(agent_text(kit, "read_file"), "a.yaml")
    with pytest.raises(DefinitionError, match=r"field 'agent\.tools\[1\]': expected a tool name or a glob"):
        parse_definition(agent_text(kit, "[read_file, 'read file']"), "a.yaml")
    with pytest.raises(DefinitionError, match=r"field 'agent\.tools\[0\]'.*got 3"):
        parse_definition(agent_text(kit, "[3]"), "a.yaml")
    behavior = kit.behavior_yaml("b") + "  tools: [read_file]\n"
    with pytest.raises(
        DefinitionError, match=r"field 'behavior\.tools': expected no such field: only an agent selects"
    ):
        parse_definition(behavior, "b.yaml")


@pytest.fixture
def project(kit: Any, tmp_path: Path, home: AmplifierHome, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Behavior 'core' brings a service with the tools echo and shout; 'extra' brings whisper."""
    monkeypatch.setenv("UV_OFFLINE", "1")
    core = kit.tiny_service(tmp_path, "core")
    (core / "src" / "core_svc" / "tools" / "more.py").write_text(SHOUT)
    extra = kit.tiny_service(tmp_path, "extra")
    (extra / "src" / "extra_svc" / "tools" / "components.py").write_text(WHISPER)
    kit.write(tmp_path / "defs" / "core.yaml", kit.behavior_yaml("core", service="../svc-core"))
    kit.write(tmp_path / "defs" / "extra.yaml", kit.behavior_yaml("extra", service="../svc-extra"))
    register_location(home, str(tmp_path / "defs" / "extra.yaml"))
    work = tmp_path / "work"
    work.mkdir()
    return work


def build(kit: Any, home: AmplifierHome, project: Path, tools: str | None, *extra: str) -> Any:
    path = kit.write(project.parent / "defs" / "a.yaml", agent_text(kit, tools))
    register_location(home, str(path))
    return build_session(home, RunRequest(agent="a", working_dir=project, add_behaviors=list(extra)))


def offered(built: Any) -> set[str]:
    names = {t["name"] for d in built.descriptions.values() for t in d["capabilities"]["tools"]}
    return {name for name in names if is_offered(name, built.config)}


def test_the_session_offers_only_the_selected_tools_of_the_agents_services(
    kit: Any, home: AmplifierHome, project: Path
) -> None:
    assert offered(build(kit, home, project, None)) == {"echo", "shout"}
    selected = build(kit, home, project, "[echo]")
    assert selected.config.exclude_tools == ["shout"]
    assert offered(selected) == {"echo"}
    assert offered(build(kit, home, project, "['sh*']")) == {"shout"}
    assert offered(build(kit, home, project, "[]")) == set()


def test_tools_of_a_behavior_added_for_the_run_are_not_filtered_by_the_agents_selection(
    kit: Any, home: AmplifierHome, project: Path
) -> None:
    built = build(kit, home, project, "[echo]", "extra")
    assert offered(built) == {"echo", "whisper"}


def test_an_entry_that_matches_no_tool_of_the_agents_services_is_an_error_listing_them(
    kit: Any, home: AmplifierHome, project: Path
) -> None:
    with pytest.raises(ResolutionError) as caught:
        build(kit, home, project, "[echo, ecko]")
    assert "field 'agent.tools[1]': 'ecko' matches no tool of the agent's services" in caught.value.message
    assert caught.value.hint == "tools they offer: echo, shout"
    # The added behavior's tools cannot be selected by the agent, so naming one is an error too.
    with pytest.raises(ResolutionError, match="'whisper' matches no tool"):
        build(kit, home, project, "[whisper]", "extra")
