"""register, update, install --force, uninstall, unregister and tool list on a home of their own.

These commands change installed environments, so they get a private
AMPLIFIER_HOME (not the shared ``installed_home`` other tests run against).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import Cli

ROOT = Path(__file__).resolve().parents[2]
FOUNDATION_FILE_TOOLS = {"read_file", "write_file", "edit_file", "glob", "grep", "bash"}


def agent_yaml(description: str) -> str:
    return yaml.safe_dump(
        {
            "agent": {
                "ref": "tiny",
                "uuid": "0b6f9a52-5d1e-4a43-9c55-3f0f6f0d7a11",
                "description": description,
                "orchestrator": "foundation:streaming",
                "context_manager": "foundation:simple",
                "behaviors": [
                    {"foundation": str(ROOT / "services/amplifier-foundation/behaviors/foundation.yaml")},
                    {"providers": str(ROOT / "services/amplifier-providers/behaviors/providers.yaml")},
                ],
            }
        }
    )


@pytest.fixture
def own(tmp_path: Path) -> Cli:
    """A CLI on its own home with the checkout's services registered and an agent file of its own."""
    work = tmp_path / "project"
    work.mkdir()
    cli = Cli(tmp_path / "home", work)
    done = cli("discover", str(ROOT / "services"), "--register")
    assert done.returncode == 0, done.stderr
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "tiny.yaml").write_text(agent_yaml("first description"))
    return cli


def agent_file(cli: Cli) -> Path:
    return cli.home.parent / "defs" / "tiny.yaml"


def env_dirs(cli: Cli) -> set[str]:
    root = cli.home / "environments"
    return {p.name for p in root.iterdir()} if root.is_dir() else set()


def test_register_caches_the_definition_with_its_source_and_names_it(own: Cli) -> None:
    result = own("register", str(agent_file(own)))
    assert result.returncode == 0, result.stderr
    assert "registered agent tiny" in result.stderr
    aliases = yaml.safe_load((own.home / "agents.yaml").read_text())
    assert aliases["tiny"].endswith("0b6f9a52-5d1e-4a43-9c55-3f0f6f0d7a11")
    cached = yaml.safe_load((own.home / "definitions" / f"{aliases['tiny']}.yaml").read_text())
    assert cached["_meta"]["source_url"] == str(agent_file(own))
    listed = own("agents", "list")
    assert "tiny" in listed.stdout and "first description" in listed.stdout


def test_register_with_an_alias_and_a_missing_source_is_an_error(own: Cli) -> None:
    assert own("register", str(agent_file(own)), "--alias", "mine").returncode == 0
    assert "mine" in yaml.safe_load((own.home / "agents.yaml").read_text())
    missing = own("register", str(own.cwd / "nope.yaml"))
    assert missing.returncode != 0
    assert "nope.yaml" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_unregister_removes_the_alias_and_the_cached_definition(own: Cli) -> None:
    own("register", str(agent_file(own)))
    cached = {p.name for p in (own.home / "definitions").iterdir()}
    assert any("tiny" in name for name in cached)
    result = own("unregister", "tiny")
    assert result.returncode == 0, result.stderr
    assert "unregistered tiny" in result.stderr
    assert "tiny" not in (yaml.safe_load((own.home / "agents.yaml").read_text()) or {})
    assert not any("tiny" in p.name for p in (own.home / "definitions").iterdir())
    assert "tiny" not in own("agents", "list").stdout


def test_update_check_reports_a_change_and_update_registers_the_new_text(own: Cli) -> None:
    own("register", str(agent_file(own)))
    assert "tiny: up to date" in own("update", "tiny", "--check").stdout
    agent_file(own).write_text(agent_yaml("second description"))
    checked = own("update", "tiny", "--check")
    assert checked.returncode == 0, checked.stderr
    assert "tiny: changed" in checked.stdout
    # --check only looks: the registered definition is still the first one.
    assert "first description" in own("agents", "list").stdout
    updated = own("update", "tiny")
    assert updated.returncode == 0, updated.stderr
    assert "tiny: updated" in updated.stderr
    assert "second description" in own("agents", "list").stdout
    # update reinstalls: the agent's services now have environments.
    assert len(env_dirs(own)) == 2
    again = own("update", "tiny")
    assert "tiny: up to date" in again.stderr


def test_update_of_an_unknown_name_is_an_error(own: Cli) -> None:
    result = own("update", "nope")
    assert result.returncode == 2
    assert "nope" in result.stderr and "Traceback" not in result.stderr


def test_install_force_rebuilds_and_uninstall_removes_the_environments(own: Cli) -> None:
    own("register", str(agent_file(own)))
    first = own("install", "tiny")
    assert first.returncode == 0, first.stderr
    assert "installed foundation" in first.stderr and "installed providers" in first.stderr
    envs = env_dirs(own)
    assert len(envs) == 2
    for name in envs:
        (own.home / "environments" / name / "marker").write_text("left by the test")
    current = own("install", "tiny")
    assert "foundation is installed" in current.stderr and "providers is installed" in current.stderr
    forced = own("install", "tiny", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "installed foundation" in forced.stderr and "installed providers" in forced.stderr
    # A forced install deletes and recreates each environment folder.
    assert env_dirs(own) == envs
    assert not any((own.home / "environments" / name / "marker").exists() for name in envs)
    removed = own("uninstall", "tiny")
    assert removed.returncode == 0, removed.stderr
    assert "removed the environments of foundation, providers" in removed.stderr
    assert env_dirs(own) == set()
    assert "tiny had no environments" in own("uninstall", "tiny").stderr
    shown = own("agents", "show", "tiny")
    assert "foundation: not installed" in shown.stdout and "providers: not installed" in shown.stdout


def test_tool_list_names_every_tool_with_its_service(cli: Any) -> None:
    result = cli("tool", "list", "--agent", "minimal")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines() if len(line.split()) > 1}
    for name in FOUNDATION_FILE_TOOLS:
        assert rows.get(name) == "foundation", (name, result.stdout)


def test_tool_list_for_an_unregistered_agent_is_an_error(cli: Any) -> None:
    result = cli("tool", "list", "--agent", "nope")
    assert result.returncode == 2
    assert "no agent is registered as 'nope'" in result.stderr
