"""What every vendor provider shares: configuration, keys, info and errors.

A vendor provider subclasses ``VendorProvider`` and implements ``_call``,
which talks to the vendor through its SDK (imported there, never at module
level: the service must answer ``describe`` without loading any SDK).
"""

from __future__ import annotations

import importlib
import os
import threading
from typing import Any, ClassVar

from .catalog import provider_info
from .conversation import Conversation, prepare
from .errors import connection_error, http_error, provider_error

__all__ = ["REQUEST_TIMEOUT_SECONDS", "CONNECT_TIMEOUT_SECONDS", "VendorProvider", "vendor_error"]

# A long answer with extended thinking can stream for minutes; beyond this the
# connection is presumed dead and the call fails as retryable.
REQUEST_TIMEOUT_SECONDS = 600.0
# Establishing a TCP/TLS connection never legitimately takes longer.
CONNECT_TIMEOUT_SECONDS = 10.0

# Error types vendors report inside a 200 stream (Anthropic's SSE `error`
# event), with the HTTP status they stand for.
_STREAM_ERROR_STATUS = {
    "overloaded_error": 529,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "invalid_request_error": 400,
}


class VendorProvider:
    """Base of the SDK-backed providers (not itself a component)."""

    name: ClassVar[str]
    display_name: ClassVar[str]
    family: ClassVar[str]
    """Catalog family for ``provider.info``."""
    key_env: ClassVar[tuple[str, ...]] = ()
    """Environment variables that may hold the key, in order of preference."""
    key_required: ClassVar[bool] = True
    default_model: ClassVar[str | None] = None
    capabilities: ClassVar[list[str]] = ["streaming", "tools"]
    sdk_modules: ClassVar[tuple[str, ...]] = ()
    """Modules ``_call`` imports; loaded in the background once the provider is chosen."""
    config_keys: ClassVar[frozenset[str]] = frozenset()
    common_config_keys: ClassVar[frozenset[str]] = frozenset(
        {"model", "base_url", "context_window", "max_output_tokens", "temperature"}
    )

    def __init__(self) -> None:
        self.config: dict[str, Any] = {}
        self.host: Any = None
        self._client: Any = None
        self._warming: threading.Thread | None = None

    # -- configuration ------------------------------------------------------

    def configure(self, config: dict[str, Any]) -> None:
        from amplifier_ipc_protocol import InvalidParams

        known = self.config_keys | self.common_config_keys
        unknown = sorted(set(config) - known)
        if unknown:
            raise InvalidParams(
                f"{self.name} has no config keys {unknown}; it knows {sorted(known)}. "
                f"Keys are never config: set {' or '.join(self.key_env) or 'nothing'} in its environment"
            )
        for key in ("model", "base_url"):
            if key in config and not (isinstance(config[key], str) and config[key]):
                raise InvalidParams(f"{self.name}: {key} must be a non-empty string")
        for key in ("context_window", "max_output_tokens"):
            value = config.get(key)
            if key in config and not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
                raise InvalidParams(f"{self.name}: {key} must be a whole number of tokens > 0")
        temperature = config.get("temperature")
        if "temperature" in config and not (
            isinstance(temperature, (int, float)) and not isinstance(temperature, bool) and temperature >= 0
        ):
            raise InvalidParams(f"{self.name}: temperature must be a number >= 0")
        self._client = None  # rebuilt with the new base URL on the next call
        self.check_config(config)

    def check_config(self, config: dict[str, Any]) -> None:
        """Refuse a configuration the provider cannot use (override to add checks)."""

    def model(self, request: dict[str, Any]) -> str:
        """The model to call: the request's, else the configured one, else the default."""
        model = request.get("model") or self.config.get("model") or self.default_model
        if not model:
            raise provider_error(
                f"{self.name} needs a model: set config {self.name}.model", status=None, retryable=False
            )
        return str(model)

    def api_key(self) -> str | None:
        """The key from the service's own environment, or None (raises when required)."""
        for variable in self.key_env:
            value = os.environ.get(variable)
            if value:
                return value
        if self.key_required:
            raise provider_error(
                f"{self.name} has no API key: set {' or '.join(self.key_env)} in the environment of the "
                "providers service (the variable must be listed in its definition's service.env)",
                status=401,
                retryable=False,
            )
        return None

    def max_output_tokens(self, request: dict[str, Any]) -> int:
        value = request.get("max_output_tokens") or self.config.get("max_output_tokens")
        if isinstance(value, int) and value > 0:
            return value
        return int(self.describe_models()["defaults"]["max_output_tokens"])

    # -- the component methods -------------------------------------------------

    def warm_up(self) -> None:
        """Import the SDK in a background thread. The Host asks the selected
        provider for its info at the start of a turn, long before the first
        model call, so the import (0.5 to 2 s) overlaps the turn's set-up
        instead of delaying the first answer. A call that needs the SDK
        sooner waits on Python's import lock, never sees half a module."""
        if self._warming is not None or not self.sdk_modules:
            return

        def load() -> None:
            for module in self.sdk_modules:
                try:
                    importlib.import_module(module)
                except Exception:  # the call itself will import again and report it
                    return

        self._warming = threading.Thread(target=load, name=f"warm-{self.name}", daemon=True)
        self._warming.start()

    async def _warmed(self) -> None:
        # Importing a package from two threads at once can expose a half-built
        # module (the import lock's deadlock avoidance), so the call waits for
        # the background import to finish instead of racing it.
        if self._warming is not None and self._warming.is_alive():
            import asyncio

            await asyncio.to_thread(self._warming.join)

    def describe_models(self) -> dict[str, Any]:
        """The ``provider.info`` answer, without starting the SDK import."""
        model = self.config.get("model") or self.default_model or "unset"
        return provider_info(self.name, self.display_name, self.family, model, self.capabilities, self.config)

    def info(self) -> dict[str, Any]:
        self.warm_up()
        return self.describe_models()

    async def complete(self, request: Any) -> dict[str, Any]:
        import asyncio

        from amplifier_ipc_protocol import ProtocolError

        # The SDKs' anyio locks and cancel scopes belong to the task that
        # enters them; a Peer that runs a handler's first step eagerly (in the
        # reader's task) would move them across tasks. Yielding once first
        # keeps every SDK call inside the handler's own task.
        await asyncio.sleep(0)
        wire: dict[str, Any] = request.to_wire() if hasattr(request, "to_wire") else dict(request)
        conversation = prepare(wire)
        await self._warmed()
        try:
            response = await self._call(wire, conversation, wire.get("stream") is not False)
        except ProtocolError:
            raise
        except Exception as exc:
            raise vendor_error(self.name, exc, self.key_env) from exc
        if conversation.repairs:
            metadata = response.setdefault("metadata", {})
            metadata["repairs"] = conversation.repairs
        return response

    async def _call(
        self, request: dict[str, Any], conversation: Conversation, stream: bool
    ) -> dict[str, Any]:
        raise NotImplementedError


