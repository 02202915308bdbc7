"""`update NAME` and `update NAME --check` of definitions registered from https:// and git sources.

Everything is real: the CLI entry point in a subprocess, a loopback HTTP
server, a local bare git repository, uv installs (offline) into a temporary
AMPLIFIER_HOME. `--check` must change nothing: not the registered
definition, not the caches, not the environment.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from amplifier_ipc.registry.environments import environment
from amplifier_ipc.registry.home import AmplifierHome

CLI = str(Path(sys.executable).parent / "amplifier-ipc")
# Each command may build a venv with uv (offline); generous for a loaded 2-core machine.
CLI_TIMEOUT_S = 300.0
UUID = "5d0c1f7e-8a53-4b8e-9a0e-2b1c6d4e7f01"
SHOUT_TOOL = """

@tool(name="shout")
class Shout:
    description = "Shout the input back."
    input_schema = {"type": "object", "properties": {"text": {"type": "string"}}}

    async def execute(self, input):
        return {"success": True, "output": input.get("text", "").upper()}
"""


def run(home: AmplifierHome, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AMPLIFIER_HOME": str(home.root), "UV_OFFLINE": "1"}
    return subprocess.run(
        [CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, input=""
    )


def behavior(description: str, source: str) -> str:
    return yaml.safe_dump(
        {
            "behavior": {
                "ref": "core",
                "uuid": UUID,
                "description": description,
                "service": {"source": source, "command": "core-serve"},
            }
        }
    )


def installed_components(home: AmplifierHome) -> str:
    env = environment(home, f"behavior_core_{UUID}")
    (found,) = env.root.glob("lib/python*/site-packages/core_svc/tools/components.py")
    return found.read_text()


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a digest of its bytes and its mtime.

    Skipped: the venvs' own files, and the parsed-YAML cache (keyed by the
    bytes' digest, so an entry can never be stale: adding one changes nothing).
    """
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        skipped = ("lib", "bin", "include", "share") + (("yaml",) if Path(dirpath) == root / "cache" else ())
        dirnames[:] = [d for d in dirnames if d not in skipped]
        for name in filenames:
            path = Path(dirpath) / name
            data = path.read_bytes()
            out[str(path.relative_to(root))] = f"{hashlib.sha256(data).hexdigest()}:{path.stat().st_mtime_ns}"
    return out


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


# -- https -------------------------------------------------------------------------------------


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "web"
    root.mkdir()

    def factory(*args: Any, **kwargs: Any) -> http.server.SimpleHTTPRequestHandler:
        return _Files(*args, directory=str(root), **kwargs)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), factory)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_update_of_an_https_definition_notices_a_new_service_source_refetches_and_reinstalls(
    kit: Any, tmp_path: Path, home: AmplifierHome, web: tuple[str, Path]
) -> None:
    base, root = web
    first = kit.tiny_service(tmp_path / "v1", "core")
    second = kit.tiny_service(tmp_path / "v2", "core")
    with (second / "src" / "core_svc" / "tools" / "components.py").open("a") as handle:
        handle.write(SHOUT_TOOL)
    (root / "core.yaml").write_text(behavior("first", str(first)))
    url = f"{base}/core.yaml"

    registered = run(home, "register", url, "--install")
    assert registered.returncode == 0, registered.stderr
    assert "installed core" in registered.stderr
    assert "shout" not in installed_components(home)
    assert "core: up to date" in run(home, "update", "core", "--check").stdout

    (root / "core.yaml").write_text(behavior("second", str(second)))
    before = snapshot(home.root)
    checked = run(home, "update", "core", "--check")
    assert checked.returncode == 0, checked.stderr
    assert "core: changed" in checked.stdout and "definition" in checked.stdout
    assert snapshot(home.root) == before, "--check changed AMPLIFIER_HOME"
    assert home.load_alias("core").description == "first"
    assert "shout" not in installed_components(home)

    updated = run(home, "update", "core")
    assert updated.returncode == 0, updated.stderr
    assert "core: updated" in updated.stderr
    assert "installing core (source changed)" in updated.stderr or "installed core" in updated.stderr
    assert home.load_alias("core").description == "second"
    assert "shout" in installed_components(home)
    again = run(home, "update", "core")
    assert "core: up to date" in again.stderr and "core is installed" in again.stderr


