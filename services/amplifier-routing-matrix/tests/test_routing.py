"""The routing-matrix hook through a real process, with a test-side Host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from amplifier_ipc_protocol import ProtocolError
from amplifier_ipc_protocol.testing import HostDouble, python_service

MODULE = "amplifier_routing_matrix"


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    return work, home


async def emit(host: HostDouble, data: dict[str, Any]) -> dict[str, Any]:
    return await host.emit_hook("provider:request", {"session_id": "s", **data}, name="routing")


REQUEST = {"messages": [{"role": "user", "content": "hi"}], "model": "whatever"}


async def test_a_role_in_the_event_data_selects_provider_and_model(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    async with python_service(
        MODULE, cwd=work, home=home, config={"routing": {"matrix": "balanced"}}
    ) as host:
        result = await emit(host, {"model_role": "fast", "request": REQUEST})
    assert result["action"] == "MODIFY"
    data = result["data"]
    assert (data["provider"], data["model"]) == ("anthropic", "claude-haiku-4-5")
    assert data["request"]["model"] == "claude-haiku-4-5"
    assert data["request"]["messages"] == REQUEST["messages"]
    assert data["routing"] == {
        "matrix": "balanced",
        "role": "fast",
        "requested_role": "fast",
        "provider": "anthropic",
        "model": "claude-haiku-4-5",
    }
    assert data["session_id"] == "s"


async def test_the_role_may_come_from_request_metadata(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    async with python_service(MODULE, cwd=work, home=home) as host:
        result = await emit(host, {"request": {**REQUEST, "metadata": {"model_role": "reasoning"}}})
    assert result["data"]["model"] == "claude-opus-4-1"


async def test_only_available_providers_are_chosen(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    async with python_service(
        MODULE, cwd=work, home=home, config={"routing": {"providers": ["gemini"]}}
    ) as host:
        by_config = await emit(host, {"model_role": "fast"})
        by_event = await emit(host, {"model_role": "fast", "available_providers": ["openai"]})
        none = await emit(host, {"model_role": "writing"})
    assert (by_config["data"]["provider"], by_config["data"]["model"]) == ("gemini", "gemini-2.5-flash")
    assert (by_event["data"]["provider"], by_event["data"]["model"]) == ("openai", "gpt-5-mini")
    assert none["action"] == "CONTINUE"


async def test_a_request_that_asks_for_no_role_keeps_the_sessions_provider(dirs: tuple[Path, Path]) -> None:
    # Regression: the foundation agent run with --provider scripted (or the
    # offline local model) was routed to anthropic by the default role.
    work, home = dirs
    async with python_service(MODULE, cwd=work, home=home, config={"routing": {"matrix": "economy"}}) as host:
        plain = await emit(host, {"provider": "scripted"})
    assert plain["action"] == "CONTINUE"
    assert "data" not in plain or plain["data"].get("provider") in (None, "scripted")


async def test_an_unknown_role_uses_the_default_role(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    async with python_service(MODULE, cwd=work, home=home, config={"routing": {"matrix": "economy"}}) as host:
        odd = await emit(host, {"model_role": "poetry"})
    assert odd["data"]["model"] == "claude-haiku-4-5"
    assert odd["data"]["routing"]["role"] == "default"
    assert odd["data"]["routing"]["requested_role"] == "poetry"


async def test_a_project_matrix_overrides_a_shipped_one_of_the_same_name(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    (work / ".amplifier" / "routing").mkdir(parents=True)
    (work / ".amplifier" / "routing" / "balanced.yaml").write_text(
        "roles:\n  fast:\n    - {provider: openai, model: gpt-4o}\n"
    )
    async with python_service(MODULE, cwd=work, home=home) as host:
        result = await emit(host, {"model_role": "fast"})
    assert result["data"]["model"] == "gpt-4o"


async def test_a_matrix_file_path_may_be_configured(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    path = work / "mine.yaml"
    path.write_text("name: mine\nroles:\n  coding: {provider: local, model: qwen}\n")
    async with python_service(MODULE, cwd=work, home=home, config={"routing": {"matrix": str(path)}}) as host:
        result = await emit(host, {"model_role": "coding"})
    assert result["data"]["routing"]["matrix"] == "mine"
    assert (result["data"]["provider"], result["data"]["model"]) == ("local", "qwen")


async def test_an_unknown_matrix_fails_configure_naming_the_available_ones(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    with pytest.raises(ProtocolError) as caught:
        async with python_service(MODULE, cwd=work, home=home, config={"routing": {"matrix": "nope"}}):
            pass
    assert "no routing matrix named 'nope'" in caught.value.message
    assert "balanced" in caught.value.message


async def test_a_malformed_matrix_fails_configure_saying_what_is_wrong(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    path = work / "bad.yaml"
    path.write_text("roles:\n  fast:\n    - {provider: openai}\n")
    with pytest.raises(ProtocolError) as caught:
        async with python_service(MODULE, cwd=work, home=home, config={"routing": {"matrix": str(path)}}):
            pass
    assert "role 'fast' entry 0 needs string 'provider' and 'model'" in caught.value.message


async def test_every_shipped_matrix_loads_and_has_a_default_role(dirs: tuple[Path, Path]) -> None:
    work, home = dirs
    async with python_service(MODULE, cwd=work, home=home) as host:
        listed = await host.call("content.list", {"prefix": "context/routing/"})
    names = [Path(p).stem for p in listed["paths"]]
    assert {"balanced", "economy", "quality", "local"} <= set(names)
    for name in names:
        async with python_service(MODULE, cwd=work, home=home, config={"routing": {"matrix": name}}) as host:
            result = await emit(host, {"model_role": "default"})
        assert result["action"] == "MODIFY", name
