"""Real uv installs into a temporary AMPLIFIER_HOME (offline), and the session config they feed."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from amplifier_ipc.registry.catalog import register_location
from amplifier_ipc.registry.definitions import parse_definition
from amplifier_ipc.registry.environments import environment, install, needs_install
from amplifier_ipc.registry.errors import InstallError, RegistryError
from amplifier_ipc.registry.home import AmplifierHome
from amplifier_ipc.registry.session import RunRequest, build_session, parse_component_flags
from amplifier_ipc.registry.settings import write_key


@pytest.fixture
def project(kit: Any, tmp_path: Path, home: AmplifierHome, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An agent 'a' whose behavior 'core' brings the tiny service; registered in the home."""
    monkeypatch.setenv("UV_OFFLINE", "1")
    kit.tiny_service(tmp_path, "core")
    behavior = kit.write(
        tmp_path / "defs" / "core.yaml",
        kit.behavior_yaml("core", extra="")
        + "  service:\n    source: ../svc-core\n    command: core-serve\n    env: [CORE_TOKEN]\n  config:\n    echo: {suffix: '!'}\n",
    )
    agent = kit.write(tmp_path / "defs" / "a.yaml", kit.agent_yaml("a", {"core": "core.yaml"}))
    register_location(home, str(behavior))
    register_location(home, str(agent))
    work = tmp_path / "work"
    work.mkdir()
    return work


def test_install_builds_a_compiled_venv_offline_even_though_the_service_names_a_workspace_source(
    project: Path, home: AmplifierHome
) -> None:
    definition = home.load_alias("core")
    assert needs_install(home, definition) == "not installed"
    messages: list[str] = []
    env = install(home, definition, progress=messages.append)
    assert env.root == home.environments_dir / definition.id
    assert env.script("core-serve").is_file()
    assert list(env.root.glob("lib/python*/site-packages/core_svc/tools/__pycache__/*.pyc"))
    assert list(env.root.glob("lib/python*/site-packages/amplifier_ipc_protocol/__pycache__/*.pyc"))
    assert needs_install(home, definition) is None
    assert messages and messages[0].startswith("creating the environment of core")
    record = json.loads(env.record_path.read_text())
    assert record["definition_id"] == definition.id


def test_a_changed_source_file_makes_the_environment_stale(project: Path, home: AmplifierHome) -> None:
    definition = home.load_alias("core")
    install(home, definition)
    components = project.parent / "svc-core" / "src" / "core_svc" / "tools" / "components.py"
    stamp = components.stat().st_mtime_ns + 5_000_000_000
    os.utime(components, ns=(stamp, stamp))
    assert needs_install(home, definition) == "source fingerprint changed"


def test_a_command_the_service_does_not_ship_is_an_install_error(
    kit: Any, tmp_path: Path, home: AmplifierHome
) -> None:
    kit.tiny_service(tmp_path, "core")
    path = kit.write(
        tmp_path / "defs" / "x.yaml",
        kit.behavior_yaml("x") + "  service:\n    source: ../svc-core\n    command: nope-serve\n",
    )
    with pytest.raises(InstallError, match="installed, but it has no command 'nope-serve'"):
        install(home, parse_definition(path.read_bytes(), str(path)))


def test_a_source_without_a_pyproject_is_an_install_error(
    kit: Any, tmp_path: Path, home: AmplifierHome
) -> None:
    path = kit.write(
        tmp_path / "x.yaml", kit.behavior_yaml("x") + "  service:\n    source: ./nothing\n    command: x\n"
    )
    with pytest.raises(InstallError, match=r"service.source .*/nothing has no pyproject.toml"):
        install(home, parse_definition(path.read_bytes(), str(path)))


def test_a_session_config_routes_component_config_and_gives_keys_only_to_services_that_ask(
    project: Path, home: AmplifierHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_key(home, "CORE_TOKEN", "secret")
    write_key(home, "ANTHROPIC_API_KEY", "not-for-core")
    monkeypatch.delenv("CORE_TOKEN", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    built = build_session(
        home,
        RunRequest(agent="a", working_dir=project, component_config=parse_component_flags(["memory.keep=3"])),
    )
    config = built.config
    assert [s.name for s in config.services] == ["core"]
    spec = config.services[0]
    assert spec.command == [str(environment(home, spec.definition_id or "").script("core-serve"))]
    assert spec.env == {"CORE_TOKEN": "secret"}
    assert spec.env_allow == ["CORE_TOKEN"]
    assert spec.config == {"echo": {"suffix": "!"}, "memory": {"keep": 3}}
    assert (config.orchestrator, config.context_manager, config.agent) == ("core:loop", "core:memory", "a")
    assert config.sessions_dir == home.sessions_dir
    # A key was found, but no service of this session offers anthropic: the offline default stands.
    assert (built.provider.provider, built.provider.reason) == ("local", "default")


def test_config_for_a_component_no_service_has_is_an_error_listing_the_components(
    project: Path, home: AmplifierHome
) -> None:
    with pytest.raises(RegistryError) as info:
        build_session(
            home, RunRequest(agent="a", working_dir=project, component_config={"bash": {"timeout": 1}})
        )
    assert "config for 'bash' matches no component of this session" in str(info.value)
    assert info.value.hint == "components: echo, loop, memory"


def test_component_flags_read_yaml_scalars_and_refuse_a_missing_key() -> None:
    assert parse_component_flags(["bash.timeout=120", "x.on=true", "scripted.script=demo.yaml"]) == {
        "bash": {"timeout": 120},
        "x": {"on": True},
        "scripted": {"script": "demo.yaml"},
    }
    with pytest.raises(RegistryError, match=r"expected COMPONENT\.KEY=VALUE"):
        parse_component_flags(["timeout=3"])


def test_a_run_installs_lazily_and_does_not_reinstall_a_current_environment(
    project: Path, home: AmplifierHome
) -> None:
    seen: list[str] = []
    build_session(home, RunRequest(agent="a", working_dir=project), progress=seen.append)
    assert seen
    record = environment(home, home.lookup("core")).record_path.stat().st_mtime_ns
    again: list[str] = []
    build_session(home, RunRequest(agent="a", working_dir=project), progress=again.append)
    assert again == []
    assert environment(home, home.lookup("core")).record_path.stat().st_mtime_ns == record


def test_a_session_lets_the_host_cache_describe_answers_in_the_environment_until_it_is_reinstalled(
    project: Path, home: AmplifierHome
) -> None:
    built = build_session(home, RunRequest(agent="a", working_dir=project))
    (spec,) = built.config.services
    env = environment(home, home.lookup("core"))
    assert spec.describe_cache == env.root
    assert spec.fingerprint and spec.fingerprint == env.fingerprint()
    install(home, home.load_alias("core"), force=True)
    rebuilt = build_session(home, RunRequest(agent="a", working_dir=project))
    assert rebuilt.config.services[0].fingerprint not in (None, spec.fingerprint)
