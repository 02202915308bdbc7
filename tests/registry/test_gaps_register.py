"""`register SOURCE --install`: register, then a real offline uv install into a temporary AMPLIFIER_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from amplifier_ipc.registry.environments import environment
from amplifier_ipc.registry.home import AmplifierHome

CLI = str(Path(sys.executable).parent / "amplifier-ipc")
# Each command may build a venv with uv (offline); generous for a loaded 2-core machine.
CLI_TIMEOUT_S = 300.0


def run(home: AmplifierHome, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AMPLIFIER_HOME": str(home.root), "UV_OFFLINE": "1"}
    return subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, input=""
    )


@pytest.fixture
def files(kit: Any, tmp_path: Path) -> Path:
    """An agent 'a' whose behavior 'core' (a relative include) brings the tiny service."""
    kit.tiny_service(tmp_path, "core")
    kit.write(tmp_path / "defs" / "core.yaml", kit.behavior_yaml("core", service="../svc-core"))
    kit.write(tmp_path / "defs" / "a.yaml", kit.agent_yaml("a", {"core": "core.yaml"}))
    return tmp_path / "defs"


def test_register_install_registers_the_agent_and_builds_its_behaviors_services(
    files: Path, home: AmplifierHome
) -> None:
    result = run(home, "register", str(files / "a.yaml"), "--install")
    assert result.returncode == 0, result.stderr
    assert "registered agent a" in result.stderr
    assert "installed core" in result.stderr
    # Only the agent is registered; its behavior, found by a relative path, still gets an environment.
    (core_env,) = home.environments_dir.iterdir()
    core_id = core_env.name
    assert core_id.startswith("behavior_core_")
    env = environment(home, core_id)
    assert env.script("core-serve").is_file()
    record = env.record()
    assert record is not None and record["source_path"] == str(files.parent / "svc-core")
    assert list(env.root.glob("lib/python*/site-packages/core_svc/tools/__pycache__/*.pyc"))
    assert "core: installed" in run(home, "agents", "show", "a").stdout
    # Registering again with --install finds the environment current and leaves it.
    stamp = env.record_path.stat().st_mtime_ns
    again = run(home, "register", str(files / "a.yaml"), "--install")
    assert again.returncode == 0, again.stderr
    assert "core is installed" in again.stderr
    assert env.record_path.stat().st_mtime_ns == stamp


def test_register_install_of_a_service_without_its_command_keeps_the_registration_and_says_what_to_fix(
    kit: Any, files: Path, home: AmplifierHome
) -> None:
    broken = files / "broken.yaml"
    broken.write_text(
        yaml.safe_dump(
            {
                "behavior": {
                    "ref": "broken",
                    "uuid": kit.new_uuid(),
                    "service": {"source": "../svc-core", "command": "not-a-script"},
                }
            }
        )
    )
    result = run(home, "register", str(broken), "--install")
    assert result.returncode == 1
    assert "registered behavior broken" in result.stderr
    assert "broken installed, but it has no command 'not-a-script'" in result.stderr
    assert "service.command must name a script" in result.stderr
    assert "Traceback" not in result.stderr
    assert "broken" in yaml.safe_load(home.alias_file("behavior").read_text())
    # The failed install wrote no install record, so the next run or install builds it again.
    broken_id = home.lookup("broken", "behavior")
    assert environment(home, broken_id).record() is None


def test_register_install_of_a_behavior_without_a_service_says_there_is_nothing_to_install(
    kit: Any, tmp_path: Path, home: AmplifierHome
) -> None:
    plain = kit.write(
        tmp_path / "plain.yaml", kit.behavior_yaml("plain", extra="  instructions: Be brief.\n")
    )
    result = run(home, "register", str(plain), "--install")
    assert result.returncode == 0, result.stderr
    assert "registered behavior plain" in result.stderr
    assert "plain: no service to install" in result.stderr
    assert not home.environments_dir.exists() or not list(home.environments_dir.iterdir())


def test_register_install_of_a_missing_file_registers_and_installs_nothing(
    tmp_path: Path, home: AmplifierHome
) -> None:
    result = run(home, "register", str(tmp_path / "nope.yaml"), "--install")
    assert result.returncode == 2
    assert "nope.yaml: no such file" in result.stderr and "Traceback" not in result.stderr
    assert not home.alias_file("agent").exists() and not home.environments_dir.exists()
