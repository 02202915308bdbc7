"""Error codes of the wire protocol and the exceptions that carry them.

Every JSON-RPC error maps to exactly one exception class, and back::

    ProtocolError                 any error answer (base class)
    +-- ParseError           -32700  a line that is not JSON
    +-- InvalidRequest       -32600  JSON that is not a JSON-RPC object
    +-- MethodNotFound       -32601  no handler for the method
    +-- InvalidParams        -32602  params the method cannot accept
    +-- InternalError        -32603  the handler raised
    +-- ServiceGone          -32000  the peer that should answer is gone
    +-- RequestTimeout       -32001  no answer within the deadline
    +-- RequestCancelled     -32002  the request was cancelled
    +-- ComponentNotFound    -32003  no tool/provider/... of that name
    +-- ProviderError        -32004  the vendor's API failed

``error.data`` is always an object: ``{type, retryable?, retry_after?,
service?, traceback?}``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "PARSE_ERROR",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "INVALID_PARAMS",
    "INTERNAL_ERROR",
    "SERVICE_GONE",
    "TIMEOUT",
    "CANCELLED",
    "COMPONENT_NOT_FOUND",
    "PROVIDER_ERROR",
    "ProtocolError",
    "ParseError",
    "InvalidRequest",
    "MethodNotFound",
    "InvalidParams",
    "InternalError",
    "ServiceGone",
    "RequestTimeout",
    "RequestCancelled",
    "ComponentNotFound",
    "ProviderError",
    "error_from_wire",
]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVICE_GONE = -32000
TIMEOUT = -32001
CANCELLED = -32002
COMPONENT_NOT_FOUND = -32003
PROVIDER_ERROR = -32004


class ProtocolError(Exception):
    """An error that travels as a JSON-RPC error object."""

    code: int = INTERNAL_ERROR

    def __init__(
        self,
        message: str,
        *,
        data: dict[str, Any] | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.data: dict[str, Any] = dict(data) if data else {}
        self.data.setdefault("type", type(self).__name__)

    @property
    def retryable(self) -> bool:
        return bool(self.data.get("retryable", False))

    @property
    def retry_after(self) -> float | None:
        value = self.data.get("retry_after")
        return float(value) if isinstance(value, (int, float)) else None

    def to_wire(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": self.data}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code})"


class ParseError(ProtocolError):
    code = PARSE_ERROR


class InvalidRequest(ProtocolError):
    code = INVALID_REQUEST


class MethodNotFound(ProtocolError):
    code = METHOD_NOT_FOUND


class InvalidParams(ProtocolError):
    code = INVALID_PARAMS


class InternalError(ProtocolError):
    code = INTERNAL_ERROR


class ServiceGone(ProtocolError):
    code = SERVICE_GONE


class RequestTimeout(ProtocolError):
    code = TIMEOUT


class RequestCancelled(ProtocolError):
    code = CANCELLED


class ComponentNotFound(ProtocolError):
    code = COMPONENT_NOT_FOUND


class ProviderError(ProtocolError):
    code = PROVIDER_ERROR


_BY_CODE: dict[int, type[ProtocolError]] = {
    cls.code: cls
    for cls in (
        ParseError,
        InvalidRequest,
        MethodNotFound,
        InvalidParams,
        InternalError,
        ServiceGone,
        RequestTimeout,
        RequestCancelled,
        ComponentNotFound,
        ProviderError,
    )
}


def error_from_wire(error: object) -> ProtocolError:
    """Build the exception for a JSON-RPC ``error`` member received from a peer."""
    if not isinstance(error, dict):
        return InternalError(f"malformed error object from peer: {error!r}")
    code = error.get("code")
    message = error.get("message")
    data = error.get("data")
    text = message if isinstance(message, str) else repr(message)
    data_obj = data if isinstance(data, dict) else ({"detail": data} if data is not None else None)
    if isinstance(code, int) and code in _BY_CODE:
        return _BY_CODE[code](text, data=data_obj)
    return ProtocolError(text, data=data_obj, code=code if isinstance(code, int) else INTERNAL_ERROR)
