"""The Host's pure parts: describe checks, tool routing rules, mentions, environment."""

from __future__ import annotations

from typing import Any

import pytest

from amplifier_ipc.host import RoutingError, ServiceSpec
from amplifier_ipc.host.process import build_env
from amplifier_ipc.host.prompt import find_mentions
from amplifier_ipc.host.routing import RoutingTable, check_describe


def describe(**capabilities: Any) -> dict[str, Any]:
    return {"name": "svc", "protocol_version": 1, "capabilities": capabilities}


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("nope", "expected an object, got str"),
        ({"protocol_version": 2, "capabilities": {}}, "protocol_version is 2"),
        (describe(tools=[{"name": "t"}]), "tool t has no object input_schema"),
        (describe(tools=[{"description": "x"}]), "a tool has no name"),
        (describe(hooks=[{"name": "h", "events": []}]), "hook h needs a non-empty list of events"),
        (
            describe(hooks=[{"name": "h", "events": ["*"], "priority": "high"}]),
            "priority that is not an integer",
        ),
        (describe(providers=[{}]), "an entry of capabilities.providers has no name"),
        (describe(content={"paths": [1]}), "content.paths must be a list of strings"),
    ],
)
def test_a_wrong_describe_answer_is_refused_with_what_is_wrong(answer, problem):
    with pytest.raises(ValueError, match="service svc answered describe wrongly") as caught:
        check_describe("svc", answer)
    assert problem in str(caught.value)


def test_components_resolve_by_service_and_name_or_by_bare_name():
    table = RoutingTable.build(
        [
            ("a", {"providers": [{"name": "mock"}]}),
            ("b", {"providers": [{"name": "mock"}, {"name": "other"}]}),
        ]
    )
    assert str(table.resolve("providers", "b:mock")) == "b:mock"
    assert str(table.resolve("providers", "other")) == "b:other"
    with pytest.raises(RoutingError, match="offered by several services"):
        table.resolve("providers", "mock")
    with pytest.raises(RoutingError, match="several providers are offered"):
        table.resolve("providers", None)
    with pytest.raises(
        RoutingError, match=r"no provider named c:mock in this session \(offered: a:mock, b:mock, b:other\)"
    ):
        table.resolve("providers", "c:mock")
    with pytest.raises(RoutingError, match="no service of this session offers an orchestrator"):
        table.resolve("orchestrators", None)


def test_a_tool_conflicts_rule_naming_a_service_that_does_not_offer_the_tool_is_an_error():
    schema = {"type": "object"}
    offers = [
        ("a", {"tools": [{"name": "t", "input_schema": schema}]}),
        ("b", {"tools": [{"name": "t", "input_schema": schema}]}),
    ]
    assert RoutingTable.build(offers, {"t": "b"}).tools["t"].service == "b"
    with pytest.raises(RoutingError, match="tool_conflicts names c for tool t, but t is offered by a, b"):
        RoutingTable.build(offers, {"t": "c"})


def test_mentions_are_found_but_email_addresses_and_code_are_not():
    text = "See @notes.md, @core:context/a.md and @~/x.md. Mail me@example.com; `@decorator` stays."
    assert find_mentions(text) == ["notes.md", "core:context/a.md", "~/x.md"]


def test_the_environment_holds_the_base_set_the_allowed_names_and_explicit_values(monkeypatch):
    monkeypatch.setenv("PATH", "/bin")
    monkeypatch.setenv("MY_KEY", "k")
    monkeypatch.setenv("OTHER_KEY", "o")
    monkeypatch.setenv("AMPLIFIER_HOME", "/amp")
    env = build_env(ServiceSpec("s", ["x"], env_allow=["MY_KEY", "ABSENT"], env={"EXTRA": "1"}), "sid")
    assert env["PATH"] == "/bin" and env["MY_KEY"] == "k" and env["EXTRA"] == "1"
    assert env["AMPLIFIER_HOME"] == "/amp" and env["AMPLIFIER_SESSION_ID"] == "sid"
    assert "OTHER_KEY" not in env and "ABSENT" not in env
