"""AMPLIFIER_HOME layout, settings scopes, keys.env permissions, provider selection."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from amplifier_ipc.registry.catalog import discover_definitions, register_location
from amplifier_ipc.registry.errors import NotRegisteredError, SettingsError
from amplifier_ipc.registry.home import AmplifierHome
from amplifier_ipc.registry.providers import select_provider
from amplifier_ipc.registry.settings import load_settings, read_keys, scope_file, write_key, write_scope


def test_home_defaults_to_dot_amplifier_and_follows_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AMPLIFIER_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert AmplifierHome.from_env().root == tmp_path / ".amplifier"
    monkeypatch.setenv("AMPLIFIER_HOME", str(tmp_path / "elsewhere"))
    assert AmplifierHome.from_env().root == tmp_path / "elsewhere"


def test_registering_caches_the_definition_with_its_meta_and_writes_the_alias(
    kit: Any, tmp_path: Path, home: AmplifierHome
) -> None:
    source = kit.write(tmp_path / "defs" / "b.yaml", kit.behavior_yaml("b", service="../svc"))
    definition = register_location(home, str(source))
    assert home.aliases("behavior") == {"b": definition.id}
    cached = yaml.safe_load(home.cached_path(definition.id).read_text())
    assert cached["_meta"]["source_url"] == str(source)
    assert cached["_meta"]["sha256"] == definition.sha256
    assert cached["_meta"]["fetched_at"].endswith("Z")
    loaded = home.load_alias("b")
    # The cached copy resolves relative sources against the original file, so a checkout works offline.
    assert loaded.origin == str(source)
    assert loaded.sha256 == definition.sha256


def test_unregistering_drops_the_alias_and_the_cached_file(
    kit: Any, tmp_path: Path, home: AmplifierHome
) -> None:
    definition = register_location(home, str(kit.write(tmp_path / "b.yaml", kit.behavior_yaml("b"))))
    home.unregister("b")
    assert home.aliases("behavior") == {}
    assert not home.cached_path(definition.id).exists()
    with pytest.raises(NotRegisteredError, match="nothing is registered as 'b'"):
        home.unregister("b")


def test_discover_finds_every_definition_and_reports_broken_ones_without_stopping(
    kit: Any, tmp_path: Path
) -> None:
    kit.write(tmp_path / "x" / "behaviors" / "good.yaml", kit.behavior_yaml("good"))
    kit.write(tmp_path / "x" / "behaviors" / "bad.yaml", "behavior:\n  ref: bad\n")
    kit.write(tmp_path / "x" / "other.yaml", "not: a definition\n")
    kit.write(tmp_path / "x" / ".venv" / "skip.yaml", kit.behavior_yaml("skip"))
    found = discover_definitions(tmp_path / "x")
    assert [(f.path.name, f.definition.ref if f.definition else None) for f in found] == [
        ("bad.yaml", None),
        ("good.yaml", "good"),
    ]
    assert "field 'behavior.uuid'" in str(found[0].error)


def test_settings_merge_global_then_project_then_local_then_flags(
    tmp_path: Path, home: AmplifierHome
) -> None:
    project = tmp_path / "proj"
    (project / ".amplifier").mkdir(parents=True)
    write_scope(
        scope_file("global", home, project),
        {"provider": "openai", "model": "g", "config": {"bash": {"timeout": 1, "x": 1}}},
    )
    write_scope(scope_file("project", home, project), {"model": "p", "config": {"bash": {"timeout": 2}}})
    write_scope(scope_file("local", home, project), {"config": {"bash": {"timeout": 3}}})
    merged = load_settings(home, project, {"model": "flag", "provider": None})
    assert merged["provider"] == "openai"
    assert merged["model"] == "flag"
    assert merged["config"] == {"bash": {"timeout": 3, "x": 1}}


def test_the_project_is_found_from_a_subfolder(tmp_path: Path, home: AmplifierHome) -> None:
    project = tmp_path / "proj"
    (project / ".amplifier").mkdir(parents=True)
    (project / "a" / "b").mkdir(parents=True)
    assert scope_file("project", home, project / "a" / "b") == project / ".amplifier" / "settings.yaml"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("colour: red\n", "unknown setting 'colour'"),
        ("approval: sometimes\n", "setting 'approval' must be one of ask, auto, deny"),
        ("config: 3\n", "setting 'config' must be a mapping"),
        ("allowed_write_paths: /tmp\n", "setting 'allowed_write_paths' must be a list of strings"),
        ("[1, 2]\n", "expected a mapping of settings"),
        ("a: [\n", "not valid YAML"),
    ],
)
def test_a_bad_settings_file_is_refused_with_its_path_and_the_reason(
    tmp_path: Path, home: AmplifierHome, content: str, message: str
) -> None:
    home.root.mkdir(parents=True)
    home.settings_file.write_text(content)
    with pytest.raises(SettingsError) as info:
        load_settings(home, tmp_path)
    assert str(home.settings_file) in str(info.value)
    assert message in str(info.value)


def test_keys_are_written_0600_and_read_back(home: AmplifierHome) -> None:
    write_key(home, "ANTHROPIC_API_KEY", "sk-1")
    write_key(home, "OPENAI_API_KEY", "sk-2")
    assert os.stat(home.keys_file).st_mode & 0o777 == 0o600
    assert read_keys(home) == {"ANTHROPIC_API_KEY": "sk-1", "OPENAI_API_KEY": "sk-2"}


def test_a_keys_file_others_can_read_is_refused_with_the_chmod_to_run(home: AmplifierHome) -> None:
    write_key(home, "ANTHROPIC_API_KEY", "sk-1")
    os.chmod(home.keys_file, 0o644)
    with pytest.raises(SettingsError) as info:
        read_keys(home)
    assert "readable by others (mode 644)" in str(info.value)
    assert info.value.hint == f"run: chmod 600 {home.keys_file}"


def test_a_malformed_keys_line_names_its_line_number(home: AmplifierHome) -> None:
    home.root.mkdir(parents=True)
    home.keys_file.write_text("# keys\nexport A=1\nB='two'\nnot a pair\n")
    os.chmod(home.keys_file, 0o600)
    with pytest.raises(SettingsError, match=r"keys.env:4: expected NAME=value"):
        read_keys(home)
    home.keys_file.write_text("# keys\nexport A=1\nB='two'\n")
    assert read_keys(home) == {"A": "1", "B": "two"}


def test_provider_selection_prefers_flag_then_settings_then_definition_then_keys_then_local() -> None:
    keys = {"OPENAI_API_KEY": "x", "OLLAMA_HOST": "h"}

    def pick(**kw: Any) -> Any:
        return select_provider(
            **{"flag": None, "settings": None, "definition": None, "variables": keys, **kw}
        )

    assert pick(flag="a", settings="b", definition="c").provider == "a"
    assert pick(settings="b", definition="c").provider == "b"
    assert pick(definition="c").provider == "c"
    assert pick().provider == "openai"
    assert pick(offered=["ollama", "local"]).provider == "ollama"
    choice = pick(variables={})
    assert (choice.provider, choice.reason) == ("local", "default")
