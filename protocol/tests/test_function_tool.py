"""A tool from a plain async function: schema from type hints and docstring."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from amplifier_ipc_protocol.function_tool import FunctionTool, schema_for_function


async def greet(name: str, times: int = 1, loud: bool = False, tone: Literal["warm", "cold"] = "warm") -> str:
    """Greet someone.

    Says hello, more than once if asked.

    Args:
        name: who to greet
        times: how many times; continues
            on the next line
        loud: shout it

    Returns:
        the greeting
    """
    return " ".join([f"hello {name}"] * times)


def test_the_schema_comes_from_the_hints_and_the_docstring() -> None:
    description, schema = schema_for_function(greet)
    assert description == "Greet someone.\n\nSays hello, more than once if asked."
    assert schema == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "who to greet"},
            "times": {
                "type": "integer",
                "description": "how many times; continues on the next line",
                "default": 1,
            },
            "loud": {"type": "boolean", "description": "shout it", "default": False},
            "tone": {"enum": ["warm", "cold"], "default": "warm"},
        },
        "required": ["name"],
        "additionalProperties": False,
    }


async def nullable(
    path: str | None, items: list[int] | None = None, extra: dict[str, Any] | None = None
) -> None:
    """:param path: where
    :param items: which"""


def test_optional_hints_admit_null_and_a_parameter_without_default_stays_required() -> None:
    description, schema = schema_for_function(nullable)
    assert description == ""
    assert schema["required"] == ["path"]
    assert schema["properties"]["path"] == {"type": ["string", "null"], "description": "where"}
    assert schema["properties"]["items"] == {
        "type": ["array", "null"],
        "items": {"type": "integer"},
        "description": "which",
    }
    assert schema["properties"]["extra"] == {"type": ["object", "null"]}


async def open_ended(query: str, **options: Any) -> dict[str, Any]:
    return {"query": query, **options}


def test_a_function_taking_kwargs_accepts_unknown_fields() -> None:
    _, schema = schema_for_function(open_ended)
    assert "additionalProperties" not in schema


async def union(value: int | str, anything: Any, untyped) -> None:  # type: ignore[no-untyped-def]
    pass


def test_unions_become_any_of_and_missing_hints_accept_anything() -> None:
    _, schema = schema_for_function(union)
    assert schema["properties"]["value"] == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert schema["properties"]["anything"] == {}
    assert schema["properties"]["untyped"] == {}


async def unsupported(when: complex) -> None:
    pass


def test_a_hint_with_no_json_schema_is_a_clear_error_naming_the_parameter() -> None:
    with pytest.raises(TypeError, match="parameter when: type hint <class 'complex'> has no JSON schema"):
        schema_for_function(unsupported)


async def positional(a: int, /) -> None:
    pass


def test_a_positional_only_parameter_is_refused_because_input_arrives_by_keyword() -> None:
    with pytest.raises(TypeError, match="positional-only"):
        schema_for_function(positional)


def test_a_plain_function_is_refused_because_tools_are_async() -> None:
    def sync(a: int) -> int:
        return a

    with pytest.raises(TypeError, match="must be async"):
        FunctionTool(sync)


async def test_the_tool_calls_the_function_with_the_input_as_keywords() -> None:
    wrapped = FunctionTool(greet)
    assert wrapped.name == "greet"
    assert wrapped.description.startswith("Greet someone.")
    assert await wrapped.execute({"name": "ada", "times": 2}) == "hello ada hello ada"


def test_a_given_name_and_description_win_over_the_derived_ones() -> None:
    wrapped = FunctionTool(greet, name="hello", description="Say hello.")
    assert (wrapped.name, wrapped.description) == ("hello", "Say hello.")
