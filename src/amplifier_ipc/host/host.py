"""The Host: runs turns of one session and yields their events.

::

    host = Host(config, prespawn=True)
    async for event in host.run("What is in this folder?"):
        ...                     # events.py lists the types
    await host.close()          # tears down pre-spawned processes

A turn: take the session's lock, restore its metadata, state and transcript;
start (or take the pre-spawned) services, describe, configure; build the
routing table; restore the context manager in one ``context.set_messages``,
assemble the system prompt and ask the provider for its info, in parallel;
call ``orchestrator.execute``; then tear the processes down, repair and fsync
the transcript, write state and metadata, and yield ``complete``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from amplifier_ipc_protocol import methods as m
from amplifier_ipc_protocol.errors import ProtocolError, RequestCancelled

from . import events as ev
from .approvals import Approvals
from .child_context import DELEGATE_TOOL, apply_session_rules
from .children import AgentResolver, ChildSessions
from .config import HostLimits, SessionConfig
from .errors import SessionError
from .persistence import (
    SessionStore,
    new_session_id,
    now_iso,
    repair_transcript,
    validate_session_id,
)
from .process import ServiceLog, ServiceProcess
from .prompt import build_system_prompt
from .router import Router
from .routing import RoutingTable
from .services import ServiceGroup, capabilities_of

__all__ = ["Host", "default_sessions_dir"]

# Stream events are too many and too small to be worth keeping in events.jsonl.
_UNLOGGED_EVENTS = frozenset({ev.TOKEN, ev.THINKING, ev.CONTENT_BLOCK_START, ev.CONTENT_BLOCK_END})
_JOINABLE = frozenset({ev.TOKEN, ev.THINKING})
# The first prompt, cut to this length, names a new session.
SESSION_NAME_CHARS = 60
CANCELLED_RESULT = "cancelled: the user stopped the turn before this tool call finished"
_END = object()
# How long a crashed service's report (exit code, stderr tail) may take once the turn ends.
WATCHER_SETTLE_S = 1.0


def default_sessions_dir() -> Path:
    home = os.environ.get("AMPLIFIER_HOME") or str(Path.home() / ".amplifier")
    return Path(home) / "sessions"


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


class Host:
    """Runs the turns of one session. One turn at a time."""

    def __init__(
        self,
        config: SessionConfig,
        *,
        prespawn: bool = False,
        limits: HostLimits | None = None,
        interactive: bool = True,
        resolve_agent: AgentResolver | None = None,
    ) -> None:
        self.config = config
        self.limits = limits or HostLimits()
        self.prespawn = prespawn
        self.session_id = validate_session_id(config.session_id) if config.session_id else new_session_id()
        self.store = SessionStore(config.sessions_dir or default_sessions_dir(), self.session_id)
        self.router = Router(
            session_id=self.session_id, model=config.model, limits=self.limits, emit=self._emit
        )
        self.router.store = self.store
        self.router.approvals = Approvals(
            mode=config.approval_mode,
            interactive=interactive,
            default_timeout=self.limits.approval_timeout,
            emit=lambda data: self._emit(ev.APPROVAL_REQUEST, data),
        )
        self.children = ChildSessions(self, resolve_agent)
        self.router.children = self.children.handle
        self._log: ServiceLog | None = None
        self._pending_text: tuple[str, list[str]] | None = None
        self._marking: asyncio.Future[None] | None = None
        self._queue: asyncio.Queue[Any] | None = None
        self._turn_task: asyncio.Task[None] | None = None
        self._orchestrator_call: tuple[ServiceProcess, int, asyncio.Task[Any]] | None = None
        self._cancels = 0
        self._prespawned: asyncio.Task[ServiceGroup] | None = None
        self._watchers: list[asyncio.Task[None]] = []
        self._closed = False
        self._sigterm = False
        if prespawn:
            with contextlib.suppress(RuntimeError):  # no running loop: pre-spawn after the first turn
                asyncio.get_running_loop()
                self._start_prespawn()

    # -- public API -------------------------------------------------------------

    async def run(self, prompt: str) -> AsyncIterator[ev.Event]:
        """Run one turn; yields its events, ``complete`` last."""
        if self._closed:
            raise RuntimeError("this Host is closed; create a new one")
        if self._turn_task is not None:
            raise RuntimeError("a turn is already running on this Host")
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._queue = queue
        self._cancels = 0
        task = asyncio.get_running_loop().create_task(self._turn(prompt))
        self._turn_task = task
        task.add_done_callback(lambda _: queue.put_nowait(_END))
        restore_sigterm = self._catch_sigterm()
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    break
                yield item
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(task)
            self._turn_task = None
            self._queue = None
            restore_sigterm()
            if self._sigterm:
                await self.close()
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                os.kill(os.getpid(), signal.SIGTERM)

    def cancel(self, immediate: bool = False) -> None:
        """Stop the running turn: gracefully (running tools finish) first, at once on a second call."""
        if self._turn_task is None or self._turn_task.done():
            return
        self._cancels += 1
        immediate = immediate or self._cancels > 1
        self._emit(ev.CANCELLING, {"immediate": immediate, "running": sorted(self.router.running_tools)})
        self.children.cancel(immediate)
        call = self._orchestrator_call
        if call is None:
            if immediate:
                self._turn_task.cancel()
            return  # a graceful cancel before execute: the turn stops before calling it
        process, request_id, task = call
        if not immediate:
            process.peer.notify_nowait(m.CANCEL, {"id": request_id, "graceful": True})
            return
        process.peer.notify_nowait(m.CANCEL, {"id": request_id, "reason": "cancelled by the user"})
        # The orchestrator may store cancelled tool results before answering; not forever.
        asyncio.get_running_loop().call_later(self.limits.cancel_grace, task.cancel)

    def send_approval(self, request_id: str, decision: str) -> None:
        """Answer an ``approval_request`` event; ``KeyError``/``ValueError`` for a bad id or option."""
        if "/" in request_id:  # a child session's request
            self.children.answer_approval(request_id, decision)
            return
        assert self.router.approvals is not None
        self.router.approvals.answer(request_id, decision)

    async def close(self) -> None:
        """Discard pre-spawned processes and release the service log."""
        self._closed = True
        task, self._prespawned = self._prespawned, None
        if task is not None:
            if task.done() and not task.cancelled() and task.exception() is None:
                await task.result().teardown(self.limits)
            else:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if self._log is not None:
            self._log.close()
            self._log = None

    # -- events -----------------------------------------------------------------

    def _emit(self, event_type: str, data: dict[str, Any]) -> None:
        # Text that arrives faster than the consumer reads is joined into one event.
        if event_type in _JOINABLE and len(data) == 1 and isinstance(data.get("text"), str):
            pending = self._pending_text
            if pending is not None and pending[0] == event_type:
                pending[1].append(data["text"])
                return
            self._flush_text()
            self._pending_text = (event_type, [data["text"]])
            asyncio.get_running_loop().call_soon(self._flush_text)
            return
        self._flush_text()
        self._push(event_type, data)
        if event_type == ev.TOOL_CALL_START and data.get("name") == DELEGATE_TOOL:
            self.children.prepare_spare()  # the child's services start while the model writes the call

    def _flush_text(self) -> None:
        pending, self._pending_text = self._pending_text, None
        if pending is not None:
            self._push(pending[0], {"text": "".join(pending[1])})

    def _push(self, event_type: str, data: dict[str, Any]) -> None:
        event = ev.Event(
            event_type,
            data,
            session_id=self.session_id,
            parent_id=self.config.parent_id,
            depth=self.config.depth,
        )
        if event_type not in _UNLOGGED_EVENTS:
            self.store.append_event(event.to_json())
        if self._queue is not None:
            self._queue.put_nowait(event)

    def forward_child_event(self, event: ev.Event) -> None:
        """Pass a child session's event to this turn's consumer, in order with this session's own."""
        self._flush_text()
        if self._queue is not None:
            self._queue.put_nowait(event)

    def _catch_sigterm(self) -> Any:
        """Tear down on SIGTERM when nobody else handles it; returns the undo."""
        try:
            loop = asyncio.get_running_loop()
            if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
                return lambda: None
            loop.add_signal_handler(signal.SIGTERM, self._on_sigterm)
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread
            return lambda: None
        return lambda: loop.remove_signal_handler(signal.SIGTERM)

    def _on_sigterm(self) -> None:
        self._sigterm = True
        self.cancel(immediate=True)

    # -- services ---------------------------------------------------------------

    async def _start_group(self) -> ServiceGroup:
        if self._log is None:
            self.store.directory.mkdir(parents=True, exist_ok=True)
            self._log = ServiceLog(self.store.services_log)
        return await ServiceGroup.start(
            self.config.services,
            cwd=self.config.working_dir,
            session_id=self.session_id,
            log=self._log,
            router=self.router,
            limits=self.limits,
            selected_provider=self.config.provider,
        )

    def _start_prespawn(self) -> None:
        if self._prespawned is None and not self._closed:
            self._prespawned = asyncio.get_running_loop().create_task(self._start_group())

    async def _take_group(self) -> ServiceGroup:
        task, self._prespawned = self._prespawned, None
        if task is not None:
            try:
                group = await task
            except SessionError:
                group = None  # start again, so the error is reported by this turn
            if group is not None:
                if all(p.alive for p in group.processes.values()):
                    return group
                await group.teardown(self.limits)
        return await self._start_group()

    def _watch(self, group: ServiceGroup) -> None:
        async def watch(process: ServiceProcess) -> None:
            await process.peer.wait_closed()
            if not process.expected_exit:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait_exit(), 0.5)
                self._emit(
                    ev.SERVICE_ERROR,
                    {
                        "service": process.name,
                        "error": f"service {process.name} {process.exit_description()}",
                        "stderr_tail": await process.tail(),
                    },
                )

        loop = asyncio.get_running_loop()
        self._watchers = [loop.create_task(watch(p)) for p in group.processes.values()]
        group.on_start = lambda process: self._watchers.append(loop.create_task(watch(process)))

    # -- the turn ---------------------------------------------------------------

    def _begin(self, prompt: str) -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
        """Lock the session and load what a turn starts from: metadata, state, transcript."""
        resumed = self.store.exists
        metadata = self.store.read_metadata() if resumed else {}
        self.store.open()
        config = self.config
        if not resumed:
            metadata = {
                "id": self.session_id,
                "agent": config.agent,
                "name": config.metadata.get("name") or " ".join(prompt.split())[:SESSION_NAME_CHARS],
                "created": now_iso(),
                "turns": 0,
                "usage": {},
                "parent_id": config.parent_id,
                "working_dir": str(config.working_dir),
            }
        metadata.update(status="running", updated=now_iso(), error=None, host_pid=os.getpid())
        metadata["turns"] = int(metadata.get("turns", 0)) + 1
        # The fsync of "running" need not delay the turn; it is awaited before the end.
        self._marking = asyncio.ensure_future(asyncio.to_thread(self.store.write_metadata, dict(metadata)))
        self.router.state = self.store.read_state()
        messages = self.store.read_transcript() if resumed else list(config.initial_messages)
        if not resumed:  # a child's parent context is its transcript's first message
            for message in messages:
                self.store.append_message(message)
        missing = repair_transcript(messages)
        if missing:
            messages += missing
            self.store.rewrite_transcript(messages)
        return metadata, messages, resumed

    async def _turn(self, prompt: str) -> None:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        status, response, error = "failed", None, None
        group: ServiceGroup | None = None
        router = self.router
        metadata: dict[str, Any] = {}
        router.usage = {}
        try:
            metadata, messages, resumed = self._begin(prompt)
            if not resumed and self._marking is not None:
                # The id turn_start announces must name a session on disk: a Host
                # killed right after it leaves the session "interrupted", not missing.
                # One fsync, on a session's first turn only.
                marking, self._marking = self._marking, None
                await marking
            timings["begin_ms"] = _ms(started)
            self._emit(
                ev.TURN_START,
                {
                    "session_id": self.session_id,
                    "agent": self.config.agent,
                    "turn": metadata["turns"],
                    "services": [s.name for s in self.config.services],
                    "resumed": resumed,
                },
            )
            step = time.perf_counter()
            group = await self._take_group()
            timings["services_ms"] = _ms(step)
            self._watch(group)
            params = await self._prepare(prompt, group, messages)
            timings["prepare_ms"] = _ms(step) - timings["services_ms"]
            if self._cancels:
                status = "cancelled"
            else:
                step = time.perf_counter()
                response = await self._execute(group, params)
                timings["execute_ms"] = _ms(step)
                status = "cancelled" if self._cancels else "completed"
        except SessionError as exc:
            error = exc.message
            self._emit(
                ev.ERROR,
                {
                    "message": exc.message,
                    "hint": exc.hint,
                    "service": exc.service,
                    "type": type(exc).__name__,
                },
            )
        except RequestCancelled:
            status = "cancelled"
        except ProtocolError as exc:
            error = f"the orchestrator failed: {exc.message}"
            self._emit(
                ev.ERROR, {"message": error, "service": exc.data.get("service"), "type": type(exc).__name__}
            )
        except asyncio.CancelledError:
            status = "cancelled"
            await asyncio.shield(self._finish(group, metadata, status, error, response, started, timings))
            raise
        except Exception as exc:  # a Host bug still ends the turn cleanly, with no process left
            error = f"internal error in the Host: {type(exc).__name__}: {exc}"
            self._emit(ev.ERROR, {"message": error, "type": type(exc).__name__})
        await self._finish(group, metadata, status, error, response, started, timings)

    async def _prepare(
        self, prompt: str, group: ServiceGroup, messages: list[dict[str, Any]]
    ) -> dict[str, Any]:
        config, router = self.config, self.router
        table = RoutingTable.build(capabilities_of(group), config.tool_conflicts)
        apply_session_rules(table, config, lambda text: self._emit(ev.WARNING, {"message": text}))
        router.model = config.model
        router.table, router.services, router.group = table, group.processes, group
        orchestrator = table.resolve("orchestrators", config.orchestrator)
        router.context_manager = table.resolve("context_managers", config.context_manager)
        provider = router.provider = table.resolve("providers", config.provider)

        async def restore() -> None:
            if messages:
                await router.context_call(m.CONTEXT_SET_MESSAGES, {"messages": messages})

        async def provider_info() -> dict[str, Any]:
            process = await router.ensure(provider.service)
            info = await process.peer.request(
                m.PROVIDER_INFO, {"provider": provider.name}, timeout=self.limits.call_timeout
            )
            return info if isinstance(info, dict) else {}

        _, system_prompt, info = await asyncio.gather(
            restore(),
            build_system_prompt(
                config.system_prompt,
                config.content,
                service_content=table.content,
                read=self.read_content,
                working_dir=config.working_dir,
                max_bytes=self.limits.max_system_prompt_bytes,
                max_depth=self.limits.max_mention_depth,
                warn=lambda text: self._emit(ev.WARNING, {"message": text}),
            ),
            provider_info(),
        )
        orchestrator_config = dict(config.orchestrator_config)
        if config.model is not None:
            orchestrator_config["model"] = config.model
        orchestrator_config["provider"] = str(provider)
        if config.model_role is not None:
            orchestrator_config["model_role"] = config.model_role
            orchestrator_config["available_providers"] = [ref.name for ref in table.providers]
        return {
            "service": orchestrator.service,
            "prompt": prompt,
            "system_prompt": system_prompt,
            "session_id": self.session_id,
            "orchestrator": orchestrator.name,
            "config": orchestrator_config,
            "tools": table.tool_specs(),
            "provider_info": info,
        }

    async def read_content(self, service: str, path: str) -> str:
        """``content.read`` of this turn's ``service``, from the describe cache when it has not started."""
        group = self.router.group
        cached = group.cached_content(service, path) if group is not None else None
        if cached is not None:
            return cached
        process = await self.router.ensure(service)
        result = await process.peer.request(m.CONTENT_READ, {"path": path}, timeout=self.limits.call_timeout)
        return str(result.get("content", "")) if isinstance(result, dict) else ""

    async def _execute(self, group: ServiceGroup, params: dict[str, Any]) -> Any:
        process = group.processes[params.pop("service")]
        request_id = process.peer.next_request_id
        task = asyncio.ensure_future(process.peer.request(m.ORCHESTRATOR_EXECUTE, params))
        self._orchestrator_call = (process, request_id, task)
        try:
            result = await task
        except asyncio.CancelledError:
            if self._cancels and self._turn_task is not None and not self._turn_task.cancelling():
                return None  # the cancel grace ran out: an immediate cancel, not ours to re-raise
            raise
        finally:
            self._orchestrator_call = None
        return result.get("response") if isinstance(result, dict) else result

    async def _finish(
        self,
        group: ServiceGroup | None,
        metadata: dict[str, Any],
        status: str,
        error: str | None,
        response: Any,
        started: float,
        timings: dict[str, float],
    ) -> None:
        step = time.perf_counter()
        await self.children.close()
        if group is not None:
            await group.teardown(self.limits)
        # Watchers of services that crashed during the turn still report them.
        watchers, self._watchers = self._watchers, []
        if watchers:
            _, late = await asyncio.wait(watchers, timeout=WATCHER_SETTLE_S)
            for watcher in late:
                watcher.cancel()
        timings["teardown_ms"] = _ms(step)
        if self._marking is not None:
            with contextlib.suppress(OSError):
                await self._marking
            self._marking = None
        if metadata:  # the session was opened: record the turn
            try:
                missing = repair_transcript(self.store.read_transcript(), CANCELLED_RESULT)
                for message in missing:
                    self.store.append_message(message)
                self.store.write_state(self.router.state)
                # On disk before "completed" is recorded and the answer is out: a failure fails the turn.
                self.store.sync()
                usage = dict(metadata.get("usage") or {})
                for name, value in self.router.usage.items():
                    usage[name] = int(usage.get(name, 0)) + value
                metadata.update(status=status, updated=now_iso(), error=error, usage=usage)
                metadata.pop("host_pid", None)
                self.store.write_metadata(metadata)
            except (OSError, SessionError) as exc:
                status, error = "failed", f"the session could not be saved: {exc}"
                self._emit(ev.ERROR, {"message": error, "type": type(exc).__name__})
        timings["total_ms"] = _ms(started)
        self._emit(
            ev.COMPLETE,
            {
                "response": response,
                "usage": dict(self.router.usage),
                "timings": timings,
                "status": status,
                "error": error,
            },
        )
        try:
            self.store.close()  # also fsyncs the complete event's line
        except (OSError, SessionError):
            # Only that last line of events.jsonl can be missing: anything else
            # that failed to be written was reported by the sync above.
            pass
        if self.prespawn and status != "failed" and not self._sigterm:
            self._start_prespawn()