def test_update_check_of_an_https_definition_that_is_gone_says_so_and_keeps_the_registration(
    kit: Any, tmp_path: Path, home: AmplifierHome, web: tuple[str, Path]
) -> None:
    base, root = web
    (root / "core.yaml").write_text(behavior("first", str(kit.tiny_service(tmp_path, "core"))))
    assert run(home, "register", f"{base}/core.yaml").returncode == 0
    (root / "core.yaml").unlink()
    for args in (("update", "core", "--check"), ("update", "core")):
        result = run(home, *args)
        assert result.returncode == 2, result.stderr
        assert "HTTP 404" in result.stderr and f"{base}/core.yaml" in result.stderr
        assert "Traceback" not in result.stderr
    assert home.load_alias("core").description == "first"


# -- git ---------------------------------------------------------------------------------------


@pytest.fixture
def repo(kit: Any, tmp_path: Path) -> tuple[Path, Path]:
    """A work tree with a service and its definition, pushed to a bare repository."""
    work = tmp_path / "work"
    kit.tiny_service(work, "core")
    (work / "defs").mkdir()
    (work / "defs" / "core.yaml").write_text(behavior("first", "../svc-core"))
    git("init", "-q", "-b", "main", cwd=work)
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "v1", cwd=work)
    bare = tmp_path / "repo.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    git("remote", "add", "origin", str(bare), cwd=work)
    return work, bare


def push(work: Path, message: str) -> None:
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    git("push", "-q", "origin", "main", cwd=work)


def test_update_of_a_git_definition_notices_a_new_commit_of_its_service_and_reinstalls(
    repo: tuple[Path, Path], home: AmplifierHome
) -> None:
    work, bare = repo
    url = f"git+file://{bare}@main#subdirectory=defs/core.yaml"
    registered = run(home, "register", url, "--install")
    assert registered.returncode == 0, registered.stderr
    assert "shout" not in installed_components(home)
    checked = run(home, "update", "core", "--check")
    assert checked.returncode == 0, checked.stderr
    assert "core: up to date" in checked.stdout
    # Nothing changed upstream: update neither re-registers new text nor reinstalls.
    same = run(home, "update", "core")
    assert same.returncode == 0, same.stderr
    assert "core: up to date" in same.stderr and "core is installed" in same.stderr

    # Only the service's code changes; the definition's text stays the same.
    with (work / "svc-core" / "src" / "core_svc" / "tools" / "components.py").open("a") as handle:
        handle.write(SHOUT_TOOL)
    push(work, "v2: shout")
    before = snapshot(home.root)
    checked = run(home, "update", "core", "--check")
    assert checked.returncode == 0, checked.stderr
    assert "core: changed" in checked.stdout and "new commit" in checked.stdout
    assert snapshot(home.root) == before, "--check changed AMPLIFIER_HOME"
    assert "shout" not in installed_components(home)

    updated = run(home, "update", "core")
    assert updated.returncode == 0, updated.stderr
    assert "core: updated" in updated.stderr
    assert "installed core" in updated.stderr
    assert "shout" in installed_components(home)


def test_update_of_a_git_definition_registers_its_new_text(
    repo: tuple[Path, Path], home: AmplifierHome
) -> None:
    work, bare = repo
    url = f"git+file://{bare}@main#subdirectory=defs/core.yaml"
    assert run(home, "register", url).returncode == 0
    (work / "defs" / "core.yaml").write_text(behavior("second", "../svc-core"))
    push(work, "v2: description")
    checked = run(home, "update", "core", "--check")
    assert "core: changed" in checked.stdout and "definition" in checked.stdout
    assert home.load_alias("core").description == "first"
    updated = run(home, "update", "core")
    assert updated.returncode == 0, updated.stderr
    assert "core: updated" in updated.stderr
    assert home.load_alias("core").description == "second"
    assert environment(home, f"behavior_core_{UUID}").record() is not None


def test_update_of_a_git_service_source_named_by_a_local_definition_fetches_its_new_commit(
    kit: Any, tmp_path: Path, home: AmplifierHome
) -> None:
    work = tmp_path / "svc-repo"
    kit.tiny_service(work, "core")
    git("init", "-q", "-b", "main", cwd=work)
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "v1", cwd=work)
    bare = tmp_path / "svc.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    git("remote", "add", "origin", str(bare), cwd=work)
    definition = tmp_path / "defs" / "core.yaml"
    definition.parent.mkdir()
    definition.write_text(behavior("first", f"git+file://{bare}@main#subdirectory=svc-core"))
    assert run(home, "register", str(definition), "--install").returncode == 0
    assert "shout" not in installed_components(home)

    with (work / "svc-core" / "src" / "core_svc" / "tools" / "components.py").open("a") as handle:
        handle.write(SHOUT_TOOL)
    push(work, "v2: shout")
    before = snapshot(home.root)
    checked = run(home, "update", "core", "--check")
    assert checked.returncode == 0, checked.stderr
    assert "core: changed" in checked.stdout and "new commit" in checked.stdout
    assert snapshot(home.root) == before, "--check changed AMPLIFIER_HOME"
    updated = run(home, "update", "core")
    assert updated.returncode == 0, updated.stderr
    assert "core: updated" in updated.stderr
    assert "shout" in installed_components(home)


