"""How the CLI resolves agents for child sessions: for the Host's delegations, and to continue a child.

- ``registry_resolver`` is the ``resolve_agent`` the CLI gives the Host: a
  delegation to a registered agent builds it like ``run --agent NAME``.
- ``build_resumed`` builds the session ``run --session ID`` and ``session
  resume ID`` continue. A child session is rebuilt along its lineage: its
  top-level ancestor as ``run`` builds it, then each child below it with the
  Host's own ``child_config`` from the spawn options, the Markdown agent and
  the depth its metadata keeps. So a child continued from the CLI runs the
  agent, filters, provider preferences and model role it was spawned with.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .console import home
from .group import EXIT_USAGE, fail
from .single import build_agent as _build_agent
from .single import registry_resolver

__all__ = ["build_resumed", "registry_resolver"]

# A lineage longer than this is a loop in damaged metadata, not a real chain of delegations
# (the Host's depth limit is 3 by default).
MAX_LINEAGE = 32


def _lineage(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """The session's top-level ancestor, then each session down to this one: id, agent, spawn options.

    A child keeps its lineage in its metadata (its ancestors' folders may be gone);
    for a child spawned before that, its ancestors' metadata is read.
    """
    from ..host.errors import PersistenceError
    from ..host.persistence import read_metadata

    kept = metadata.get("lineage")
    if isinstance(kept, list) and kept and all(isinstance(e, dict) and e.get("id") for e in kept):
        return [*kept, metadata]
    sessions_dir = home().sessions_dir
    chain = [metadata]
    while chain[0].get("parent_id"):
        parent_id = str(chain[0]["parent_id"])
        if len(chain) > MAX_LINEAGE or any(m.get("id") == parent_id for m in chain):
            fail(
                f"the session {metadata.get('id')} has a broken lineage (a loop at {parent_id})",
                "its metadata.json files were edited or damaged; its transcript stays readable: "
                f"amplifier-ipc session show {metadata.get('id')}",
                EXIT_USAGE,
            )
        try:
            chain.insert(0, read_metadata(sessions_dir, parent_id))
        except PersistenceError as exc:
            fail(
                f"the session {metadata.get('id')} is a child of {parent_id}, which cannot be read: {exc.message}",
                "a child is rebuilt from its parent's agent, and this one (spawned before children kept "
                "their lineage) needs its parent's folder to be; its transcript stays readable: "
                f"amplifier-ipc session show {metadata.get('id')}",
                EXIT_USAGE,
            )
    return chain


def _provider_service(provider: str | None, capabilities: dict[str, dict[str, Any]]) -> str | None:
    """The service offering ``provider`` (``service:name`` or a bare name; None: the only one offered)."""
    if provider and ":" in provider:
        return provider.split(":", 1)[0]
    offering = [
        service
        for service, caps in capabilities.items()
        for entry in caps.get("providers") or []
        if isinstance(entry, dict) and (provider is None or entry.get("name") == provider)
    ]
    return offering[0] if offering else None


def _capabilities(descriptions: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: d.get("capabilities") or {} for name, d in descriptions.items()}


def build_resumed(request: Any, resumed: dict[str, Any] | None, *, quiet: bool) -> Any:
    """The BuiltSession that continues ``resumed`` (a top-level session: as ``run`` builds it)."""
    from amplifier_ipc_protocol.errors import InvalidParams

    from ..host.child_context import Delegation, MarkdownAgent, ParentSide, child_config
    from ..host.child_spare import SELF_AGENT
    from .run_cmd import build_for_run

    if not resumed or not resumed.get("parent_id"):
        return build_for_run(request, quiet=quiet)
    child_id = str(resumed.get("id"))
    if request.agent not in (None, resumed.get("agent")):
        fail(
            f"the session {child_id} is a child session of the agent {resumed.get('agent')}; "
            f"it cannot continue as {request.agent}",
            f"drop --agent, or start a new session: amplifier-ipc run --agent {request.agent} PROMPT",
            EXIT_USAGE,
        )
    lineage = _lineage(resumed)
    root = lineage[0]
    built = build_for_run(
        dataclasses.replace(request, agent=root.get("agent"), session_id=root.get("id")), quiet=quiet
    )
    config, descriptions, depth = built.config, dict(built.descriptions), 0
    for metadata in lineage[1:]:
        session_id = str(metadata.get("id"))
        try:
            delegation = Delegation.parse(metadata.get("delegation") or {"agent": metadata.get("agent")})
            markdown = MarkdownAgent.from_json(metadata.get("agent_markdown"))
            resolved = None
            if delegation.agent != SELF_AGENT and markdown is None:
                agent_built = _build_agent(request, delegation.agent)
                if agent_built is None:
                    fail(
                        f"the child session {session_id} runs the agent {delegation.agent}, which is not "
                        "registered, and its metadata keeps no Markdown definition of it",
                        f"register an agent named {delegation.agent}; its transcript stays readable: "
                        f"amplifier-ipc session show {session_id}",
                        EXIT_USAGE,
                    )
                resolved = agent_built.config
                descriptions.update(agent_built.descriptions)
            capabilities = _capabilities(descriptions)
            parent = ParentSide(
                config=config,
                session_id=str(config.session_id),
                depth=depth,
                sessions_dir=config.sessions_dir,
                provider_service=_provider_service(config.provider, capabilities),
                capabilities=capabilities,
            )
            config = child_config(parent, delegation, resolved=resolved, markdown=markdown)
        except InvalidParams as exc:
            fail(f"the child session {session_id} cannot be rebuilt: {exc.message}", "", EXIT_USAGE)
        config.session_id, depth = session_id, depth + 1
    # This run drives the child as its top session: its events are not relayed ones (no
    # parent_id, depth 0); the Host reads the child's real depth from its metadata.
    config.parent_id, config.depth = None, 0
    built.config = config
    return built
