"""Resolving behaviors: relative paths, file://, https (loopback), git (a local bare repo), cycles."""

from __future__ import annotations

import http.server
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from amplifier_ipc.registry.catalog import register_location
from amplifier_ipc.registry.definitions import parse_definition
from amplifier_ipc.registry.errors import ResolutionError
from amplifier_ipc.registry.home import AmplifierHome
from amplifier_ipc.registry.resolver import resolve_agent


def test_behaviors_resolve_recursively_relative_to_the_file_that_names_them(
    kit: Any, tmp_path: Path, home: AmplifierHome
) -> None:
    kit.write(tmp_path / "lib" / "deep" / "c.yaml", kit.behavior_yaml("c"))
    kit.write(tmp_path / "lib" / "b.yaml", kit.behavior_yaml("b", {"c": "deep/c.yaml"}))
    agent_path = kit.write(tmp_path / "agents" / "a.yaml", kit.agent_yaml("a", {"b": "../lib/b.yaml"}))
    resolved = resolve_agent(parse_definition(agent_path.read_bytes(), str(agent_path)), home)
    assert [d.ref for d in resolved.behaviors] == ["c", "b"]


def test_a_behavior_reached_twice_is_kept_once(kit: Any, tmp_path: Path, home: AmplifierHome) -> None:
    kit.write(tmp_path / "shared.yaml", kit.behavior_yaml("shared"))
    kit.write(tmp_path / "x.yaml", kit.behavior_yaml("x", {"shared": "shared.yaml"}))
    kit.write(tmp_path / "y.yaml", kit.behavior_yaml("y", {"shared": "./shared.yaml"}))
    agent_path = kit.write(tmp_path / "a.yaml", kit.agent_yaml("a", {"x": "x.yaml", "y": "y.yaml"}))
    resolved = resolve_agent(parse_definition(agent_path.read_bytes(), str(agent_path)), home)
    assert [d.ref for d in resolved.behaviors] == ["shared", "x", "y"]


def test_behaviors_that_include_each_other_are_an_error_naming_the_cycle(
    kit: Any, tmp_path: Path, home: AmplifierHome
) -> None:
    # The uuids must be stable across reads of the same file for the cycle to be seen.
    kit.write(tmp_path / "p.yaml", kit.behavior_yaml("p", {"q": "q.yaml"}))
    kit.write(tmp_path / "q.yaml", kit.behavior_yaml("q", {"p": "p.yaml"}))
    agent_path = kit.write(tmp_path / "a.yaml", kit.agent_yaml("a", {"p": "p.yaml"}))
    with pytest.raises(ResolutionError) as info:
        resolve_agent(parse_definition(agent_path.read_bytes(), str(agent_path)), home)
    assert "behaviors form a cycle: a -> p -> q -> p" in str(info.value)


def test_a_missing_behavior_is_an_error_naming_where_it_was_listed(
    kit: Any, tmp_path: Path, home: AmplifierHome
) -> None:
    agent_path = kit.write(tmp_path / "a.yaml", kit.agent_yaml("a", {"gone": "nowhere/gone.yaml"}))
    with pytest.raises(ResolutionError) as info:
        resolve_agent(parse_definition(agent_path.read_bytes(), str(agent_path)), home)
    message = str(info.value)
    assert f"behavior 'gone' named in {agent_path} cannot be resolved" in message
    assert f"{tmp_path}/nowhere/gone.yaml: no such file" in message


def test_an_agent_listed_as_a_behavior_is_refused(kit: Any, tmp_path: Path, home: AmplifierHome) -> None:
    kit.write(tmp_path / "other.yaml", kit.agent_yaml("other"))
    agent_path = kit.write(tmp_path / "a.yaml", kit.agent_yaml("a", {"other": "other.yaml"}))
    with pytest.raises(ResolutionError, match=r"'other' named in .* is an agent, not a behavior"):
        resolve_agent(parse_definition(agent_path.read_bytes(), str(agent_path)), home)


def test_file_urls_and_registered_aliases_resolve(kit: Any, tmp_path: Path, home: AmplifierHome) -> None:
    b = kit.write(tmp_path / "b.yaml", kit.behavior_yaml("b"))
    kit.write(tmp_path / "reg" / "r.yaml", kit.behavior_yaml("r"))
    register_location(home, str(tmp_path / "reg" / "r.yaml"))
    agent_path = kit.write(tmp_path / "a.yaml", kit.agent_yaml("a", {"b": f"file://{b}", "r": "r"}))
    resolved = resolve_agent(parse_definition(agent_path.read_bytes(), str(agent_path)), home)
    assert [d.ref for d in resolved.behaviors] == ["b", "r"]


