"""amplifier-ipc-protocol: everything a Python service needs to speak the wire
protocol. Names are loaded on first use, so a service that only answers
``describe`` never imports pydantic."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    # decorators
    "tool": "decorators",
    "hook": "decorators",
    "provider": "decorators",
    "orchestrator": "decorators",
    "context_manager": "decorators",
    # runtime
    "Server": "server",
    "Peer": "peer",
    "HostClient": "client",
    # errors
    "ProtocolError": "errors",
    "ParseError": "errors",
    "InvalidRequest": "errors",
    "MethodNotFound": "errors",
    "InvalidParams": "errors",
    "InternalError": "errors",
    "ServiceGone": "errors",
    "RequestTimeout": "errors",
    "RequestCancelled": "errors",
    "ComponentNotFound": "errors",
    "ProviderError": "errors",
    # models
    "Message": "models",
    "TextBlock": "models",
    "ThinkingBlock": "models",
    "RedactedThinkingBlock": "models",
    "ToolCallBlock": "models",
    "ToolResultBlock": "models",
    "ImageBlock": "models",
    "ToolCall": "models",
    "ToolSpec": "models",
    "ToolError": "models",
    "ToolResult": "models",
    "HookAction": "models",
    "HookResult": "models",
    "Usage": "models",
    "ChatRequest": "models",
    "ChatResponse": "models",
    "DescribeResult": "models",
}

__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:
    from .client import HostClient
    from .decorators import context_manager, hook, orchestrator, provider, tool
    from .errors import (
        ComponentNotFound,
        InternalError,
        InvalidParams,
        InvalidRequest,
        MethodNotFound,
        ParseError,
        ProtocolError,
        ProviderError,
        RequestCancelled,
        RequestTimeout,
        ServiceGone,
    )
    from .models import (
        ChatRequest,
        ChatResponse,
        DescribeResult,
        HookAction,
        HookResult,
        ImageBlock,
        Message,
        RedactedThinkingBlock,
        TextBlock,
        ThinkingBlock,
        ToolCall,
        ToolCallBlock,
        ToolError,
        ToolResult,
        ToolResultBlock,
        ToolSpec,
        Usage,
    )
    from .peer import Peer
    from .server import Server


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
