"""A single-shot run's resolved config is kept for the next run with the same
flags (registry/runcache.py, cli/fastrun.py), and never used once anything it
was resolved from has changed."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from amplifier_ipc.cli import fastrun
from amplifier_ipc.cli.run_cmd import run as run_command
from amplifier_ipc.registry import runcache
from amplifier_ipc.registry.fingerprint import folder_fingerprint
from amplifier_ipc.registry.home import AmplifierHome
from amplifier_ipc.registry.session import RunRequest, build_session, parse_component_flags

from .conftest import Cli, json_lines

FLAGS = ["--agent", "minimal", "--provider", "scripted", "--output", "json"]


# --- reading the command line as click does -------------------------------------------


def _clicked(args: list[str]) -> dict[str, Any]:
    """What click gives ``run`` for ``args``."""
    with run_command.make_context("run", list(args)) as ctx:
        return dict(ctx.params)


@pytest.mark.parametrize(
    "args",
    [
        ["--agent", "minimal", "hi"],
        ["--agent=minimal", "hi", "there"],
        ["hi", "--provider", "scripted", "there"],
        ["-C", "scripted.script=a.yaml", "-Cbash.timeout=5", "hi"],
        ["--add-behavior", "a", "--add-behavior=b", "--agent", "x", "--agent", "y", "hi"],
        ["--model", "-odd-name", "--output", "stream-json", "hi"],
        ["--tool-timeout", "2.5", "--approval", "auto", "hi"],
        ["-", "hi"],
    ],
)
def test_the_command_line_is_read_exactly_as_click_reads_it(args: list[str]) -> None:
    parsed = fastrun.parse(args)
    assert parsed is not None
    assert parsed.values() == _clicked(args)


@pytest.mark.parametrize(
    "args",
    [
        ["--session", "abc", "hi"],
        ["--continue", "hi"],
        ["--help"],
        ["--", "--agent"],
        ["-x", "hi"],
        ["--agent"],
        ["--verbose", "hi"],
    ],
)
def test_command_lines_it_does_not_handle_are_left_to_click(args: list[str]) -> None:
    assert fastrun.parse(args) is None


def test_a_run_is_kept_only_when_click_read_its_command_line_the_same_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stored: list[Any] = []
    monkeypatch.setattr(runcache, "store", lambda *args: stored.append(args) or True)
    fastrun.set_command_line(["run", "--agent", "minimal", "hi"])
    try:
        assert not fastrun.remember(object(), {**_clicked(["--agent", "minimal", "hi"]), "agent": "other"})
        assert stored == []
        assert fastrun.remember(object(), _clicked(["--agent", "minimal", "hi"]))
        assert len(stored) == 1
    finally:
        monkeypatch.setattr(fastrun, "_command_line", None)


# --- what a kept config depends on ------------------------------------------------------


@pytest.fixture
def home_copy(installed_home: Path, tmp_path: Path) -> Iterator[AmplifierHome]:
    """The installed home's registrations and settings in a folder of this test's own
    (the environments are shared: they are only read)."""
    root = tmp_path / "home"
    root.mkdir()
    for entry in installed_home.iterdir():
        if entry.name in ("agents.yaml", "behaviors.yaml"):
            (root / entry.name).write_bytes(entry.read_bytes())
    (root / "definitions").mkdir()
    for entry in (installed_home / "definitions").iterdir():
        (root / "definitions" / entry.name).write_bytes(entry.read_bytes())
    (root / "environments").symlink_to(installed_home / "environments")
    yield AmplifierHome(root)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home_copy: AmplifierHome) -> Path:
    folder = tmp_path / "outer" / "project"
    folder.mkdir(parents=True)
    monkeypatch.setenv("AMPLIFIER_HOME", str(home_copy.root))
    for key in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OLLAMA_HOST", runcache.ENV_SWITCH):
        monkeypatch.delenv(key, raising=False)
    return folder


OPTIONS = [["--agent", "minimal"], ["--provider", "scripted"], ["-C", "scripted.script=s.yaml"]]


def _store(home: AmplifierHome, project: Path) -> Any:
    request = RunRequest(
        agent="minimal",
        provider="scripted",
        working_dir=project,
        component_config=parse_component_flags(["scripted.script=s.yaml"]),
    )
    built = build_session(home, request, install_missing=False)
    assert runcache.store(OPTIONS, str(project), home, built)
    return built


def test_a_kept_config_is_the_config_the_registry_resolved(home_copy: AmplifierHome, project: Path) -> None:
    built = _store(home_copy, project)
    assert runcache.load(OPTIONS, str(project)) == built.config


def test_other_flags_another_folder_or_another_environment_find_nothing(
    home_copy: AmplifierHome, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _store(home_copy, project)
    assert runcache.load([*OPTIONS, ["--model", "m"]], str(project)) is None
    assert runcache.load(OPTIONS, str(project.parent)) is None
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    assert runcache.load(OPTIONS, str(project)) is None


@pytest.mark.parametrize(
    "change",
    [
        "global settings",
        "project settings",
        "a project folder above",
        "keys.env",
        "keys.env mode",
        "agent alias",
        "behavior alias",
        "definition",
        "install record",
        "describe cache",
    ],
)
def test_a_kept_config_is_not_used_once_what_it_was_resolved_from_changed(
    home_copy: AmplifierHome, project: Path, change: str
) -> None:
    keys = home_copy.keys_file
    if change == "keys.env mode":
        keys.write_text("EXAMPLE=1\n")
        keys.chmod(0o600)
    built = _store(home_copy, project)
    assert runcache.load(OPTIONS, str(project)) is not None
    if change == "global settings":
        home_copy.settings_file.write_text("model: other\n")
    elif change == "project settings":
        (project / ".amplifier").mkdir()
        (project / ".amplifier" / "settings.yaml").write_text("model: other\n")
    elif change == "a project folder above":
        (project.parent / ".amplifier").mkdir()
    elif change == "keys.env":
        keys.write_text("EXAMPLE=1\n")
        keys.chmod(0o600)
    elif change == "keys.env mode":
        keys.chmod(0o644)
    elif change in ("agent alias", "behavior alias"):
        aliases = home_copy.alias_file(change.split()[0])
        aliases.write_text(aliases.read_text() + "another: x\n")
    elif change == "definition":
        definition = home_copy.cached_path(built.resolved.definitions()[0].id)
        definition.write_text(definition.read_text() + "\n")
    else:
        spec = built.config.services[0]
        assert spec.describe_cache is not None
        name = "amplifier-install.json" if change == "install record" else "amplifier-describe.json"
        real = spec.describe_cache / name
        # The environments are shared with other tests: the kept entry is pointed at a copy.
        copy = project.parent / name
        copy.write_bytes(real.read_bytes())
        _point_entry_at(home_copy, real, copy)
        assert runcache.load(OPTIONS, str(project)) is not None
        copy.write_bytes(copy.read_bytes() + b" ")
    assert runcache.load(OPTIONS, str(project)) is None


def _entries(home: AmplifierHome) -> list[Path]:
    return sorted((home.root / "cache" / "runs").glob("*.json"))


def _point_entry_at(home: AmplifierHome, old: Path, new: Path) -> None:
    [entry_path] = _entries(home)
    entry = json.loads(entry_path.read_text())
    files = [item for item in entry["files"] if item[0] == str(old)]
    assert files, f"{old} is not among what the entry depends on"
    for item in files:
        item[0], item[1] = str(new), runcache._signature(str(new))
    entry_path.write_text(json.dumps(entry))


def test_a_kept_config_is_not_used_once_a_service_source_folder_changed(
    home_copy: AmplifierHome, project: Path
) -> None:
    built = _store(home_copy, project)
    [entry_path] = _entries(home_copy)
    entry = json.loads(entry_path.read_text())
    record = json.loads((built.config.services[0].describe_cache / "amplifier-install.json").read_text())
    assert [record["source_path"], record["source_fingerprint"]] in entry["folders"]
    assert [record["protocol"], record["protocol_fingerprint"]] in entry["folders"]
    # The real source folders are shared: the entry is pointed at a folder of this test's own.
    source = project.parent / "source"
    source.mkdir()
    (source / "module.py").write_text("x = 1\n")
    entry["folders"] = [[str(source), folder_fingerprint(source)]]
    entry_path.write_text(json.dumps(entry))
    assert runcache.load(OPTIONS, str(project)) is not None
    (source / "module.py").write_text("x = 2  # changed\n")
    assert runcache.load(OPTIONS, str(project)) is None


def test_a_config_with_a_service_command_from_the_settings_is_never_kept(
    home_copy: AmplifierHome, project: Path
) -> None:
    built = _store(home_copy, project)
    for entry in _entries(home_copy):
        entry.unlink()
    overridden = dataclasses.replace(built.config.services[0], describe_cache=None)
    built.config.services[0] = overridden
    assert not runcache.store(OPTIONS, str(project), home_copy, built)
    assert _entries(home_copy) == []


def test_the_cache_can_be_turned_off(
    home_copy: AmplifierHome, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _store(home_copy, project)
    monkeypatch.setenv(runcache.ENV_SWITCH, "0")
    assert runcache.load(OPTIONS, str(project)) is None


def test_only_the_newest_entries_are_kept(
    home_copy: AmplifierHome, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runcache, "MAX_ENTRIES", 2)
    request = RunRequest(agent="minimal", provider="scripted", working_dir=project)
    built = build_session(home_copy, request, install_missing=False)
    for model in ("a", "b", "c"):
        assert runcache.store([["--model", model]], str(project), home_copy, built)
    assert len(_entries(home_copy)) == 2
    assert runcache.load([["--model", "a"]], str(project)) is None
    assert runcache.load([["--model", "c"]], str(project)) == built.config


# --- the whole process ---------------------------------------------------------------


def _entry_of(cli: Cli) -> Path:
    """The kept config of the runs in ``cli``'s folder (the home is shared by the tests)."""
    found = [
        path
        for path in (cli.home / "cache" / "runs").glob("*.json")
        if json.loads(path.read_text())["key"]["cwd"] == os.path.realpath(cli.cwd)
    ]
    assert len(found) == 1, found
    return found[0]


