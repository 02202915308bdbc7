"""The Host's side of PROTOCOL §5, served to every service of the session.

Each service's Peer gets the handlers of ``Router.handlers_for(service)``;
the Peer runs every incoming request as its own task, so parallel tool calls
run in parallel across services and within one. Provider stream
notifications (``stream.provider.*``, tagged by the provider with the id of
its ``provider.complete`` request) are relayed to the service that asked,
re-tagged with the id of *its* ``request.provider_complete`` request.
Orchestrator notifications (``stream.token``, ``log``...) become events.
"""

from __future__ import annotations

import asyncio
import collections
import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from amplifier_ipc_protocol import methods as m
from amplifier_ipc_protocol.errors import (
    ComponentNotFound,
    InvalidParams,
    MethodNotFound,
    ProtocolError,
    RequestTimeout,
    ServiceGone,
)
from amplifier_ipc_protocol.peer import (
    AnyHandler,
    Deferred,
    Handler,
    NotificationFallback,
    Reply,
    current_request_id,
)

from . import events as ev
from .approvals import Approvals
from .config import HostLimits
from .errors import SessionError
from .hooks import fan_out_hook
from .persistence import SessionStore
from .process import HostPeer, ServiceProcess
from .routing import ComponentRef, HookRoute, RoutingTable

if TYPE_CHECKING:
    from .services import ServiceGroup

__all__ = ["Router", "ChildSessions", "NOTIFICATION_EVENTS"]

# Notification from a service -> the event type the consumer sees.
NOTIFICATION_EVENTS = {
    m.STREAM_TOKEN: ev.TOKEN,
    m.STREAM_THINKING: ev.THINKING,
    m.STREAM_CONTENT_BLOCK_START: ev.CONTENT_BLOCK_START,
    m.STREAM_CONTENT_BLOCK_END: ev.CONTENT_BLOCK_END,
    m.STREAM_TOOL_CALL_START: ev.TOOL_CALL_START,
    m.STREAM_TOOL_CALL: ev.TOOL_CALL,
    m.STREAM_TOOL_RESULT: ev.TOOL_RESULT,
    m.STREAM_USAGE: ev.USAGE,
    m.STREAM_TODO_UPDATE: ev.TODO_UPDATE,
    m.LOG: ev.LOG,
}
_PROVIDER_STREAM_PREFIX = "stream.provider."
_PROVIDER_TOKEN = m.STREAM_PROVIDER_TOKEN
_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "reasoning_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
)

Emit = Callable[[str, dict[str, Any]], None]
ChildSessions = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]
"""(method, calling service, params) -> result: runs ``request.session_spawn``/``resume``."""


class TokenRelay:
    """Relays provider stream notifications, joining the tokens that arrive together.

    Tokens read in one chunk from a provider's pipe are sent on as one
    ``stream.provider.token`` (the text is the same, in fewer messages), so a
    fast provider does not cost the requester one message per token. Any
    other notification for the same requester flushes the tokens first, so
    order is kept. A target is ``(requester's peer, its request id)``.
    """

    def __init__(self) -> None:
        self.pending: dict[tuple[HostPeer, int | str | None], list[str]] = {}
        self._scheduled = False

    def token(self, target: tuple[HostPeer, int | str | None], text: str) -> None:
        """Queue one token for ``target`` (the hot path: one dict lookup, one append)."""
        texts = self.pending.get(target)
        if texts is not None:
            texts.append(text)
            return
        self.pending[target] = [text]
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def relay(self, target: tuple[HostPeer, int | str | None], method: str, params: dict[str, Any]) -> None:
        """Any other stream notification: queued tokens for ``target`` go first."""
        peer, request_id = target
        texts = self.pending.pop(target, None)
        if texts is not None:
            peer.notify_nowait(m.STREAM_PROVIDER_TOKEN, {"text": "".join(texts), "request_id": request_id})
        params["request_id"] = request_id
        peer.notify_nowait(method, params)

    def flush(self) -> None:
        self._scheduled = False
        pending, self.pending = self.pending, {}
        for (peer, request_id), texts in pending.items():
            peer.notify_nowait(m.STREAM_PROVIDER_TOKEN, {"text": "".join(texts), "request_id": request_id})


