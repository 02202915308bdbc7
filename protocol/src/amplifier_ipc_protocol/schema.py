"""The subset of JSON Schema that tool input schemas use, checked without
importing a schema library (the service runtime must start fast).

Supported keywords: type (string or list), properties, required,
additionalProperties (bool or schema), items, enum, const, minimum, maximum,
exclusiveMinimum, exclusiveMaximum, minLength, maxLength, minItems, maxItems,
pattern, anyOf, oneOf, allOf. Other keywords are accepted and ignored.

``compiled(schema)`` gives the same check as one function of the value, for a
schema that checks many values (a tool's input, on every call): the schema is
read once, and a valid value costs a fraction of ``validate``. Only a value it
cannot accept at once goes through ``validate``, so every error reads the same.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

__all__ = ["validate", "compiled", "check_object_schema", "SchemaViolation"]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


class SchemaViolation(ValueError):
    """A value that does not satisfy its schema; ``path`` names the field."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.path = path
        self.problem = problem


def check_object_schema(schema: object, *, owner: str = "tool") -> dict[str, Any]:
    """Return ``schema`` if it is an object schema, else raise ValueError saying why."""
    if not isinstance(schema, dict):
        raise ValueError(f"{owner}: input_schema must be a JSON Schema object, got {type(schema).__name__}")
    kind = schema.get("type")
    if kind != "object":
        raise ValueError(f"{owner}: input_schema must have type 'object', got {kind!r}")
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        raise ValueError(f"{owner}: input_schema.properties must be an object")
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise ValueError(f"{owner}: input_schema.required must be a list of property names")
    return schema


def _type_ok(value: Any, kind: str) -> bool:
    expected = _TYPES.get(kind)
    if expected is None:
        return True
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, expected)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {dict: "object", list: "array", str: "string", int: "integer", float: "number"}.get(
        type(value), type(value).__name__
    )


def validate(value: Any, schema: dict[str, Any], path: str = "") -> None:
    """Raise ``SchemaViolation`` for the first way ``value`` breaks ``schema``."""
    if not isinstance(schema, dict):
        return
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_type_ok(value, k) for k in kinds):
            raise SchemaViolation(path, f"expected {' or '.join(map(str, kinds))}, got {_describe(value)}")
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaViolation(path, f"must be one of {schema['enum']!r}, got {value!r}")
    if "const" in schema and value != schema["const"]:
        raise SchemaViolation(path, f"must be {schema['const']!r}")
    if isinstance(value, dict):
        _validate_object(value, schema, path)
    elif isinstance(value, list):
        _validate_array(value, schema, path)
    elif isinstance(value, str):
        _validate_string(value, schema, path)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        _validate_number(value, schema, path)
    for keyword in ("allOf",):
        for sub in schema.get(keyword, []):
            validate(value, sub, path)
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema.get("oneOf") or []
        problems = []
        for sub in options:
            try:
                validate(value, sub, path)
                break
            except SchemaViolation as exc:
                problems.append(exc.problem)
        else:
            raise SchemaViolation(path, "matches none of the allowed forms: " + "; ".join(problems))


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _validate_object(value: dict[str, Any], schema: dict[str, Any], path: str) -> None:
    properties = schema.get("properties", {}) or {}
    for name in schema.get("required", []) or []:
        if name not in value:
            raise SchemaViolation(_child(path, name), "is required")
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties:
            validate(item, properties[key], _child(path, key))
        elif extra is False:
            allowed = ", ".join(sorted(properties)) or "none"
            raise SchemaViolation(_child(path, key), f"is not an allowed property (allowed: {allowed})")
        elif isinstance(extra, dict):
            validate(item, extra, _child(path, key))


