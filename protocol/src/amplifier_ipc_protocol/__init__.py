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

__all__ = [*sorted(_EXPORTS), "__version__"]

if TYPE_CHECKING:
    from .client import HostClient as HostClient
    from .decorators import (
        context_manager as context_manager,
    )
    from .decorators import (
        hook as hook,
    )
    from .decorators import (
        orchestrator as orchestrator,
    )
    from .decorators import (
        provider as provider,
    )
    from .decorators import (
        tool as tool,
    )
    from .errors import (
        ComponentNotFound as ComponentNotFound,
    )
    from .errors import (
        InternalError as InternalError,
    )
    from .errors import (
        InvalidParams as InvalidParams,
    )
    from .errors import (
        InvalidRequest as InvalidRequest,
    )
    from .errors import (
        MethodNotFound as MethodNotFound,
    )
    from .errors import (
        ParseError as ParseError,
    )
    from .errors import (
        ProtocolError as ProtocolError,
    )
    from .errors import (
        ProviderError as ProviderError,
    )
    from .errors import (
        RequestCancelled as RequestCancelled,
    )
    from .errors import (
        RequestTimeout as RequestTimeout,
    )
    from .errors import (
        ServiceGone as ServiceGone,
    )
    from .models import (
        ChatRequest as ChatRequest,
    )
    from .models import (
        ChatResponse as ChatResponse,
    )
    from .models import (
        DescribeResult as DescribeResult,
    )
    from .models import (
        HookAction as HookAction,
    )
    from .models import (
        HookResult as HookResult,
    )
    from .models import (
        ImageBlock as ImageBlock,
    )
    from .models import (
        Message as Message,
    )
    from .models import (
        RedactedThinkingBlock as RedactedThinkingBlock,
    )
    from .models import (
        TextBlock as TextBlock,
    )
    from .models import (
        ThinkingBlock as ThinkingBlock,
    )
    from .models import (
        ToolCall as ToolCall,
    )
    from .models import (
        ToolCallBlock as ToolCallBlock,
    )
    from .models import (
        ToolError as ToolError,
    )
    from .models import (
        ToolResult as ToolResult,
    )
    from .models import (
        ToolResultBlock as ToolResultBlock,
    )
    from .models import (
        ToolSpec as ToolSpec,
    )
    from .models import (
        Usage as Usage,
    )
    from .peer import Peer as Peer
    from .server import Server as Server


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
