"""The registry-backed agent resolver the CLI gives the Host, for child sessions of named agents."""

from __future__ import annotations

from typing import Any

from .console import home

__all__ = ["registry_resolver"]


def registry_resolver(request: Any) -> Any:
    """``name -> SessionConfig | None`` building a registered agent's config like ``run --agent NAME``.

    The parent's provider, model and approval flags carry over; ``None`` for a
    name that is not registered lets the Host try the Markdown agents its
    services ship. Installing a missing environment happens here, in the
    Host's worker thread, never in the parent's event loop.
    """

    def resolve(name: str) -> Any:
        from ..registry.errors import NotRegisteredError
        from ..registry.session import RunRequest, build_session

        try:
            built = build_session(
                home(),
                RunRequest(
                    agent=name,
                    provider=request.provider,
                    model=request.model,
                    working_dir=request.working_dir,
                    component_config=request.component_config,
                    approval=request.approval,
                ),
            )
        except NotRegisteredError:
            return None
        return built.config

    return resolve