def test_update_of_a_git_definition_whose_ref_is_gone_names_the_ref(
    repo: tuple[Path, Path], home: AmplifierHome
) -> None:
    work, bare = repo
    git("branch", "-q", "release", cwd=work)
    git("push", "-q", "origin", "release", cwd=work)
    assert run(home, "register", f"git+file://{bare}@release#subdirectory=defs/core.yaml").returncode == 0
    git("push", "-q", "origin", "--delete", "release", cwd=work)
    for args in (("update", "core", "--check"), ("update", "core")):
        result = run(home, *args)
        assert result.returncode == 2, result.stderr
        assert "release" in result.stderr and "Traceback" not in result.stderr
    assert home.load_alias("core").description == "first"


# -- behaviors an agent includes by URL --------------------------------------------------------


def agent_including(tmp_path: Path, location: str) -> Path:
    path = tmp_path / "defs" / "a.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        yaml.safe_dump(
            {
                "agent": {
                    "ref": "a",
                    "uuid": "7c4b8e21-0f3a-4d5b-9e6c-1a2b3c4d5e6f",
                    "orchestrator": "core:loop",
                    "context_manager": "core:memory",
                    "behaviors": [{"core": location}],
                }
            }
        )
    )
    return path


def included_instructions(home: AmplifierHome) -> str:
    from amplifier_ipc.registry.resolver import resolve_agent

    (behavior,) = resolve_agent(home.load_alias("a"), home).behaviors
    return behavior.instructions


def test_update_fetches_again_a_behavior_the_agent_includes_by_https_url(
    kit: Any, tmp_path: Path, home: AmplifierHome, web: tuple[str, Path]
) -> None:
    base, root = web
    service = kit.tiny_service(tmp_path, "core")
    text = behavior("first", str(service))
    (root / "core.yaml").write_text(
        text.replace("  description:", "  instructions: Say one.\n  description:")
    )
    agent = agent_including(tmp_path, f"{base}/core.yaml")
    assert run(home, "register", str(agent), "--install").returncode == 0
    assert included_instructions(home) == "Say one."
    assert "a: up to date" in run(home, "update", "a", "--check").stdout

    (root / "core.yaml").write_text(
        text.replace("  description:", "  instructions: Say two.\n  description:")
    )
    before = snapshot(home.root)
    checked = run(home, "update", "a", "--check")
    assert checked.returncode == 0, checked.stderr
    assert f"a: changed: the behavior core changed ({base}/core.yaml)" in checked.stdout
    assert snapshot(home.root) == before, "--check changed AMPLIFIER_HOME"
    assert included_instructions(home) == "Say one."

    updated = run(home, "update", "a")
    assert updated.returncode == 0, updated.stderr
    assert "a: updated: the behavior core changed" in updated.stderr
    assert included_instructions(home) == "Say two."


def test_update_fetches_a_new_commit_of_a_behaviors_repository_and_reinstalls_its_service(
    repo: tuple[Path, Path], tmp_path: Path, home: AmplifierHome
) -> None:
    work, bare = repo
    agent = agent_including(tmp_path, f"git+file://{bare}@main#subdirectory=defs/core.yaml")
    assert run(home, "register", str(agent), "--install").returncode == 0
    assert "shout" not in installed_components(home)
    with (work / "svc-core" / "src" / "core_svc" / "tools" / "components.py").open("a") as handle:
        handle.write(SHOUT_TOOL)
    push(work, "v2: shout")
    checked = run(home, "update", "a", "--check")
    assert "a: changed: new commit" in checked.stdout and "the behavior core's repository" in checked.stdout
    updated = run(home, "update", "a")
    assert updated.returncode == 0, updated.stderr
    assert "a: updated: new commit" in updated.stderr
    assert "shout" in installed_components(home)
