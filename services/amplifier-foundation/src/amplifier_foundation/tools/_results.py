"""ToolResult dicts (PROTOCOL §9) without importing the pydantic models."""

from __future__ import annotations

from typing import Any

__all__ = ["ok", "fail"]


def ok(output: Any) -> dict[str, Any]:
    return {"success": True, "output": output, "error": None}


def fail(message: str, type_: str = "ToolError", output: Any = None) -> dict[str, Any]:
    return {"success": False, "output": output, "error": {"message": message, "type": type_}}