def test_an_unknown_alias_says_how_to_register_it(kit: Any, tmp_path: Path, home: AmplifierHome) -> None:
    agent_path = kit.write(tmp_path / "a.yaml", kit.agent_yaml("a", {"nope": "nope"}))
    with pytest.raises(ResolutionError, match="no behavior is registered as 'nope'"):
        resolve_agent(parse_definition(agent_path.read_bytes(), str(agent_path)), home)


class _Files(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        super().do_GET()


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    root = tmp_path / "web"
    root.mkdir()
    requests: list[str] = []
    handler = type("Handler", (_Files,), {"requests": requests})

    def factory(*args: object, **kwargs: object) -> http.server.SimpleHTTPRequestHandler:
        return handler(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), factory)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root, requests
    finally:
        server.shutdown()
        server.server_close()


def test_https_behaviors_are_fetched_once_and_their_relative_includes_resolve_against_the_url(
    kit: Any, tmp_path: Path, home: AmplifierHome, web: tuple[str, Path, list[str]]
) -> None:
    base, root, requests = web
    kit.write(root / "pack" / "inner.yaml", kit.behavior_yaml("inner"))
    kit.write(root / "pack" / "outer.yaml", kit.behavior_yaml("outer", {"inner": "inner.yaml"}))
    agent_path = kit.write(tmp_path / "a.yaml", kit.agent_yaml("a", {"outer": f"{base}/pack/outer.yaml"}))
    agent = parse_definition(agent_path.read_bytes(), str(agent_path))
    first = resolve_agent(agent, home)
    second = resolve_agent(agent, home)
    assert [d.ref for d in first.behaviors] == ["inner", "outer"] == [d.ref for d in second.behaviors]
    assert sorted(requests) == ["/pack/inner.yaml", "/pack/outer.yaml"]


def test_an_http_error_is_reported_with_its_status(
    kit: Any, tmp_path: Path, home: AmplifierHome, web: tuple[str, Path, list[str]]
) -> None:
    base, _root, _requests = web
    agent_path = kit.write(tmp_path / "a.yaml", kit.agent_yaml("a", {"x": f"{base}/missing.yaml"}))
    with pytest.raises(ResolutionError, match=r"cannot fetch .*/missing.yaml: HTTP 404"):
        resolve_agent(parse_definition(agent_path.read_bytes(), str(agent_path)), home)


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_git_behaviors_are_cloned_shallow_at_a_ref_with_a_subdirectory(
    kit: Any, tmp_path: Path, home: AmplifierHome
) -> None:
    work = tmp_path / "src-repo"
    kit.write(work / "behaviors" / "g.yaml", kit.behavior_yaml("g", {"h": "h.yaml"}))
    kit.write(work / "behaviors" / "h.yaml", kit.behavior_yaml("h"))
    _git("init", "-q", "-b", "main", cwd=work)
    _git("-c", "user.email=t@t", "-c", "user.name=t", "add", ".", cwd=work)
    _git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "v1", cwd=work)
    _git("tag", "v1", cwd=work)
    bare = tmp_path / "repo.git"
    _git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    url = f"git+file://{bare}@v1#subdirectory=behaviors/g.yaml"
    agent_path = kit.write(tmp_path / "a.yaml", kit.agent_yaml("a", {"g": url}))
    resolved = resolve_agent(parse_definition(agent_path.read_bytes(), str(agent_path)), home)
    assert [d.ref for d in resolved.behaviors] == ["h", "g"]
    clones = list((home.cache_dir / "git").iterdir())
    assert len(clones) == 1
    shallow = subprocess.run(
        ["git", "rev-parse", "--is-shallow-repository"], cwd=clones[0], capture_output=True, text=True
    )
    assert shallow.stdout.strip() == "true"


def test_a_git_ref_that_does_not_exist_is_an_error_naming_it(
    kit: Any, tmp_path: Path, home: AmplifierHome
) -> None:
    work = tmp_path / "r"
    kit.write(work / "x.yaml", kit.behavior_yaml("x"))
    _git("init", "-q", "-b", "main", cwd=work)
    _git("-c", "user.email=t@t", "-c", "user.name=t", "add", ".", cwd=work)
    _git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "v1", cwd=work)
    agent_path = kit.write(
        tmp_path / "a.yaml", kit.agent_yaml("a", {"x": f"git+file://{work}@nope#subdirectory=x.yaml"})
    )
    with pytest.raises(ResolutionError, match=r"cannot fetch file://.*@nope"):
        resolve_agent(parse_definition(agent_path.read_bytes(), str(agent_path)), home)


def test_an_unsupported_scheme_is_refused_with_the_supported_ones(
    kit: Any, tmp_path: Path, home: AmplifierHome
) -> None:
    agent_path = kit.write(tmp_path / "a.yaml", kit.agent_yaml("a", {"x": "ftp://host/x.yaml"}))
    with pytest.raises(ResolutionError, match="unsupported scheme 'ftp'"):
        resolve_agent(parse_definition(agent_path.read_bytes(), str(agent_path)), home)
