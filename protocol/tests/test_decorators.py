"""Decorators mark components without changing them."""

from __future__ import annotations

from typing import Any

import pytest
from amplifier_ipc_protocol.decorators import context_manager, hook, mark_of, orchestrator, provider, tool


def test_a_decorated_class_is_returned_unchanged_and_carries_its_mark() -> None:
    class Plain:
        async def execute(self, input: dict[str, Any]) -> str:
            return "x"

    attributes = dict(vars(Plain))
    marked = tool(Plain)
    assert marked is Plain
    assert dict(vars(Plain)) == attributes
    mark = mark_of(Plain)
    assert mark is not None and mark.kind == "tool" and mark.name is None


def test_a_tool_may_be_given_a_name_and_description() -> None:
    @tool(name="renamed", description="Does things.")
    class Named:
        pass

    mark = mark_of(Named)
    assert mark is not None
    assert (mark.name, mark.options) == ("renamed", {"description": "Does things."})


def test_a_hook_carries_its_events_and_priority() -> None:
    @hook(events=["tool:pre", "*"], priority=-3, name="guard")
    class Guard:
        pass

    mark = mark_of(Guard)
    assert mark is not None
    assert (mark.kind, mark.events, mark.priority, mark.name) == ("hook", ("tool:pre", "*"), -3, "guard")


def test_a_hook_without_events_is_refused_saying_what_to_pass() -> None:
    with pytest.raises(ValueError, match=r"@hook needs events=\[...\]"):
        hook(events=[])


@pytest.mark.parametrize(
    ("decorator", "kind"),
    [(provider, "provider"), (orchestrator, "orchestrator"), (context_manager, "context_manager")],
)
def test_the_other_decorators_work_bare_and_with_a_name(decorator: Any, kind: str) -> None:
    class Bare:
        pass

    class Named:
        pass

    assert decorator(Bare) is Bare
    assert decorator(name="n")(Named) is Named
    assert mark_of(Bare).kind == kind  # type: ignore[union-attr]
    assert mark_of(Named).name == "n"  # type: ignore[union-attr]


def test_an_async_function_can_be_a_tool() -> None:
    @tool
    async def ping() -> str:
        return "pong"

    assert mark_of(ping) is not None


def test_something_that_is_not_callable_cannot_be_marked() -> None:
    with pytest.raises(TypeError, match="marks a class or an async function, not int"):
        tool(3)


def test_unmarked_and_unhashable_objects_have_no_mark() -> None:
    assert mark_of(object()) is None
    assert mark_of({}) is None
