"""The small JSON Schema validator used for tool input."""

from __future__ import annotations

from typing import Any

import pytest
from amplifier_ipc_protocol.schema import SchemaViolation, check_object_schema, validate

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "minLength": 1, "maxLength": 10, "pattern": "^[a-z/]+$"},
        "count": {"type": "integer", "minimum": 1, "maximum": 5},
        "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "mode": {"enum": ["r", "w"]},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
        "nested": {"type": "object", "properties": {"deep": {"type": "boolean"}}, "required": ["deep"]},
        "either": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "fixed": {"const": 3},
        "both": {"allOf": [{"type": "integer"}, {"minimum": 2}]},
    },
    "required": ["path"],
    "additionalProperties": False,
}


def test_valid_input_passes() -> None:
    validate(
        {
            "path": "a/b",
            "count": 2,
            "ratio": 0.5,
            "mode": "r",
            "tags": ["x"],
            "nested": {"deep": True},
            "either": None,
            "fixed": 3,
            "both": 4,
        },
        SCHEMA,
    )


@pytest.mark.parametrize(
    ("value", "field", "problem"),
    [
        ({}, "path", "is required"),
        ({"path": 5}, "path", "expected string, got integer"),
        ({"path": ""}, "path", "at least 1"),
        ({"path": "a" * 11}, "path", "at most 10"),
        ({"path": "A"}, "path", "pattern"),
        ({"path": "a", "count": 0}, "count", ">= 1"),
        ({"path": "a", "count": 6}, "count", "<= 5"),
        ({"path": "a", "count": True}, "count", "expected integer, got boolean"),
        ({"path": "a", "count": 1.5}, "count", "expected integer, got number"),
        ({"path": "a", "ratio": 0}, "ratio", "> 0"),
        ({"path": "a", "ratio": 1}, "ratio", "< 1"),
        ({"path": "a", "mode": "x"}, "mode", "must be one of"),
        ({"path": "a", "tags": []}, "tags", "at least 1 items"),
        ({"path": "a", "tags": ["a", "b", "c"]}, "tags", "at most 2 items"),
        ({"path": "a", "tags": [1]}, "tags[0]", "expected string"),
        ({"path": "a", "nested": {}}, "nested.deep", "is required"),
        ({"path": "a", "either": 3}, "either", "matches none of the allowed forms"),
        ({"path": "a", "fixed": 4}, "fixed", "must be 3"),
        ({"path": "a", "both": 1}, "both", ">= 2"),
        ({"path": "a", "other": 1}, "other", "is not an allowed property (allowed: both, count"),
    ],
)
def test_a_violation_names_the_field_and_the_problem(value: dict[str, Any], field: str, problem: str) -> None:
    with pytest.raises(SchemaViolation) as caught:
        validate(value, SCHEMA, "input")
    assert caught.value.path == f"input.{field}" or caught.value.path == f"input{field}"
    assert problem in str(caught.value)


def test_an_integral_float_counts_as_an_integer() -> None:
    validate({"path": "a", "count": 2.0}, SCHEMA)


def test_additional_properties_may_be_a_schema() -> None:
    schema = {"type": "object", "additionalProperties": {"type": "integer"}}
    validate({"a": 1}, schema)
    with pytest.raises(SchemaViolation, match="b: expected integer"):
        validate({"b": "x"}, schema)


def test_a_type_list_accepts_any_listed_type() -> None:
    validate(None, {"type": ["string", "null"]})
    with pytest.raises(SchemaViolation, match="expected string or null"):
        validate(1, {"type": ["string", "null"]})


def test_unknown_keywords_are_ignored() -> None:
    validate("x", {"type": "string", "format": "uri", "x-custom": 1})


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        (None, "must be a JSON Schema object, got NoneType"),
        ({"type": "string"}, "must have type 'object', got 'string'"),
        ({"properties": {}}, "must have type 'object', got None"),
        ({"type": "object", "properties": []}, "properties must be an object"),
        ({"type": "object", "required": "path"}, "required must be a list"),
    ],
)
def test_a_tool_schema_that_is_not_an_object_schema_is_refused_saying_why(schema: Any, problem: str) -> None:
    with pytest.raises(ValueError, match="tool t: input_schema") as caught:
        check_object_schema(schema, owner="tool t")
    assert problem in str(caught.value)
