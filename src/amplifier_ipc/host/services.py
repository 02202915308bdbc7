"""The services of one turn: started in parallel, described, configured, torn down together."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from amplifier_ipc_protocol import methods as m
from amplifier_ipc_protocol.errors import ProtocolError, RequestTimeout, ServiceGone

from . import describe_cache
from . import events as ev
from .config import HostLimits, ServiceSpec
from .describe_cache import CachedDescribe
from .errors import ServiceStartError
from .process import ServiceLog, ServiceProcess, build_env
from .router import Router
from .routing import check_describe

__all__ = ["ServiceGroup", "capabilities_of"]

# Once one service is gone, how long its exit code may take to be known (for the message).
EXIT_CODE_WAIT_S = 0.5


class ServiceGroup:
    """Every service of one turn, by name, in the session's service order.

    ``processes`` holds the running ones; ``deferred`` the ones whose cached
    describe answer (describe_cache.py) lets them start only when first
    needed (``ensure``), or never, for a service that only serves cached content.
    """

    def __init__(
        self,
        processes: dict[str, ServiceProcess],
        *,
        capabilities: dict[str, dict[str, Any]] | None = None,
        deferred: dict[str, tuple[ServiceSpec, CachedDescribe]] | None = None,
        starter: Callable[[ServiceSpec], Awaitable[ServiceProcess]] | None = None,
        limits: HostLimits | None = None,
    ) -> None:
        self.processes = processes
        self.capabilities = (
            capabilities
            if capabilities is not None
            else {name: p.describe.get("capabilities", {}) for name, p in processes.items()}
        )
        self.deferred = deferred or {}
        self.on_start: Callable[[ServiceProcess], None] | None = None
        """Called with each deferred service once it is running (the Host watches it)."""
        self._starter = starter
        self._limits = limits or HostLimits()
        self._starting: dict[str, asyncio.Task[ServiceProcess]] = {}
        self._closed = False

    @property
    def names(self) -> list[str]:
        return list(self.capabilities)

    @classmethod
    async def start(
        cls,
        specs: list[ServiceSpec],
        *,
        cwd: Path,
        session_id: str,
        log: ServiceLog,
        router: Router,
        limits: HostLimits,
        selected_provider: str | None = None,
    ) -> ServiceGroup:
        """Start and describe every service that is needed at once; on any failure, tear all down and raise.

        ``selected_provider`` (``SessionConfig.provider``) keeps the service of
        the session's provider running from the start.
        """
        names = [spec.name for spec in specs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ServiceStartError(
                f"several services are named {', '.join(duplicates)}",
                service=duplicates[0],
                hint="give each service of an agent a distinct name",
            )
        deferred: dict[str, tuple[ServiceSpec, CachedDescribe]] = {}
        eager: list[ServiceSpec] = []
        for spec in specs:
            cached = describe_cache.load(spec)
            if cached is not None and describe_cache.is_deferrable(cached.capabilities, selected_provider):
                deferred[spec.name] = (spec, cached)
            else:
                eager.append(spec)
        started: dict[str, ServiceProcess] = {}

        def spawn(spec: ServiceSpec) -> Awaitable[ServiceProcess]:
            return ServiceProcess.start(
                spec,
                cwd=cwd,
                env=build_env(spec, session_id),
                log=log,
                handlers=router.handlers_for(spec.name),
                on_notification=router.notifications_for(spec.name),
            )

        async def bring_up(spec: ServiceSpec) -> None:
            process = started[spec.name] = await spawn(spec)
            await _describe(process, limits)
            _warn(process, router)
            await _remember(process, selected_provider, limits)

        async def start_deferred(spec: ServiceSpec) -> ServiceProcess:
            process = await spawn(spec)
            try:
                await _describe(process, limits)
                _warn(process, router)
            except BaseException:
                await asyncio.shield(process.teardown(limits.shutdown_grace, limits.term_grace))
                raise
            return process

        try:
            results = await asyncio.gather(*(bring_up(spec) for spec in eager), return_exceptions=True)
        except asyncio.CancelledError:
            partial = cls(dict(started))
            partial.kill()
            await asyncio.shield(partial.teardown(limits))
            raise
        processes = {name: started[name] for name in names if name in started}
        capabilities = {
            name: deferred[name][1].capabilities
            if name in deferred
            else processes[name].describe.get("capabilities", {})
            for name in names
            if name in deferred or name in processes
        }
        group = cls(
            processes, capabilities=capabilities, deferred=deferred, starter=start_deferred, limits=limits
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await group.teardown(limits)
            raise failures[0]
        return group

    def cached_content(self, name: str, path: str) -> str | None:
        """``path`` of a service that has not started, from the describe cache; None when not cached."""
        entry = self.deferred.get(name)
        if entry is None or name in self.processes or entry[1].content is None:
            return None
        return entry[1].content.get(path)

    async def ensure(self, name: str) -> ServiceProcess:
        """The running process of ``name``, starting a deferred service on first use."""
        process = self.processes.get(name)
        if process is not None:
            return process
        if name not in self.deferred or self._starter is None:
            raise KeyError(name)
        if self._closed:
            raise ServiceGone(f"service {name} cannot start: the turn is ending", data={"service": name})
        task = self._starting.get(name)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._start_deferred(name))
            self._starting[name] = task
        return await asyncio.shield(task)

    async def _start_deferred(self, name: str) -> ServiceProcess:
        assert self._starter is not None
        spec = self.deferred[name][0]
        try:
            process = await self._starter(spec)
        except BaseException:
            self._starting.pop(name, None)  # a later call may try again
            raise
        if self._closed:  # the turn ended while it started
            await process.teardown(self._limits.shutdown_grace, self._limits.term_grace)
            raise ServiceGone(f"service {name} started as the turn ended", data={"service": name})
        self.processes[name] = process
        if self.on_start is not None:
            self.on_start(process)
        return process

    async def teardown(self, limits: HostLimits) -> None:
        """PROTOCOL §3 shutdown of every process at once (deferred ones still starting included)."""
        self._closed = True
        starting = [t for t in self._starting.values() if not t.done()]
        if starting:
            await asyncio.gather(*starting, return_exceptions=True)
        await asyncio.gather(
            *(p.teardown(limits.shutdown_grace, limits.term_grace) for p in self.processes.values()),
            return_exceptions=True,
        )

    def kill(self) -> None:
        for process in self.processes.values():
            process.kill()


def _warn(process: ServiceProcess, router: Router) -> None:
    """A ``warning`` event for each of the describe answer's ``warnings`` (PROTOCOL §4):
    what the service offers only in part, such as an MCP server that did not start."""
    warnings = process.describe.get("warnings")
    for text in warnings if isinstance(warnings, list) else []:
        router.emit(ev.WARNING, {"message": f"{process.name}: {text}", "service": process.name})


async def _remember(process: ServiceProcess, selected_provider: str | None, limits: HostLimits) -> None:
    """Store a described service's answer in the describe cache (with its content when it
    may be deferred next turn), unless the stored entry already says the same. A service
    that warned is not cached: it is described again next turn, so its warnings are current."""
    spec = process.spec
    if describe_cache.cache_path(spec) is None:
        return
    if process.describe.get("warnings"):
        describe_cache.forget(spec)
        return
    capabilities = process.describe.get("capabilities", {})
    answer = {k: v for k, v in process.describe.items() if k != "capabilities"}
    answer["capabilities"] = capabilities
    old = describe_cache.load(spec)
    deferrable = describe_cache.is_deferrable(capabilities, selected_provider)
    if old is not None and old.describe == answer and (old.content is not None or not deferrable):
        return
    content: dict[str, str] | None = None
    paths = (capabilities.get("content") or {}).get("paths") or []
    if deferrable and paths:
        content = await _read_all(process, paths, limits)
    elif deferrable:
        content = {}
    describe_cache.store(spec, CachedDescribe(answer, content))


async def _read_all(process: ServiceProcess, paths: list[str], limits: HostLimits) -> dict[str, str] | None:
    """Every content file of ``process``; None if one fails or they exceed the cache's size."""

    async def read(path: str) -> str:
        answer = await process.peer.request(m.CONTENT_READ, {"path": path}, timeout=limits.call_timeout)
        return str(answer.get("content", "")) if isinstance(answer, dict) else ""

    try:
        texts = await asyncio.gather(*(read(p) for p in paths))
    except ProtocolError:
        return None
    if sum(len(t.encode()) for t in texts) > describe_cache.CONTENT_CACHE_MAX_BYTES:
        return None
    return dict(zip(paths, texts, strict=True))