def _detail(exc: BaseException) -> tuple[str, str | None]:
    """The vendor's own message and error type, out of an SDK exception."""
    body = getattr(exc, "body", None)
    kind: str | None = None
    message: str | None = None
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            message = error.get("message") if isinstance(error.get("message"), str) else None
            kind = error.get("type") if isinstance(error.get("type"), str) else None
        elif isinstance(error, str):
            message = error
    if message is None:
        for attribute in ("message", "error"):
            value = getattr(exc, attribute, None)
            if isinstance(value, str) and value:
                message = value
                break
    return (message or str(exc) or type(exc).__name__), kind


def vendor_error(provider: str, exc: BaseException, key_env: tuple[str, ...] = ()) -> Exception:
    """Map any SDK or transport exception to a ``ProviderError``."""
    status: int | None = None
    for attribute in ("status_code", "code", "status"):
        value = getattr(exc, attribute, None)
        if isinstance(value, int) and not isinstance(value, bool) and 100 <= value < 600:
            status = value
            break
    detail, kind = _detail(exc)
    if kind in _STREAM_ERROR_STATUS and (status is None or status < 400):
        status = _STREAM_ERROR_STATUS[kind]
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if status is not None:
        return http_error(provider, status, detail, headers=headers, key_env=" or ".join(key_env) or None)
    name = type(exc).__name__
    if "Timeout" in name or isinstance(exc, TimeoutError):
        return connection_error(provider, detail, timed_out=True)
    if "Connect" in name or "Network" in name or "Transport" in name or isinstance(exc, OSError):
        return connection_error(provider, detail)
    return provider_error(
        f"{provider} failed: {name}: {detail}", status=None, retryable=False, exception=name
    )
