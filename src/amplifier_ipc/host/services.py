"""The services of one turn: started in parallel, described, configured, torn down together."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from amplifier_ipc_protocol import methods as m
from amplifier_ipc_protocol.errors import ProtocolError, RequestTimeout, ServiceGone

from .config import HostLimits, ServiceSpec
from .errors import ServiceStartError
from .process import ServiceLog, ServiceProcess, build_env
from .router import Router
from .routing import check_describe

__all__ = ["ServiceGroup", "capabilities_of"]

# Once one service is gone, how long its exit code may take to be known (for the message).
EXIT_CODE_WAIT_S = 0.5


class ServiceGroup:
    """Every process of one turn, by service name, in the session's service order."""

    def __init__(self, processes: dict[str, ServiceProcess]) -> None:
        self.processes = processes

    @property
    def names(self) -> list[str]:
        return list(self.processes)

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
    ) -> ServiceGroup:
        """Start and describe every service at once; on any failure, tear all down and raise."""
        names = [spec.name for spec in specs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ServiceStartError(
                f"several services are named {', '.join(duplicates)}",
                service=duplicates[0],
                hint="give each service of an agent a distinct name",
            )
        started: dict[str, ServiceProcess] = {}

        async def bring_up(spec: ServiceSpec) -> None:
            process = await ServiceProcess.start(
                spec,
                cwd=cwd,
                env=build_env(spec, session_id),
                log=log,
                handlers=router.handlers_for(spec.name),
                on_notification=router.notifications_for(spec.name),
            )
            started[spec.name] = process
            await _describe(process, limits)

        try:
            results = await asyncio.gather(*(bring_up(spec) for spec in specs), return_exceptions=True)
        except asyncio.CancelledError:
            partial = cls(dict(started))
            partial.kill()
            await asyncio.shield(partial.teardown(limits))
            raise
        group = cls({name: started[name] for name in names if name in started})
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await group.teardown(limits)
            raise failures[0]
        return group

    async def teardown(self, limits: HostLimits) -> None:
        """PROTOCOL §3 shutdown of every process at once."""
        await asyncio.gather(
            *(p.teardown(limits.shutdown_grace, limits.term_grace) for p in self.processes.values()),
            return_exceptions=True,
        )

    def kill(self) -> None:
        for process in self.processes.values():
            process.kill()


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
    """``(service, capabilities)`` pairs in service order, for ``RoutingTable.build``."""
    return [(name, p.describe.get("capabilities", {})) for name, p in group.processes.items()]
