"""MCP ``tools/call`` results as our ToolResult (PROTOCOL §9).

Text content (and text resources) becomes a string the model reads; when a
result holds images or binary resources, the output is a list of blocks:
``{"type": "text", "text"}``, ``{"type": "image", "source": {"type": "base64",
"media_type", "data"}}`` and ``{"type": "resource", "uri", "mime_type",
"text"|"blob"}``. ``isError`` becomes ``success: false`` with the server's text
as the error message, so the model can read what went wrong.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["to_tool_result", "failure"]


def failure(message: str, kind: str, output: Any = None) -> dict[str, Any]:
    return {"success": False, "output": output, "error": {"message": message, "type": kind}}


def _block(item: Any) -> dict[str, Any]:
    kind = getattr(item, "type", None)
    if kind == "text":
        return {"type": "text", "text": item.text}
    if kind in ("image", "audio"):
        return {"type": kind, "source": {"type": "base64", "media_type": item.mime_type, "data": item.data}}
    if kind == "resource":
        resource = item.resource
        block: dict[str, Any] = {
            "type": "resource",
            "uri": str(resource.uri),
            "mime_type": resource.mime_type,
        }
        if getattr(resource, "text", None) is not None:
            block["text"] = resource.text
        else:
            block["blob"] = getattr(resource, "blob", None)
        return block
    if kind == "resource_link":
        return {"type": "text", "text": f"[resource {item.name}: {item.uri}]"}
    dump = item.model_dump(mode="json", by_alias=True) if hasattr(item, "model_dump") else item
    return {"type": "text", "text": json.dumps(dump)}


def _as_text(block: dict[str, Any]) -> str | None:
    if block["type"] == "text":
        return str(block["text"])
    if block["type"] == "resource" and "text" in block:
        return f"[resource {block['uri']}]\n{block['text']}"
    return None


def to_tool_result(result: Any) -> dict[str, Any]:
    """Our ToolResult for an ``mcp.types.CallToolResult``."""
    blocks = [_block(item) for item in result.content or []]
    texts = [_as_text(b) for b in blocks]
    output: Any
    if all(t is not None for t in texts):
        output = "\n".join(t for t in texts if t is not None)
        if not blocks and result.structured_content is not None:
            output = json.dumps(result.structured_content)
    else:
        output = blocks
    if result.is_error:
        message = "\n".join(t for t in texts if t) or "the MCP tool reported an error"
        return failure(message, "McpToolError", output)
    return {"success": True, "output": output, "error": None}
