"""Tool calls for a model that was never trained to make them.

The model is told the tools in its system message, and llama.cpp's grammar
sampling makes its output either a plain-text answer or one JSON object
``{"name": ..., "arguments": {...}}`` whose arguments match the schema of
the tool it names. The reply is then parsed back into a call.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ToolCallParseError",
    "ToolMode",
    "call_schema",
    "grammar_for",
    "instructions_for",
    "parse_call",
    "tool_mode",
]

_TOOL_CALL_RULE = "tool-call"
_ANSWER_RULE = "free-answer"
# A plain answer may not open with "{" (that is how a call starts) nor with
# blank space, so that the first token decides between the two.
_ANSWER_RULES = f"{_ANSWER_RULE} ::= [^{{ \\t\\r\\n] {_ANSWER_RULE}-rest\n{_ANSWER_RULE}-rest ::= [^\\x00]*\n"


class ToolCallParseError(ValueError):
    """The model's reply is not a call of an offered tool."""


@dataclass(frozen=True, slots=True)
class ToolMode:
    """What the model may do this time: answer, call a tool, or either."""

    tools: tuple[dict[str, Any], ...]
    """The tools it may call (``{name, description, parameters}``); empty when none."""
    required: bool
    """True when it must call a tool rather than answer."""


def _choice_name(tool_choice: Any) -> str | None:
    if isinstance(tool_choice, dict):
        function = tool_choice.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return str(function["name"])
        if isinstance(tool_choice.get("name"), str):
            return str(tool_choice["name"])
    return None


def tool_mode(tools: list[dict[str, Any]], tool_choice: Any) -> ToolMode:
    """Read ``tool_choice`` (``auto``, ``none``, ``required``/``any``, or a tool's name).

    Raises ``ValueError`` naming the offered tools when it names another one.
    """
    if (
        not tools
        or tool_choice == "none"
        or (isinstance(tool_choice, dict) and tool_choice.get("type") == "none")
    ):
        return ToolMode(tools=(), required=False)
    name = _choice_name(tool_choice)
    if name is not None:
        chosen = [t for t in tools if t["name"] == name]
        if not chosen:
            offered = ", ".join(t["name"] for t in tools)
            raise ValueError(f"tool_choice names {name!r}, which is not among the offered tools ({offered})")
        return ToolMode(tools=tuple(chosen), required=True)
    required = tool_choice in ("required", "any") or (
        isinstance(tool_choice, dict) and tool_choice.get("type") in ("required", "any")
    )
    return ToolMode(tools=tuple(tools), required=required)


def _closed_object(schema: Any) -> dict[str, Any]:
    # Without additionalProperties the grammar would let a small model invent
    # keys freely; an offered schema that says otherwise is kept as it is.
    if not isinstance(schema, dict) or not schema:
        return {"type": "object", "properties": {}, "additionalProperties": False}
    closed = dict(schema)
    if closed.get("type") == "object" and "additionalProperties" not in closed:
        closed["additionalProperties"] = False
    return closed


def call_schema(mode: ToolMode) -> dict[str, Any]:
    """The JSON schema of one call of any tool of ``mode``."""
    variants = [
        {
            "type": "object",
            "properties": {
                "name": {"const": tool["name"]},
                "arguments": _closed_object(tool.get("parameters")),
            },
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for tool in mode.tools
    ]
    return variants[0] if len(variants) == 1 else {"oneOf": variants}


def _loose_schema(mode: ToolMode) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"name": {"enum": [t["name"] for t in mode.tools]}, "arguments": {"type": "object"}},
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def grammar_for(mode: ToolMode) -> str:
    """The GBNF grammar of a reply under ``mode`` (imports llama.cpp: call after loading it)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        calls = json_schema_to_gbnf(json.dumps(call_schema(mode)))
    except Exception:
        # Schema features the converter lacks: still force a well-formed call
        # of an offered tool, with any object as its arguments.
        calls = json_schema_to_gbnf(json.dumps(_loose_schema(mode)))
    calls = re.sub(r"^root\s*::=", f"{_TOOL_CALL_RULE} ::=", calls, count=1, flags=re.MULTILINE)
    if mode.required:
        return f"root ::= {_TOOL_CALL_RULE}\n{calls}"
    return f"root ::= {_TOOL_CALL_RULE} | {_ANSWER_RULE}\n{_ANSWER_RULES}{calls}"


def instructions_for(mode: ToolMode) -> str:
    """The part of the system message that tells the model its tools and the reply format."""
    lines = [
        "You can use these tools:",
        *(
            f"- {t['name']}: {t.get('description') or 'no description'}\n"
            f"  arguments (JSON schema): {json.dumps(t.get('parameters') or {}, separators=(',', ':'))}"
            for t in mode.tools
        ),
        "",
        'To use a tool, reply with only a JSON object: {"name": "<tool name>", "arguments": {...}}.',
    ]
    if mode.required:
        lines.append("You must use a tool now.")
    else:
        lines.append("To answer without a tool, reply in plain text.")
    return "\n".join(lines)


def parse_call(text: str, mode: ToolMode) -> tuple[str, dict[str, Any]]:
    """The tool name and arguments of a reply that is a call; ``ToolCallParseError`` otherwise."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ToolCallParseError(f"the reply is not a complete JSON object ({exc.msg})") from None
    if not isinstance(value, dict):
        raise ToolCallParseError("the reply is JSON but not an object")
    name = value.get("name")
    arguments = value.get("arguments", {})
    offered = [t["name"] for t in mode.tools]
    if name not in offered:
        raise ToolCallParseError(
            f"the reply calls {name!r}, which is not an offered tool ({', '.join(offered)})"
        )
    if not isinstance(arguments, dict):
        raise ToolCallParseError(f"the arguments of the call of {name} are not an object")
    return str(name), arguments
