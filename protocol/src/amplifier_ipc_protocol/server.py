"""Serve a package of decorated components over stdio (PROTOCOL §3-4).

    from amplifier_ipc_protocol import Server

    def main() -> None:
        Server("my_service").run()

Every component instance gets two attributes: ``host`` (a ``HostClient`` for
the ``request.*`` methods and ``state.get``/``state.set``) and ``config`` (its
configuration, ``{}`` until the Host sends some). A component may also define
``configure(config)`` (plain or async), called when its configuration arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, NamedTuple

from . import methods as m
from .client import HostClient
from .content import list_content, read_content
from .discovery import Component, Discovered, DiscoveryError, discover
from .errors import ComponentNotFound, InternalError, InvalidParams, ProtocolError
from .peer import Peer
from .schema import SchemaViolation, check_object_schema, compiled

__all__ = ["Server"]

_HOOK_STOP = ("DENY", "ASK_USER")

# A component's close() gets this long, so one stuck component cannot keep
# the service alive after the Host has gone.
CLOSE_TIMEOUT_S = 2.0
# Handler tasks still running when the channel closes get this long to
# finish their cleanup after being cancelled, then the process exits anyway.
EXIT_TASK_GRACE_S = 1.0
# Requests read before stdin ended still get their answers (``echo REQUEST |
# service`` works) if they finish within this long; the rest are cancelled.
EOF_ANSWER_GRACE_S = 0.5


def _to_wire(value: Any) -> Any:
    to_wire = getattr(value, "to_wire", None)
    if callable(to_wire):
        return to_wire()
    return value


def _tool_result(value: Any) -> dict[str, Any]:
    value = _to_wire(value)
    if isinstance(value, dict) and "success" in value:
        value.setdefault("output", None)
        value.setdefault("error", None)
        return value
    return {"success": True, "output": value, "error": None}


def _hook_result(value: Any) -> dict[str, Any]:
    value = _to_wire(value)
    if value is None:
        return {"action": "CONTINUE"}
    if isinstance(value, dict):
        return value
    raise InternalError(f"hook returned {type(value).__name__}, expected a HookResult or a dict")


async def _cancel_remaining_tasks() -> None:
    me = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=EXIT_TASK_GRACE_S)


def _preload_models() -> None:
    import threading

    threading.Thread(target=importlib.import_module, args=(f"{__package__}.models",), daemon=True).start()


def _check_raw_request(request: dict[str, Any]) -> None:
    """What a ``raw_request`` provider may rely on (PROTOCOL §9), checked without
    the pydantic models: a list of messages, each an object with a string role."""
    messages = request.get("messages")
    if not isinstance(messages, list):
        raise InvalidParams("invalid chat request: 'messages' must be a list of message objects")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise InvalidParams(
                f"invalid chat request: messages[{index}] must be an object with a string 'role'"
            )
    tools = request.get("tools")
    if tools is not None and not (
        isinstance(tools, list) and all(isinstance(t, dict) and isinstance(t.get("name"), str) for t in tools)
    ):
        raise InvalidParams("invalid chat request: 'tools' must be a list of objects with a string 'name'")


class _Tool(NamedTuple):
    spec: dict[str, Any]
    component: Component
    in_tool_set: bool
    """The component is a tool set: its execute is told the tool's name."""
    check_input: Callable[[Any], None]
    """Raises SchemaViolation for input the spec's schema refuses (compiled once)."""


