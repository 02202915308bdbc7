"""The small JSON Schema validator used for tool input."""

from __future__ import annotations

from typing import Any

import pytest
from amplifier_ipc_protocol.schema import SchemaViolation, check_object_schema, compiled, validate
from hypothesis import given, settings
from hypothesis import strategies as st

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


# One violation of each keyword of SCHEMA: (value, field, what the message says).
VIOLATIONS = [
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
]


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


@pytest.mark.parametrize(("value", "field", "problem"), VIOLATIONS)
def test_a_violation_names_the_field_and_the_problem(value: dict[str, Any], field: str, problem: str) -> None:
    with pytest.raises(SchemaViolation) as caught:
        validate(value, SCHEMA, "input")
    assert caught.value.path == f"input.{field}" or caught.value.path == f"input{field}"
    assert problem in str(caught.value)


def test_an_integral_float_counts_as_an_integer() -> None:
    validate({"path": "a", "count": 2.0}, SCHEMA)


@pytest.mark.parametrize("way", ["validate", "compiled"])
def test_additional_properties_may_be_a_schema(way: str) -> None:
    schema = {"type": "object", "additionalProperties": {"type": "integer"}}
    check = compiled(schema) if way == "compiled" else lambda value: validate(value, schema)
    check({"a": 1})
    with pytest.raises(SchemaViolation, match="b: expected integer"):
        check({"b": "x"})


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


# -- compiled checks: the same verdicts and messages as validate -----------------------

VALID = {"path": "a/b", "count": 2, "ratio": 0.5, "mode": "r", "tags": ["x"], "nested": {"deep": True}}


def _outcome(check: Any, value: Any) -> tuple[str, str]:
    try:
        check(value)
    except Exception as exc:
        return type(exc).__name__, str(exc)
    return "ok", ""


def test_a_compiled_check_accepts_a_valid_value_without_running_validate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from amplifier_ipc_protocol import schema as module

    check = compiled(SCHEMA, "input")
    calls: list[Any] = []
    monkeypatch.setattr(module, "validate", lambda *args: calls.append(args))
    check(VALID)
    check({"path": "a", "count": 2.0, "either": None, "fixed": 3, "both": 4})
    assert calls == [], "a valid value is accepted by the compiled check alone"


@pytest.mark.parametrize(("value", "field", "problem"), VIOLATIONS)
def test_a_compiled_check_refuses_with_validates_own_message(
    value: dict[str, Any], field: str, problem: str
) -> None:
    assert _outcome(compiled(SCHEMA, "input"), value) == _outcome(
        lambda v: validate(v, SCHEMA, "input"), value
    )
    assert _outcome(compiled(SCHEMA, "input"), value)[0] == "SchemaViolation"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-3, 3) | st.sampled_from(["", "a", "ab", "B"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3)
    ),
    max_leaves=8,
)
# Plain values often: a value nested in containers mostly fails before the keyword under test.
_SCALARS = st.sampled_from(
    ["", "a", "ab", "B", 0, 1, 2, -1, 2.5, True, None, [], ["a"], [1, 2, 3], {}, {"a": 1}]
)
_TYPE_NAMES = st.sampled_from(["object", "array", "string", "integer", "number", "boolean", "null", "other"])


_NAMES = st.sampled_from(["a", "b", "c"])
_BOUND = st.integers(-2, 3) | st.floats(-2, 3)
_LEAF_KEYWORDS: dict[str, st.SearchStrategy[Any]] = {
    "type": _TYPE_NAMES | st.lists(_TYPE_NAMES, max_size=3),
    "required": st.lists(_NAMES, max_size=2),
    "enum": st.lists(_JSON, max_size=3),
    "const": _JSON,
    "minimum": _BOUND,
    "maximum": _BOUND,
    "exclusiveMinimum": _BOUND,
    "exclusiveMaximum": _BOUND,
    "minLength": st.integers(0, 2),
    "maxLength": st.integers(0, 2),
    "minItems": st.integers(0, 2),
    "maxItems": st.integers(0, 2),
    "pattern": st.sampled_from(["^a", "b$", "[A-Z]"]),
}
_NESTING_KEYWORDS = ["properties", "additionalProperties", "items", "allOf", "anyOf", "oneOf"]


@st.composite
def _schemas(draw: st.DrawFn, depth: int = 2) -> dict[str, Any]:
    """A schema of a few keywords (with many, nearly every value fails the first check)."""
    keywords = [*_LEAF_KEYWORDS, *(_NESTING_KEYWORDS if depth else [])]
    schema: dict[str, Any] = {}
    for keyword in draw(st.lists(st.sampled_from(keywords), max_size=3, unique=True)):
        if keyword in _LEAF_KEYWORDS:
            schema[keyword] = draw(_LEAF_KEYWORDS[keyword])
            continue
        inner = _schemas(depth - 1)
        schema[keyword] = draw(
            {
                "properties": st.dictionaries(_NAMES, inner, max_size=3),
                "additionalProperties": st.booleans() | inner,
                "items": inner,
            }.get(keyword, st.lists(inner, max_size=2))
        )
    return schema


@settings(max_examples=600, deadline=None)
@given(schema=_schemas(), value=_SCALARS | _JSON)
def test_a_compiled_check_agrees_with_validate_on_any_schema_and_value(
    schema: dict[str, Any], value: Any
) -> None:
    expected = _outcome(lambda v: validate(v, schema, "input"), value)
    assert _outcome(compiled(schema, "input"), value) == expected


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"pattern": "("}, 5),  # the pattern does not compile: compiled() leaves the schema to validate
        ({"pattern": "("}, "a"),  # ... which raises re.error for a string, as compiled does
        ({"type": "object", "properties": ["a"]}, {"b": 1}),  # properties not an object: validate's reading
        ({"minLength": "2"}, "a"),  # the check itself raises at call time: validate raises the same
    ],
)
def test_a_schema_the_compiled_check_cannot_read_is_left_to_validate(schema: Any, value: Any) -> None:
    assert _outcome(compiled(schema, "input"), value) == _outcome(
        lambda v: validate(v, schema, "input"), value
    )