async def _describe(process: ServiceProcess, limits: HostLimits) -> None:
    spec = process.spec
    step = m.DESCRIBE
    try:
        answer = await process.peer.request(
            m.DESCRIBE, {"config": spec.config}, timeout=limits.describe_timeout
        )
        process.describe = {**answer, "capabilities": check_describe(spec.name, answer)}
        if spec.config:
            step = m.CONFIGURE
            await process.peer.request(m.CONFIGURE, {"config": spec.config}, timeout=limits.configure_timeout)
    except ServiceGone:
        try:
            await asyncio.wait_for(process.wait_exit(), EXIT_CODE_WAIT_S)
        except TimeoutError:
            pass
        raise ServiceStartError(
            f"service {spec.name} {process.exit_description()} during {step}",
            service=spec.name,
            stderr_tail=await process.tail(),
            hint=f"its full log is in services.log; try running {' '.join(spec.command)} by hand",
        ) from None
    except RequestTimeout:
        timeout = limits.describe_timeout if step == m.DESCRIBE else limits.configure_timeout
        raise ServiceStartError(
            f"service {spec.name} did not answer {step} within {timeout:g}s",
            service=spec.name,
            stderr_tail=await process.tail(),
            hint="a service must answer describe before importing anything heavy",
        ) from None
    except ProtocolError as exc:
        raise ServiceStartError(
            f"service {spec.name} failed {step}: {exc.message}",
            service=spec.name,
            stderr_tail=await process.tail(),
            hint="check the service's config in the agent definition" if step == m.CONFIGURE else "",
        ) from None
    except ValueError as exc:
        raise ServiceStartError(str(exc), service=spec.name, stderr_tail=await process.tail()) from None


def capabilities_of(group: ServiceGroup) -> list[tuple[str, dict[str, Any]]]:
    """``(service, capabilities)`` pairs in service order (deferred ones included), for ``RoutingTable.build``."""
    return list(group.capabilities.items())