class Server:
    """Serves one service package: ``Server("amplifier_foundation").run()``."""

    def __init__(self, package: str, *, name: str | None = None) -> None:
        self.package = package
        self.name = name or package.replace("_", "-")
        self._discovered: Discovered | None = None
        # Why discovery failed, kept for describe to answer with (nothing is imported twice).
        self._load_problems: list[str] | None = None
        # Tool name -> its entry, in the order described; None until the tools are listed.
        self._tools: dict[str, _Tool] | None = None
        self._applied_config: dict[str, Any] | None = None
        self._peer: Peer | None = None
        self._host: HostClient | None = None
        self._stopping: asyncio.Event | None = None

    # -- running ----------------------------------------------------------

    def run(self) -> None:
        """Serve on stdin/stdout until stdin closes, then exit the process."""
        from .loops import new_event_loop
        from .stdio import protect_stdio, terminate_children

        wire_in, wire_out = protect_stdio()
        code = 0
        # Not asyncio.run: it waits without limit for executor threads, so a
        # tool blocked in asyncio.to_thread would keep the service alive.
        loop = new_event_loop()
        try:
            loop.run_until_complete(self._serve_fds(wire_in, wire_out))
        except KeyboardInterrupt:
            code = 130
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            terminate_children()
            sys.stderr.flush()
        os._exit(code)  # daemon threads of SDKs must not keep a finished service alive

    async def _serve_fds(self, wire_in: int, wire_out: int) -> None:
        from .stdio import open_wire

        reader, writer = await open_wire(wire_in, wire_out)
        await self.serve(reader, writer)
        await _cancel_remaining_tasks()

    async def serve(self, reader: Any, writer: Any) -> None:
        """Serve one connection until it closes or ``shutdown`` arrives."""
        self._stopping = asyncio.Event()
        peer = Peer(
            reader,
            writer,
            name=self.name,
            handlers=self._handlers(),
            report=self._log,
            cancel_handlers_on_eof=False,
        )
        self._peer = peer
        self._host = HostClient(peer)
        # Components are imported now, before the first request is read: a
        # service started ahead of its turn (a pre-spawn, the CLI's early
        # fork) is ready when describe comes instead of starting then.
        with contextlib.suppress(InternalError):
            self._load()
        reading = peer.start()
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if reading.done():
            await peer.settle(EOF_ANSWER_GRACE_S)
        else:
            reading.cancel()
        await peer.close()
        await self._close_components()

    def _log(self, text: str) -> None:
        sys.stderr.write(f"[{self.name}] {text}\n")

    def _handlers(self) -> dict[str, Any]:
        return {
            m.DESCRIBE: self._describe,
            m.CONFIGURE: self._configure,
            m.TOOL_EXECUTE: self._tool_execute,
            m.HOOK_EMIT: self._hook_emit,
            m.CONTEXT_ADD_MESSAGE: self._context("add_message", "message"),
            m.CONTEXT_SET_MESSAGES: self._context("set_messages", "messages"),
            m.CONTEXT_GET_MESSAGES: self._context_get_messages,
            m.CONTEXT_CLEAR: self._context("clear", None),
            m.PROVIDER_COMPLETE: self._provider_complete,
            m.PROVIDER_INFO: self._provider_info,
            m.ORCHESTRATOR_EXECUTE: self._orchestrator_execute,
            m.CONTENT_READ: self._content_read,
            m.CONTENT_LIST: self._content_list,
            m.PING: lambda params: {},
            m.SHUTDOWN: self._shutdown,
            m.CANCEL: self._cancel,
        }

    def _cancel(self, params: dict[str, Any]) -> None:
        # Immediate cancels were already delivered to the handler task by the
        # Peer; a graceful one is passed to orchestrators that accept it.
        if not params.get("graceful") or self._discovered is None:
            return
        for component in self._discovered.of_kind("orchestrator"):
            request_cancel = getattr(component.instance, "request_cancel", None)
            if callable(request_cancel):
                request_cancel(immediate=False)

    def _shutdown(self, params: dict[str, Any]) -> None:
        if self._stopping is not None:
            self._stopping.set()

    async def _close_components(self) -> None:
        if self._discovered is None:
            return
        for component in self._discovered.components:
            close = getattr(component.instance, "aclose", None) or getattr(component.instance, "close", None)
            if callable(close):
                try:
                    result = close()
                    if hasattr(result, "__await__"):
                        await asyncio.wait_for(result, timeout=CLOSE_TIMEOUT_S)
                except Exception as exc:  # closing must not stop the others closing
                    self._log(f"closing {component.kind} {component.name} failed: {exc}")

    # -- discovery and describe -------------------------------------------

    def _load(self) -> Discovered:
        if self._discovered is None:
            if self._load_problems is None:
                try:
                    found = discover(self.package)
                except DiscoveryError as exc:
                    self._load_problems = exc.problems
            if self._load_problems is not None:
                raise InternalError(
                    f"{self.name} failed to load its components: " + "; ".join(self._load_problems),
                    data={"problems": self._load_problems},
                )
            for component in found.components:
                try:
                    component.instance.host = self._host
                    if not hasattr(component.instance, "config"):
                        component.instance.config = {}
                except AttributeError:
                    pass
            self._discovered = found
        return self._discovered

    async def _describe(self, params: dict[str, Any]) -> dict[str, Any]:
        found = self._load()
        config = params.get("config")
        if isinstance(config, dict) and config:
            await self._apply_config(config)
        capabilities: dict[str, Any] = {
            "orchestrators": [{"name": c.name} for c in found.of_kind("orchestrator")],
            "context_managers": [{"name": c.name} for c in found.of_kind("context_manager")],
            "tools": await self._list_tools(found),
            "hooks": [
                {"name": c.name, "events": list(c.mark.events), "priority": c.mark.priority}
                for c in found.of_kind("hook")
            ],
            "providers": [{"name": c.name} for c in found.of_kind("provider")],
            "content": {"paths": found.content},
            # Every component by kind and name: what `configure` accepts, including tool sets
            # whose tools are named differently (the registry routes config with it).
            "components": [{"kind": c.kind, "name": c.name} for c in found.components],
        }
        if any(not c.mark.options.get("raw_request") for c in found.of_kind("provider")):
            # provider.complete of a provider without raw_request needs the
            # pydantic models (about 170 ms to import on 2 cores). Describe is
            # answered first; the import then overlaps the Host's configure,
            # provider.info and prompt assembly instead of delaying the turn's
            # first model call.
            asyncio.get_running_loop().call_soon(_preload_models)
        answer = {"name": self.name, "protocol_version": m.PROTOCOL_VERSION, "capabilities": capabilities}
        warnings = await self._warnings(found)
        if warnings:
            answer["warnings"] = warnings
        return answer

    async def _warnings(self, found: Discovered) -> list[str]:
        """What components report as working only in part (PROTOCOL §4: describe
        ``warnings``), from an optional ``warnings()`` method, plain or async."""
        out: list[str] = []
        for component in found.components:
            report = getattr(component.instance, "warnings", None)
            if not callable(report):
                continue
            listed = report()
            if hasattr(listed, "__await__"):
                listed = await listed
            out += [str(item) for item in listed or ()]
        return out

    async def _list_tools(self, found: Discovered) -> list[dict[str, Any]]:
        tools: dict[str, _Tool] = {}
        for component in found.of_kind("tool"):
            instance = component.instance
            if hasattr(instance, "list_tools"):
                listed = instance.list_tools()
                if hasattr(listed, "__await__"):
                    listed = await listed
                for spec in listed:
                    spec = dict(_to_wire(spec))
                    try:
                        check_object_schema(spec.get("input_schema"), owner=f"tool {spec.get('name')}")
                    except ValueError as exc:
                        raise InternalError(str(exc)) from None
                    if spec.get("name") in tools:
                        raise InternalError(f"{self.name} lists tool {spec.get('name')!r} twice")
                    tools[spec["name"]] = _Tool(
                        spec, component, True, compiled(spec["input_schema"], "input")
                    )
                continue
            schema = instance.input_schema
            try:
                check_object_schema(schema, owner=f"tool {component.name}")
            except ValueError as exc:
                raise InternalError(str(exc)) from None
            if component.name in tools:
                raise InternalError(f"{self.name} lists tool {component.name!r} twice")
            description = component.mark.options.get("description")
            spec = {
                "name": component.name,
                "description": description or getattr(instance, "description", "") or "",
                "input_schema": schema,
            }
            tools[component.name] = _Tool(spec, component, False, compiled(schema, "input"))
        self._tools = tools
        return [tool.spec for tool in tools.values()]

    async def _configure(self, params: dict[str, Any]) -> dict[str, Any]:
        config = params.get("config", {})
        if not isinstance(config, dict):
            raise InvalidParams("configure needs {config: {<component name>: {...}}}")
        await self._apply_config(config)
        return {"ok": True}

    async def _apply_config(self, config: dict[str, Any]) -> None:
        found = self._load()
        if config == self._applied_config:
            return
        names = {c.name for c in found.components}
        unknown = sorted(set(config) - names)
        if unknown:
            raise InvalidParams(
                f"{self.name} has no component named {', '.join(unknown)} "
                f"(its components: {', '.join(sorted(names)) or 'none'})",
                data={"unknown": unknown},
            )
        for component in found.components:
            if component.name not in config:
                continue
            value = config[component.name]
            if not isinstance(value, dict):
                raise InvalidParams(f"config for {component.name} must be an object")
            try:
                component.instance.config = value
            except AttributeError:
                pass
            hook = getattr(component.instance, "configure", None)
            if callable(hook):
                result = hook(value)
                if hasattr(result, "__await__"):
                    await result
        self._applied_config = config

    # -- lookups ----------------------------------------------------------

    def _find(self, kind: str, name: Any, label: str) -> Component:
        components = self._load().of_kind(kind)
        if name is None:
            if len(components) == 1:
                return components[0]
            if not components:
                raise ComponentNotFound(f"{self.name} has no {label}")
            raise InvalidParams(
                f"{self.name} has several {label}s ({', '.join(c.name for c in components)}); name one"
            )
        for component in components:
            if component.name == name:
                return component
        known = ", ".join(c.name for c in components) or "none"
        raise ComponentNotFound(f"{self.name} has no {label} named {name!r} (it has: {known})")

    # -- tools ------------------------------------------------------------

    async def _tool_execute(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("name")
        tool_input = params.get("input", {})
        if not isinstance(name, str):
            raise InvalidParams("tool.execute needs a tool name")
        if not isinstance(tool_input, dict):
            raise InvalidParams(f"input for tool {name} must be an object")
        tools = self._tools
        if tools is None:
            await self._list_tools(self._load())
            tools = self._tools or {}
        found = tools.get(name)
        if found is None:
            known = ", ".join(tools) or "none"
            raise ComponentNotFound(f"{self.name} has no tool named {name!r} (it has: {known})")
        _, component, in_tool_set, check_input = found
        try:
            check_input(tool_input)
        except SchemaViolation as exc:
            raise InvalidParams(f"invalid input for tool {name}: {exc}", data={"field": exc.path}) from None
        try:
            if in_tool_set:
                result = await component.instance.execute(tool_input, name=name)
            else:
                result = await component.instance.execute(tool_input)
        except ProtocolError:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._log(f"tool {name} raised:\n{traceback.format_exc(limit=10)}")
            return {
                "success": False,
                "output": None,
                "error": {"message": f"{type(exc).__name__}: {exc}", "type": type(exc).__name__},
            }
        return _tool_result(result)

    # -- hooks ------------------------------------------------------------

    async def _hook_emit(self, params: dict[str, Any]) -> dict[str, Any]:
        event = params.get("event")
        data = params.get("data", {})
        if not isinstance(event, str):
            raise InvalidParams("hook.emit needs an event name")
        if not isinstance(data, dict):
            raise InvalidParams("hook.emit data must be an object")
        name = params.get("name")
        if name is not None:
            component = self._find("hook", name, "hook")
            return _hook_result(await component.instance.handle(event, data))
        hooks = [c for c in self._load().of_kind("hook") if event in c.mark.events or "*" in c.mark.events]
        hooks.sort(key=lambda c: c.mark.priority)
        injections: list[dict[str, Any]] = []
        modified = False
        for component in hooks:
            result = _hook_result(await component.instance.handle(event, data))
            action = result.get("action", "CONTINUE")
            if action in _HOOK_STOP:
                return result
            if action == "MODIFY" and isinstance(result.get("data"), dict):
                data = result["data"]
                modified = True
            elif action == "INJECT_CONTEXT":
                injections.append(result)
        if injections:
            merged = dict(injections[0])
            merged["context_injection"] = "\n\n".join(
                str(r.get("context_injection") or "") for r in injections
            )
            merged["data"] = data
            return merged
        return {"action": "MODIFY" if modified else "CONTINUE", "data": data}

    # -- context ----------------------------------------------------------

    def _context(self, method: str, argument: str | None) -> Any:
        async def handler(params: dict[str, Any]) -> dict[str, Any]:
            component = self._find("context_manager", params.get("name"), "context manager")
            function = getattr(component.instance, method)
            if argument is None:
                result = function()
            else:
                if argument not in params:
                    raise InvalidParams(f"context.{method} needs {argument}")
                result = function(params[argument])
            if hasattr(result, "__await__"):
                await result
            return {"ok": True}

        return handler

    async def _context_get_messages(self, params: dict[str, Any]) -> dict[str, Any]:
        component = self._find("context_manager", params.get("name"), "context manager")
        result = component.instance.get_messages(params.get("provider_info"))
        if hasattr(result, "__await__"):
            result = await result
        return {"messages": [_to_wire(x) for x in result]}

    # -- providers --------------------------------------------------------

    async def _provider_complete(self, params: dict[str, Any]) -> dict[str, Any]:
        component = self._find("provider", params.get("provider"), "provider")
        raw = params.get("request")
        if not isinstance(raw, dict):
            raise InvalidParams("provider.complete needs a request object")
        request: Any
        if component.mark.options.get("raw_request"):
            _check_raw_request(raw)
            request = raw
        else:
            from .models import ChatRequest

            try:
                request = ChatRequest.model_validate(raw)
            except ValueError as exc:
                raise InvalidParams(f"invalid chat request: {exc}") from None
        result = await component.instance.complete(request)
        wire = _to_wire(result)
        if not isinstance(wire, dict):
            raise InternalError(
                f"provider {component.name} returned {type(result).__name__}, not a ChatResponse"
            )
        return wire

    async def _provider_info(self, params: dict[str, Any]) -> dict[str, Any]:
        component = self._find("provider", params.get("provider"), "provider")
        info = getattr(component.instance, "info", None)
        if not callable(info):
            return {
                "id": component.name,
                "display_name": component.name,
                "models": [],
                "capabilities": [],
                "defaults": {},
            }
        result = info()
        if hasattr(result, "__await__"):
            result = await result
        wire: dict[str, Any] = _to_wire(result)
        return wire

    # -- orchestrator -----------------------------------------------------

    async def _orchestrator_execute(self, params: dict[str, Any]) -> dict[str, Any]:
        component = self._find("orchestrator", params.get("orchestrator"), "orchestrator")
        prompt = params.get("prompt")
        if not isinstance(prompt, str):
            raise InvalidParams("orchestrator.execute needs a prompt string")
        response = await component.instance.execute(
            prompt=prompt,
            system_prompt=params.get("system_prompt") or "",
            session_id=params.get("session_id") or "",
            config=params.get("config") or {},
            tools=params.get("tools") or [],
            provider_info=params.get("provider_info") or {},
        )
        return {"response": response if isinstance(response, str) else _to_wire(response)}

    # -- content ----------------------------------------------------------

    async def _content_read(self, params: dict[str, Any]) -> dict[str, Any]:
        found = self._load()
        return {"content": read_content(found.root, params.get("path"))}

    async def _content_list(self, params: dict[str, Any]) -> dict[str, Any]:
        found = self._load()
        return {"paths": list_content(found.content, params.get("prefix"))}