def _validate_array(value: list[Any], schema: dict[str, Any], path: str) -> None:
    if "minItems" in schema and len(value) < schema["minItems"]:
        raise SchemaViolation(path, f"needs at least {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        raise SchemaViolation(path, f"allows at most {schema['maxItems']} items")
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            validate(item, items, _child(path, index))


def _validate_string(value: str, schema: dict[str, Any], path: str) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        raise SchemaViolation(path, f"must be at least {schema['minLength']} characters")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise SchemaViolation(path, f"must be at most {schema['maxLength']} characters")
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        raise SchemaViolation(path, f"must match the pattern {schema['pattern']!r}")


def _validate_number(value: float, schema: dict[str, Any], path: str) -> None:
    if "minimum" in schema and value < schema["minimum"]:
        raise SchemaViolation(path, f"must be >= {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        raise SchemaViolation(path, f"must be <= {schema['maximum']}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        raise SchemaViolation(path, f"must be > {schema['exclusiveMinimum']}")
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        raise SchemaViolation(path, f"must be < {schema['exclusiveMaximum']}")


# -- compiled checks -----------------------------------------------------------

Accepts = Callable[[Any], bool]
"""True only for a value ``validate`` accepts; False when unsure."""


def compiled(schema: Any, path: str = "") -> Callable[[Any], None]:
    """``validate(value, schema, path)`` as a function of ``value`` alone."""
    try:
        accepts: Accepts | None = _accepts(schema)
    except Exception:  # a schema of a shape validate reads its own way: leave it to validate
        accepts = None

    def check(value: Any) -> None:
        if accepts is not None:
            try:
                if accepts(value):
                    return
            except Exception:  # validate says what is wrong, or raises the same
                pass
        validate(value, schema, path)

    return check


def _always(value: Any) -> bool:
    return True


def _accepts(schema: Any) -> Accepts:
    """What ``validate`` checks of ``schema``, read once; raises for a shape it does not expect."""
    if not isinstance(schema, dict):
        return _always
    checks: list[Accepts] = []
    of_type = _type_accepts(schema.get("type"))
    if of_type is not None:
        checks.append(of_type)
    if "enum" in schema:
        allowed = schema["enum"]
        checks.append(lambda value: value in allowed)
    if "const" in schema:
        const = schema["const"]
        checks.append(lambda value: value == const)
    # validate goes by the value's type: these are its exact types (bool, None
    # and subclasses take the isinstance chain below, as in validate).
    of_number = _number_accepts(schema)
    by_type: dict[type, Accepts] = {
        dict: _object_accepts(schema),
        list: _array_accepts(schema),
        str: _string_accepts(schema),
        int: of_number,
        float: of_number,
    }
    checks += [_accepts(sub) for sub in schema.get("allOf", [])]
    if "anyOf" in schema or "oneOf" in schema:
        options = [_accepts(sub) for sub in schema.get("anyOf") or schema.get("oneOf") or []]
        checks.append(lambda value: any(option(value) for option in options))
    if all(check is _always for check in by_type.values()):
        if not checks:
            return _always
        if len(checks) == 1:
            return checks[0]
        return lambda value: all(check(value) for check in checks)

    def accepts(value: Any) -> bool:
        for check in checks:
            if not check(value):
                return False
        of_value = by_type.get(type(value))
        if of_value is not None:
            return of_value(value)
        if isinstance(value, dict):
            return by_type[dict](value)
        if isinstance(value, list):
            return by_type[list](value)
        if isinstance(value, str):
            return by_type[str](value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return of_number(value)
        return True

    return accepts


def _type_accepts(kind: Any) -> Accepts | None:
    if kind is None:
        return None
    kinds = list(kind) if isinstance(kind, list) else [kind]
    if len(kinds) == 1 and kinds[0] in ("object", "array", "string", "boolean", "null"):
        expected = _TYPES[kinds[0]]  # for these, isinstance is the whole of _type_ok
        return lambda value: isinstance(value, expected)
    return lambda value: any(_type_ok(value, k) for k in kinds)


def _object_accepts(schema: dict[str, Any]) -> Accepts:
    declared = schema.get("properties", {}) or {}
    if not isinstance(declared, dict):
        raise TypeError("properties is not an object")
    properties = {name: _accepts(sub) for name, sub in declared.items()}
    required = list(schema.get("required", []) or [])
    extra = schema.get("additionalProperties", True)
    closed = extra is False
    of_extra = _accepts(extra) if isinstance(extra, dict) else None

    def accepts(value: dict[str, Any]) -> bool:
        for name in required:
            if name not in value:
                return False
        for key, item in value.items():
            of_property = properties.get(key)
            if of_property is not None:
                if not of_property(item):
                    return False
            elif closed or (of_extra is not None and not of_extra(item)):
                return False
        return True

    return accepts


def _array_accepts(schema: dict[str, Any]) -> Accepts:
    least, most = schema.get("minItems"), schema.get("maxItems")
    items = schema.get("items")
    of_item = _accepts(items) if isinstance(items, dict) else None
    if least is None and most is None and of_item is None:
        return _always

    def accepts(value: list[Any]) -> bool:
        if (least is not None and len(value) < least) or (most is not None and len(value) > most):
            return False
        return of_item is None or all(of_item(item) for item in value)

    return accepts


def _string_accepts(schema: dict[str, Any]) -> Accepts:
    least, most = schema.get("minLength"), schema.get("maxLength")
    search = re.compile(schema["pattern"]).search if "pattern" in schema else None
    if least is None and most is None and search is None:
        return _always

    def accepts(value: str) -> bool:
        if (least is not None and len(value) < least) or (most is not None and len(value) > most):
            return False
        return search is None or search(value) is not None

    return accepts


_BOUNDS: tuple[tuple[str, Callable[[Any, Any], bool]], ...] = (
    ("minimum", operator.ge),
    ("maximum", operator.le),
    ("exclusiveMinimum", operator.gt),
    ("exclusiveMaximum", operator.lt),
)


def _number_accepts(schema: dict[str, Any]) -> Accepts:
    bounds = [(schema[key], test) for key, test in _BOUNDS if key in schema]
    if not bounds:
        return _always
    return lambda value: all(test(value, bound) for bound, test in bounds)