class Router:
    """Routes the requests of every service of one Host; turn state is set per turn."""

    def __init__(self, *, session_id: str, model: str | None, limits: HostLimits, emit: Emit) -> None:
        self.session_id = session_id
        self.model = model
        self.limits = limits
        self.emit = emit
        self.table = RoutingTable()
        self.services: dict[str, ServiceProcess] = {}
        self.group: ServiceGroup | None = None
        """This turn's services; it starts a deferred service on first use (``ensure``)."""
        self.provider: ComponentRef | None = None
        self.context_manager: ComponentRef | None = None
        self.store: SessionStore | None = None
        self.state: dict[str, Any] = {}
        self.approvals: Approvals | None = None
        self.children: ChildSessions | None = None
        self.usage: dict[str, int] = {}
        self.running_tools: collections.Counter[str] = collections.Counter()
        self._relays: dict[tuple[str, int | str], tuple[HostPeer, int | str | None]] = {}
        self._tokens = TokenRelay()

    # -- wiring ---------------------------------------------------------------

    def handlers_for(self, service: str) -> dict[str, AnyHandler]:
        def bind(handler: Callable[[str, dict[str, Any]], Awaitable[Any]]) -> Handler:
            return lambda params: handler(service, params)

        return {
            m.REQUEST_TOOL_EXECUTE: Deferred(functools.partial(self._tool_forward, service)),
            m.REQUEST_HOOK_EMIT: bind(self._hook_emit),
            m.REQUEST_CONTEXT_ADD_MESSAGE: bind(self._context_add_message),
            m.REQUEST_CONTEXT_GET_MESSAGES: bind(self._context_get_messages),
            m.REQUEST_CONTEXT_CLEAR: bind(self._context_clear),
            m.REQUEST_PROVIDER_COMPLETE: bind(self._provider_complete),
            m.REQUEST_STATE_GET: bind(self._state_get),
            m.STATE_GET: bind(self._state_get),
            m.REQUEST_STATE_SET: bind(self._state_set),
            m.STATE_SET: bind(self._state_set),
            m.REQUEST_APPROVAL: bind(self._approval),
            m.REQUEST_SESSION_SPAWN: bind(self._session(m.REQUEST_SESSION_SPAWN)),
            m.REQUEST_SESSION_RESUME: bind(self._session(m.REQUEST_SESSION_RESUME)),
        }

    def notifications_for(self, service: str) -> NotificationFallback:
        emit = self.emit
        relays = self._relays
        coalescer = self._tokens

        token = coalescer.token

        def on_notification(method: str, params: dict[str, Any]) -> None:
            if method == _PROVIDER_TOKEN:  # by far the most frequent message: kept short
                target = relays.get((service, params.get("request_id")))  # type: ignore[arg-type]
                if target is not None:
                    text = params.get("text")
                    if type(text) is str and len(params) == 2:
                        token(target, text)
                    else:
                        coalescer.relay(target, method, params)
                return
            if method.startswith(_PROVIDER_STREAM_PREFIX):
                target = relays.get((service, params.get("request_id")))  # type: ignore[arg-type]
                if target is not None:
                    coalescer.relay(target, method, params)
                return
            event_type = NOTIFICATION_EVENTS.get(method)
            if event_type is None:
                return
            if event_type == ev.LOG:
                params = {**params, "service": service}
            elif event_type == ev.TOOL_CALL and "input" not in params and "arguments" in params:
                params = {**params, "input": params["arguments"]}
            emit(event_type, params)

        return on_notification

    def service(self, name: str) -> ServiceProcess:
        try:
            return self.services[name]
        except KeyError:
            raise ComponentNotFound(f"no service named {name} in this session") from None

    async def ensure(self, name: str) -> ServiceProcess:
        """The running process of ``name``; a deferred service (describe_cache.py) starts now."""
        process = self.services.get(name)
        if process is not None:
            return process
        if self.group is None or name not in self.group.deferred:
            raise ComponentNotFound(f"no service named {name} in this session")
        try:
            return await self.group.ensure(name)
        except SessionError as exc:
            tail = getattr(exc, "stderr_tail", "")
            self.emit(ev.SERVICE_ERROR, {"service": name, "error": exc.message, "stderr_tail": tail})
            raise ServiceGone(exc.message, data={"service": name}) from None

    # -- tools ------------------------------------------------------------------

    def _tool_forward(self, caller: str, params: dict[str, Any], reply: Reply) -> None:
        """``request.tool_execute``: passed on to the tool's service as it
        arrives, its answer passed back as it is read (no task in between:
        this is the hottest path of a turn)."""
        name = params.get("name")
        if not isinstance(name, str):
            raise InvalidParams("request.tool_execute needs a tool name")
        route = self.table.tools.get(name)
        if route is None:
            known = ", ".join(sorted(self.table.tools)) or "none"
            raise ComponentNotFound(f"no tool named {name!r} in this session (tools: {known})")
        target = self.services.get(route.service)
        if target is None:  # a deferred service (describe_cache.py): started first
            task = asyncio.ensure_future(self._tool_after_start(route.service, name, params, reply))
            reply.on_cancel = functools.partial(task.cancel, "cancelled by caller")
            return
        self._tool_send(target, route.service, name, params, reply)

    async def _tool_after_start(self, service: str, name: str, params: dict[str, Any], reply: Reply) -> None:
        try:
            target = await self.ensure(service)
        except ProtocolError as exc:
            reply.error(exc)
            return
        self._tool_send(target, service, name, params, reply)

    def _tool_send(
        self, target: ServiceProcess, service: str, name: str, params: dict[str, Any], reply: Reply
    ) -> None:
        self.running_tools[name] += 1

        def answered(result: Any, error: ProtocolError | None) -> None:
            self._tool_ended(name)
            if error is None:
                reply.result(result)
            elif isinstance(error, RequestTimeout):
                reply.error(
                    RequestTimeout(
                        f"tool {name} of service {service} did not answer within {self.limits.tool_timeout:g}s; "
                        "it was cancelled (raise the limit with --tool-timeout)",
                        data={"service": service, "tool": name},
                    )
                )
            elif isinstance(error, ServiceGone):
                reply.error(
                    ServiceGone(
                        f"service {service} exited during tool {name} ({target.peer.close_reason})",
                        data={"service": service},
                    )
                )
            else:
                reply.error(error)

        try:
            request_id = target.peer.request_soon(
                m.TOOL_EXECUTE,
                {"name": name, "input": params.get("input", {})},
                answered,
                timeout=self.limits.tool_timeout,
            )
        except ServiceGone as exc:
            answered(None, exc)
            return

        def withdrawn() -> None:
            self._tool_ended(name)
            target.peer.cancel_request(request_id, "cancelled by caller")

        reply.on_cancel = withdrawn

    def _tool_ended(self, name: str) -> None:
        running = self.running_tools
        running[name] -= 1
        if running[name] <= 0:
            del running[name]

    # -- hooks ------------------------------------------------------------------

    async def emit_hook(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        """PROTOCOL §6 fan-out across every service of the session."""
        data = dict(data)
        data.setdefault("session_id", self.session_id)
        approvals = self.approvals
        return await fan_out_hook(
            self.table.hooks_for(event),
            event,
            data,
            call=self._call_hook,
            timeout=self.limits.hook_timeout,
            on_error=self._hook_failed,
            waiting_on_user=approvals.waiting if approvals is not None else lambda service: False,
        )

    async def _call_hook(self, route: HookRoute, event: str, data: dict[str, Any]) -> Any:
        target = self.service(route.service)
        return await target.peer.request(m.HOOK_EMIT, {"event": event, "data": data, "name": route.name})

    def _hook_failed(self, route: HookRoute, event: str, error: str) -> None:
        self.emit(
            ev.HOOK_ERROR, {"service": route.service, "hook": route.name, "event": event, "error": error}
        )

    async def _hook_emit(self, caller: str, params: dict[str, Any]) -> dict[str, Any]:
        event = params.get("event")
        data = params.get("data", {})
        if not isinstance(event, str) or not event:
            raise InvalidParams("request.hook_emit needs an event name")
        if not isinstance(data, dict):
            raise InvalidParams("request.hook_emit data must be an object")
        return await self.emit_hook(event, data)

    # -- context ----------------------------------------------------------------

    async def context_call(self, method: str, params: dict[str, Any]) -> Any:
        ref = self.context_manager
        if ref is None:
            raise ComponentNotFound("this session has no context manager")
        return await self.service(ref.service).peer.request(method, params, timeout=self.limits.call_timeout)

    async def _context_add_message(self, caller: str, params: dict[str, Any]) -> Any:
        message = params.get("message")
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise InvalidParams("request.context_add_message needs a message object with a role")
        if self.store is not None:
            self.store.append_message(message)
        return await self.context_call(m.CONTEXT_ADD_MESSAGE, {"message": message})

    async def _context_get_messages(self, caller: str, params: dict[str, Any]) -> Any:
        return await self.context_call(m.CONTEXT_GET_MESSAGES, params)

    async def _context_clear(self, caller: str, params: dict[str, Any]) -> Any:
        return await self.context_call(m.CONTEXT_CLEAR, {})

    # -- providers --------------------------------------------------------------

    async def _provider_complete(self, caller: str, params: dict[str, Any]) -> Any:
        request = params.get("request")
        if not isinstance(request, dict):
            raise InvalidParams("request.provider_complete needs a request object")
        named = params.get("provider")
        if named is not None and not isinstance(named, str):
            raise InvalidParams("request.provider_complete provider must be a string")
        ref = self.table.resolve("providers", named) if named else self.provider
        if ref is None:
            raise ComponentNotFound("this session has no provider")
        if request.get("model") is None and self.model is not None:
            request = {**request, "model": self.model}
        target = self.services.get(ref.service) or await self.ensure(ref.service)
        key = (ref.service, target.peer.next_request_id)
        self._relays[key] = (self.service(caller).peer, current_request_id.get())
        try:
            result = await target.peer.request(
                m.PROVIDER_COMPLETE, {"request": request, "provider": ref.name}
            )
        finally:
            self._relays.pop(key, None)
        if isinstance(result, dict):
            self.add_usage(result.get("usage"))
        return result

    def add_usage(self, usage: Any) -> None:
        """Count a model call's usage (or a child session's turn total) into this turn's."""
        if not isinstance(usage, dict):
            return
        for name in _USAGE_FIELDS:
            value = usage.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                self.usage[name] = self.usage.get(name, 0) + value

    # -- state ------------------------------------------------------------------

    async def _state_get(self, caller: str, params: dict[str, Any]) -> dict[str, Any]:
        key = params.get("key")
        if not isinstance(key, str) or not key:
            raise InvalidParams("state.get needs a key string")
        return {"value": self.state.get(key)}

    async def _state_set(self, caller: str, params: dict[str, Any]) -> dict[str, Any]:
        key = params.get("key")
        if not isinstance(key, str) or not key:
            raise InvalidParams("state.set needs a key string")
        if "value" not in params:
            raise InvalidParams(f"state.set {key} needs a value (null removes the key)")
        value = params["value"]
        if value is None:
            self.state.pop(key, None)
        else:
            self.state[key] = value
        return {"ok": True}

    # -- approvals and child sessions -------------------------------------------

    async def _approval(self, caller: str, params: dict[str, Any]) -> dict[str, Any]:
        if self.approvals is None:
            raise ProtocolError("approvals are not available outside a turn")
        return await self.approvals.request(caller, params)

    def _session(self, method: str) -> Callable[[str, dict[str, Any]], Awaitable[Any]]:
        async def handler(caller: str, params: dict[str, Any]) -> Any:
            if self.children is None:
                raise MethodNotFound(f"{method}: child sessions are not available in this Host yet")
            return await self.children(method, caller, params)

        return handler
