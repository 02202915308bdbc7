"""The subset of JSON Schema that tool input schemas use, checked without
importing a schema library (the service runtime must start fast).

Supported keywords: type (string or list), properties, required,
additionalProperties (bool or schema), items, enum, const, minimum, maximum,
exclusiveMinimum, exclusiveMaximum, minLength, maxLength, minItems, maxItems,
pattern, anyOf, oneOf, allOf. Other keywords are accepted and ignored.
"""

from __future__ import annotations

from typing import Any

__all__ = ["validate", "check_object_schema", "SchemaViolation"]

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
    if "pattern" in schema:
        import re

        if re.search(schema["pattern"], value) is None:
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
