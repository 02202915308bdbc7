"""Registry and settings commands through click's runner, on a fresh AMPLIFIER_HOME."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from amplifier_ipc.cli.main import COMMANDS, fast_help, runs_a_turn

ROOT = Path(__file__).resolve().parents[2]


def test_the_fast_help_lists_exactly_the_commands_the_click_group_serves(fresh_cli: Any) -> None:
    from amplifier_ipc.cli.main import cli

    group = cli()
    assert group.list_commands(None) == list(COMMANDS)
    for name in COMMANDS:
        assert group.get_command(None, name) is not None, name
        assert f"  {name} " in fast_help()
    result = fresh_cli("--help")
    assert result.returncode == 0
    assert result.stdout == fast_help()


def test_an_unknown_command_is_a_usage_error(fresh_cli: Any) -> None:
    result = fresh_cli("frobnicate")
    assert result.returncode == 2
    assert "No such command 'frobnicate'" in result.stderr


def test_discover_and_register_list_the_checkout_definitions(fresh_cli: Any) -> None:
    result = fresh_cli.invoke("discover", str(ROOT / "definitions"), "--register")
    assert result.exit_code == 0, result.output
    assert "foundation" in result.output and "minimal" in result.output
    listed = fresh_cli.invoke("agents", "list")
    assert "foundation" in listed.output and "minimal" in listed.output
    aliases = yaml.safe_load((fresh_cli.home / "agents.yaml").read_text())
    assert set(aliases) == {"foundation", "minimal"}


def test_discover_reports_an_invalid_definition_and_exits_2(fresh_cli: Any, tmp_path: Path) -> None:
    bad = tmp_path / "defs" / "bad.yaml"
    bad.parent.mkdir()
    bad.write_text("behavior:\n  ref: bad\n")
    result = fresh_cli("discover", str(bad.parent))
    assert result.returncode == 2
    assert "field 'behavior.uuid'" in result.stderr


def test_agents_show_resolves_behaviors_and_reports_install_state(fresh_cli: Any) -> None:
    fresh_cli.invoke("discover", str(ROOT / "services"), "--register")
    fresh_cli.invoke("discover", str(ROOT / "definitions"), "--register")
    result = fresh_cli.invoke("agents", "show", "minimal")
    assert result.exit_code == 0, result.output
    assert "foundation:streaming" in result.output
    assert "providers: not installed" in result.output


def test_running_an_unregistered_agent_says_how_to_register_it_and_exits_2(fresh_cli: Any) -> None:
    result = fresh_cli("run", "--agent", "nope", "hello")
    assert result.returncode == 2
    assert "error: no agent is registered as 'nope'" in result.stderr
    assert "hint: register it first" in result.stderr


def test_unregister_forgets_an_alias_and_a_second_time_is_an_error(fresh_cli: Any) -> None:
    fresh_cli.invoke("discover", str(ROOT / "definitions"), "--register")
    assert fresh_cli.invoke("unregister", "minimal").exit_code == 0
    again = fresh_cli("unregister", "minimal")
    assert again.returncode == 2
    assert "nothing is registered as 'minimal'" in again.stderr


def test_provider_use_and_set_key_write_settings_and_a_0600_keys_file(fresh_cli: Any) -> None:
    assert fresh_cli.invoke("provider", "use", "openai", "--model", "gpt-x").exit_code == 0
    settings = yaml.safe_load((fresh_cli.home / "settings.yaml").read_text())
    assert settings == {"provider": "openai", "model": "gpt-x"}
    assert fresh_cli.invoke("provider", "set-key", "anthropic", "sk-test").exit_code == 0
    keys = fresh_cli.home / "keys.env"
    assert keys.read_text() == "ANTHROPIC_API_KEY=sk-test\n"
    assert os.stat(keys).st_mode & 0o777 == 0o600
    listed = fresh_cli.invoke("provider", "list")
    assert "keys.env" in listed.output
    assert "openai" in listed.output and "selected (settings)" in listed.output


def test_set_key_for_an_unknown_name_is_a_usage_error(fresh_cli: Any) -> None:
    result = fresh_cli("provider", "set-key", "not-a-provider", "x")
    assert result.returncode == 2
    assert "is neither a provider" in result.stderr


def test_mcp_add_writes_the_server_and_the_behavior_into_the_project_settings(fresh_cli: Any) -> None:
    (fresh_cli.cwd / ".amplifier").mkdir()
    result = fresh_cli.invoke("mcp", "add", "time", "--", "uvx", "mcp-server-time", "--local-timezone", "UTC")
    assert result.exit_code == 0, result.output
    settings = yaml.safe_load((fresh_cli.cwd / ".amplifier" / "settings.yaml").read_text())
    assert settings["config"]["mcp"]["servers"] == [
        {"name": "time", "command": "uvx", "args": ["mcp-server-time", "--local-timezone", "UTC"]}
    ]
    assert settings["behaviors"] == ["mcp"]
    fresh_cli.invoke("mcp", "add", "time", "--", "other-time")
    settings = yaml.safe_load((fresh_cli.cwd / ".amplifier" / "settings.yaml").read_text())
    assert [s["command"] for s in settings["config"]["mcp"]["servers"]] == ["other-time"]


def test_mcp_add_refuses_a_name_that_cannot_prefix_tool_names(fresh_cli: Any) -> None:
    result = fresh_cli("mcp", "add", "bad name", "--", "x")
    assert result.returncode == 2
    assert "is not a valid server name" in result.stderr


def test_allowed_dirs_add_list_remove(fresh_cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "out"
    assert fresh_cli.invoke("allowed-dirs", "add", str(target)).exit_code == 0
    assert fresh_cli.invoke("allowed-dirs", "list").output.strip() == str(target)
    assert fresh_cli.invoke("allowed-dirs", "remove", str(target)).exit_code == 0
    assert fresh_cli.invoke("allowed-dirs", "list").output.strip() == ""
    missing = fresh_cli("allowed-dirs", "remove", str(target))
    assert missing.returncode == 2 and "is not in allowed_write_paths" in missing.stderr
    assert fresh_cli.invoke("denied-dirs", "add", str(target)).exit_code == 0
    assert fresh_cli.invoke("denied-dirs", "list").output.strip() == str(target)


def test_routing_lists_user_matrices_and_refuses_an_unknown_one(fresh_cli: Any) -> None:
    (fresh_cli.home / "routing").mkdir(parents=True)
    (fresh_cli.home / "routing" / "mine.yaml").write_text("roles: {}\n")
    listed = fresh_cli.invoke("routing", "list")
    assert "mine" in listed.output
    assert fresh_cli.invoke("routing", "use", "mine").exit_code == 0
    assert yaml.safe_load((fresh_cli.home / "settings.yaml").read_text()) == {"routing": {"matrix": "mine"}}
    assert "active" in fresh_cli.invoke("routing", "list").output
    unknown = fresh_cli("routing", "use", "nope")
    assert unknown.returncode == 2 and "no routing matrix named 'nope'" in unknown.stderr


def test_a_bad_settings_file_stops_a_command_with_its_path(fresh_cli: Any) -> None:
    fresh_cli.home.mkdir(parents=True)
    (fresh_cli.home / "settings.yaml").write_text("colour: red\n")
    result = fresh_cli("provider", "list")
    assert result.returncode == 2
    assert "unknown setting 'colour'" in result.stderr


def test_reset_needs_confirmation_without_a_terminal_and_deletes_registrations_with_yes(
    fresh_cli: Any,
) -> None:
    fresh_cli.invoke("discover", str(ROOT / "definitions"), "--register")
    refused = fresh_cli("reset")
    assert refused.returncode == 2 and "add --yes" in refused.stderr
    assert fresh_cli.invoke("reset", "--yes").exit_code == 0
    assert not (fresh_cli.home / "agents.yaml").exists()


def test_version_prints_the_package_version(fresh_cli: Any) -> None:
    result = fresh_cli("version")
    assert result.returncode == 0
    assert result.stdout.startswith("amplifier-ipc 0.")


def test_only_commands_that_may_run_a_turn_start_the_fork_server_early() -> None:
    assert runs_a_turn(["run", "hi"])
    assert runs_a_turn(["--verbose", "run", "--agent", "minimal", "hi"])
    assert runs_a_turn(["session", "resume", "abc"])
    assert not runs_a_turn(["session", "list"])
    assert not runs_a_turn(["run", "--help"])
    assert not runs_a_turn(["agents", "list"])
    assert not runs_a_turn([])


def test_the_process_ends_with_the_commands_exit_code_and_its_output_whole(cli: Any) -> None:
    """main() ends the process without the interpreter's teardown (exit_now): the
    exit code, stdout and stderr must be exactly what the command produced."""
    missing = cli("agents", "show", "nonexistent")
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: no agent is registered as 'nonexistent'")
    listed = cli("agents", "list")
    assert listed.returncode == 0
    assert "minimal" in listed.stdout and "foundation" in listed.stdout, "output is flushed before the exit"
    helped = cli("run", "--help")
    assert helped.returncode == 0
    assert helped.stdout.rstrip().endswith(cli.invoke("run", "--help").output.rstrip().splitlines()[-1])