def test_a_repeated_run_takes_the_kept_config_until_the_settings_change(cli: Cli) -> None:
    script = cli.script("- text: 'Resolved by the registry.'\n")
    first = cli.scripted(script, output="json")
    assert first.returncode == 0, first.stderr
    assert json_lines(first.stdout)[-1]["response"] == "Resolved by the registry."
    entry_path = _entry_of(cli)
    # The kept config is edited to point at another script: a run that answers
    # from it shows that it was taken, without resolving anything.
    other = cli.script("- text: 'Taken from the kept config.'\n", name="other.yaml")
    entry = json.loads(entry_path.read_text())
    for spec in entry["config"]["services"]:
        if "scripted" in spec["config"]:
            spec["config"]["scripted"]["script"] = str(other)
    entry_path.write_text(json.dumps(entry))
    again = cli.scripted(script, output="json", prompt="another prompt")
    assert again.returncode == 0, again.stderr
    assert json_lines(again.stdout)[-1]["response"] == "Taken from the kept config."
    (cli.cwd / ".amplifier").mkdir()
    (cli.cwd / ".amplifier" / "settings.yaml").write_text("approval: deny\n")
    changed = cli.scripted(script, output="json")
    assert changed.returncode == 0, changed.stderr
    assert json_lines(changed.stdout)[-1]["response"] == "Resolved by the registry."


