"""The wire models of PROTOCOL §9 (pydantic v2).

Every model keeps fields it does not know (forward compatibility) and dumps
back exactly what it was given: ``Model.model_validate(x).to_wire() == x``
for any valid ``x``. This module imports pydantic, so the service runtime
imports it only after ``describe`` has been answered.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

__all__ = [
    "WireModel",
    "TextBlock",
    "ThinkingBlock",
    "RedactedThinkingBlock",
    "ToolCallBlock",
    "ToolResultBlock",
    "ImageBlock",
    "OtherBlock",
    "ContentBlock",
    "Message",
    "ToolCall",
    "ToolSpec",
    "ToolError",
    "ToolResult",
    "HookAction",
    "HookResult",
    "Usage",
    "ChatRequest",
    "ChatResponse",
    "DescribeResult",
]


class WireModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON object of this model, holding only the fields that were set."""
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)


class TextBlock(WireModel):
    type: Literal["text"] = "text"
    text: str


class ThinkingBlock(WireModel):
    type: Literal["thinking"] = "thinking"
    thinking: str
    signature: str | None = None


class RedactedThinkingBlock(WireModel):
    type: Literal["redacted_thinking"] = "redacted_thinking"
    data: str


class ToolCallBlock(WireModel):
    type: Literal["tool_call"] = "tool_call"
    id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)


class ToolResultBlock(WireModel):
    type: Literal["tool_result"] = "tool_result"
    tool_call_id: str
    output: Any = None
    is_error: bool = False


class ImageBlock(WireModel):
    type: Literal["image"] = "image"
    source: dict[str, Any]


class OtherBlock(WireModel):
    """A block of a type this version does not know; kept and passed on as is."""

    type: str


_KNOWN_BLOCKS = frozenset({"text", "thinking", "redacted_thinking", "tool_call", "tool_result", "image"})


def _block_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in _KNOWN_BLOCKS else "other"


ContentBlock = Annotated[
    Annotated[TextBlock, Tag("text")]
    | Annotated[ThinkingBlock, Tag("thinking")]
    | Annotated[RedactedThinkingBlock, Tag("redacted_thinking")]
    | Annotated[ToolCallBlock, Tag("tool_call")]
    | Annotated[ToolResultBlock, Tag("tool_result")]
    | Annotated[ImageBlock, Tag("image")]
    | Annotated[OtherBlock, Tag("other")],
    Discriminator(_block_tag),
]
"""Any content block; a block of an unknown ``type`` becomes an ``OtherBlock``."""


class ToolCall(WireModel):
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Message(WireModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentBlock] = ""
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    metadata: dict[str, Any] | None = None

    def text(self) -> str:
        """The message's text, with blocks other than text left out."""
        if isinstance(self.content, str):
            return self.content
        return "".join(block.text for block in self.content if isinstance(block, TextBlock))


class ToolSpec(WireModel):
    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolError(WireModel):
    message: str
    type: str | None = None


class ToolResult(WireModel):
    success: bool = True
    output: Any = None
    error: ToolError | None = None

    @classmethod
    def ok(cls, output: Any) -> ToolResult:
        return cls(success=True, output=output, error=None)

    @classmethod
    def fail(cls, message: str, *, type: str | None = None, output: Any = None) -> ToolResult:
        return cls(success=False, output=output, error=ToolError(message=message, type=type))


class HookAction(StrEnum):
    CONTINUE = "CONTINUE"
    DENY = "DENY"
    MODIFY = "MODIFY"
    INJECT_CONTEXT = "INJECT_CONTEXT"
    ASK_USER = "ASK_USER"


class HookResult(WireModel):
    action: HookAction = HookAction.CONTINUE
    data: dict[str, Any] | None = None
    reason: str | None = None
    context_injection: str | None = None
    context_injection_role: str = "user"
    ephemeral: bool = False
    append_to_last_tool_result: bool = False
    suppress_output: bool = False
    user_message: str | None = None
    user_message_level: str = "info"
    approval_prompt: str | None = None
    approval_options: list[str] | None = None
    approval_timeout: int | float = 300
    approval_default: str = "deny"


class Usage(WireModel):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    reasoning_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None


class ChatRequest(WireModel):
    messages: list[Message]
    tools: list[ToolSpec] | None = None
    system: str | None = None
    model: str | None = None
    max_output_tokens: int | None = None
    temperature: int | float | None = None
    reasoning_effort: str | None = None
    stream: bool | None = None
    tool_choice: Any = None
    metadata: dict[str, Any] | None = None


class ChatResponse(WireModel):
    content: list[ContentBlock] = Field(default_factory=list)
    tool_calls: list[ToolCall] | None = None
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str | None = None
    metadata: dict[str, Any] | None = None

    def text(self) -> str:
        return "".join(block.text for block in self.content if isinstance(block, TextBlock))


class DescribeResult(WireModel):
    name: str
    protocol_version: int = 1
    capabilities: dict[str, Any] = Field(default_factory=dict)
