"""A tool made from a plain async function: its schema from type hints and
docstring, its arguments from the tool input."""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any

__all__ = ["FunctionTool", "schema_for_function"]

_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    dict: {"type": "object"},
    list: {"type": "array"},
    Any: {},
}


def _schema_for(annotation: Any) -> tuple[dict[str, Any], bool]:
    """JSON schema for a type hint, and whether the hint admits None."""
    if annotation is inspect.Parameter.empty:
        return {}, False
    if annotation in _SCALARS:
        return dict(_SCALARS[annotation]), False
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        non_null = [a for a in args if a is not type(None)]
        nullable = len(non_null) != len(args)
        if len(non_null) == 1:
            return _schema_for(non_null[0])[0], nullable
        return {"anyOf": [_schema_for(a)[0] for a in non_null]}, nullable
    if origin is typing.Literal:
        return {"enum": list(args)}, False
    if origin in (list, tuple, set, frozenset):
        schema: dict[str, Any] = {"type": "array"}
        if args and args[0] is not Ellipsis:
            schema["items"] = _schema_for(args[0])[0]
        return schema, False
    if origin is dict:
        return {"type": "object"}, False
    raise TypeError(
        f"type hint {annotation!r} has no JSON schema; use str, int, float, bool, list, dict or Literal"
    )


_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$")
# Any other Google-style section header ends the description.
_SECTION_HEADER = re.compile(r"^\s*(Returns|Return|Raises|Yields|Examples?|Notes?|Warnings?|See Also):\s*$")
_ARG_LINE = re.compile(r"^\s+(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")
_SPHINX = re.compile(r"^\s*:param\s+(?:\w+\s+)?(\w+)\s*:\s*(.*)$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The description (text before the first section) and per-argument docs.

    Understands Google style (``Args:`` followed by ``name: text`` lines) and
    Sphinx style (``:param name: text``).
    """
    lines = inspect.cleandoc(doc).splitlines() if doc else []
    summary: list[str] = []
    params: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    for line in lines:
        sphinx = _SPHINX.match(line)
        if sphinx:
            section = "sphinx"
            params[sphinx.group(1)] = sphinx.group(2).strip()
            continue
        if line.strip().startswith(":"):
            section = "sphinx"
            continue
        if _ARGS_HEADER.match(line):
            section, current = "args", None
            continue
        if _SECTION_HEADER.match(line):
            section = "other"
            continue
        if section == "args":
            arg = _ARG_LINE.match(line)
            if arg:
                current = arg.group(1).lstrip("*")
                params[current] = arg.group(3).strip()
            elif line.strip() and line.startswith((" ", "\t")) and current:
                params[current] += " " + line.strip()
            elif line.strip():
                section = "other"
            continue
        if section is None:
            summary.append(line)
    return "\n".join(summary).strip(), params


def schema_for_function(func: Callable[..., Any]) -> tuple[str, dict[str, Any]]:
    """The description and input schema of a function tool.

    A parameter without a default is required (even when its hint admits
    None); unknown input fields are refused unless the function takes
    ``**kwargs``, since calling it with them would fail.
    """
    signature = inspect.signature(func)
    try:
        hints = typing.get_type_hints(func)
    except Exception as exc:
        raise TypeError(f"type hints of {func.__qualname__} cannot be resolved: {exc}") from None
    description, param_docs = _parse_docstring(inspect.getdoc(func) or "")
    properties: dict[str, Any] = {}
    required: list[str] = []
    open_ended = False
    for name, parameter in signature.parameters.items():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            open_ended = True
            continue
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        if parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise TypeError(
                f"@tool function {func.__qualname__}: parameter {name} is positional-only; "
                "tool input is passed by keyword"
            )
        try:
            schema, nullable = _schema_for(hints.get(name, parameter.annotation))
        except TypeError as exc:
            raise TypeError(f"@tool function {func.__qualname__}, parameter {name}: {exc}") from None
        if nullable:
            schema = _with_null(schema)
        if name in param_docs:
            schema["description"] = param_docs[name]
        if parameter.default is inspect.Parameter.empty:
            required.append(name)
        elif parameter.default is not None:
            schema["default"] = parameter.default
        properties[name] = schema
    input_schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        input_schema["required"] = required
    if not open_ended:
        input_schema["additionalProperties"] = False
    return description, input_schema


def _with_null(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    if not schema:
        return schema  # already admits anything
    return {"anyOf": [schema, {"type": "null"}]}


class FunctionTool:
    """Adapts an async function to the tool interface (``name``,
    ``description``, ``input_schema``, ``execute(input)``)."""

    def __init__(
        self, func: Callable[..., Any], *, name: str | None = None, description: str | None = None
    ) -> None:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(f"@tool function {func.__qualname__} must be async (async def)")
        self._func = func
        self.name = name or func.__name__
        derived, self.input_schema = schema_for_function(func)
        self.description = description or derived

    async def execute(self, input: dict[str, Any]) -> Any:
        """Call the function with the (already validated) input as keyword arguments."""
        return await self._func(**input)