def test_a_failure_of_a_run_from_the_kept_config_reads_as_any_run_failure(cli: Cli) -> None:
    script = cli.script("- text: 'Hello.'\n")
    assert cli.scripted(script, output="json").returncode == 0
    entry_path = _entry_of(cli)
    entry = json.loads(entry_path.read_text())
    entry["config"]["services"][0]["command"] = [str(cli.cwd / "missing-service")]
    entry_path.write_text(json.dumps(entry))
    failed = cli.scripted(script, output="json")
    assert failed.returncode == 1
    result = json_lines(failed.stdout)[-1]
    assert result["status"] == "failed"
    assert "ServiceStartError" in failed.stdout and "Traceback" not in failed.stderr


def test_the_options_read_here_are_options_of_the_run_command() -> None:
    names = {opt for param in run_command.params for opt in param.opts if opt.startswith("-")}
    assert names >= fastrun.VALUE_OPTIONS
    assert fastrun.REPEATABLE <= fastrun.VALUE_OPTIONS


def test_a_kept_config_is_readable_by_its_owner_only_and_holds_no_environment_value(
    home_copy: AmplifierHome, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOME_SECRET_TOKEN", "do-not-write-me")
    _store(home_copy, project)
    [entry] = _entries(home_copy)
    assert entry.stat().st_mode & 0o077 == 0
    assert b"do-not-write-me" not in entry.read_bytes()


@pytest.mark.parametrize(
    "value",
    [{1: "an integer key"}, ("a", "tuple"), datetime.date(2026, 1, 1)],
    ids=["integer-key", "tuple", "date"],
)
def test_a_config_json_cannot_hold_exactly_is_never_kept(
    home_copy: AmplifierHome, project: Path, value: Any
) -> None:
    request = RunRequest(agent="minimal", provider="scripted", working_dir=project)
    built = build_session(home_copy, request, install_missing=False)
    built.config.orchestrator_config["from_yaml"] = value
    assert not runcache.store(OPTIONS, str(project), home_copy, built)
    assert _entries(home_copy) == []


# What a single-shot run never imports (issue 4: import only what a command needs),
# and what one from a kept config does not import either: the registry and click
# (and PyYAML, when a definition is read) are what the kept config saves; shutil brings lzma and bz2 with it.
NEVER_IN_A_SINGLE_SHOT = ("prompt_toolkit", "pydantic")
NOT_FROM_A_KEPT_CONFIG = ("click", "yaml", "amplifier_ipc.registry.session", "shutil", "lzma", "bz2")
MODULES_PROBE = """
import atexit, os, sys
def dump():
    with open(os.environ["MODULES_OUT"], "w") as out:
        out.write("\\n".join(sorted(sys.modules)))
atexit.register(dump)
sys.argv = ["amplifier-ipc", *sys.argv[1:]]
from amplifier_ipc.cli.main import main
main()
"""


def test_a_single_shot_run_imports_only_what_it_needs(cli: Cli) -> None:
    import subprocess
    import sys

    script = cli.script("- text: 'Hello.'\n")
    record = cli.cwd / "modules.txt"
    env = {**cli.env, "MODULES_OUT": str(record)}
    argv = [sys.executable, "-c", MODULES_PROBE, "run", "--agent", "minimal", "--provider", "scripted"]
    argv += ["-C", f"scripted.script={script}", "--output", "json", "hello"]
    imported = []
    for _ in range(2):  # resolved, then from the kept config
        done = subprocess.run(argv, env=env, cwd=cli.cwd, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert json_lines(done.stdout)[-1]["response"] == "Hello."
        imported.append(set(record.read_text().split()))
    resolved, kept = imported
    assert "click" in resolved and "amplifier_ipc.host.host" in kept  # the probe sees the run's modules
    assert not resolved & set(NEVER_IN_A_SINGLE_SHOT), sorted(resolved & set(NEVER_IN_A_SINGLE_SHOT))
    unwanted = kept & {*NEVER_IN_A_SINGLE_SHOT, *NOT_FROM_A_KEPT_CONFIG}
    assert not unwanted, sorted(unwanted)
