"""Child sessions: ``request.session_spawn`` and ``request.session_resume`` (PROTOCOL §5).

A service (the foundation's ``delegate`` tool) asks the Host of its session
to run a child session: a Host of its own, whose id shows its lineage
(``<parent>-<8 hex>_<agent>``), whose folder sits beside its parent's and
names it (``parent_id``), and whose events reach the parent's consumer live,
tagged with the child's session id, ``parent_id`` and depth.

The child's config (``child_context.child_config``, which the CLI also uses to
continue a child):

- ``agent: "self"`` clones the parent's resolved definition (same service
  definitions and venvs, fresh processes; not the parent's session rules);
- another name goes to the ``resolve_agent`` callable the Host was given (the
  CLI passes a registry-backed one) and is merged over the parent's where it
  does not define a component (provider, model, a service's component config);
- failing that, a Markdown agent a service ships (``agents/<name>.md`` with
  YAML front matter: ``tools``, ``orchestrator``, ``context_manager``,
  ``config``) runs on the parent's services with that Markdown as its system
  prompt and its ``tools`` as the tools it inherits.

The parent's tool filters bound the child; the request's filters, provider
preferences, model role and parent context are applied on top; ``delegate``
is offered to a child only when ``inherit_tools`` names it. The child's
metadata keeps what it was built from (spawn options, Markdown agent,
lineage) for its resumes and the CLI. Cancelling the parent cancels its live
children the same way. Every child runs under a per-session lock, so two
resumes of one child queue instead of colliding on its session lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import uuid
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any, cast

from amplifier_ipc_protocol import methods as m
from amplifier_ipc_protocol.errors import ComponentNotFound, InvalidParams, ProtocolError, RequestCancelled

from . import events as ev
from .child_context import (
    DELEGATE_TOOL,
    Delegation,
    MarkdownAgent,
    ParentSide,
    child_config,
    parent_context_message,
    parse_agent_markdown,
)
from .child_spare import SELF_AGENT, SpareChild
from .config import SessionConfig
from .errors import PersistenceError, SessionNotFound
from .persistence import SessionStore, read_metadata

if TYPE_CHECKING:
    from .host import Host

__all__ = [
    "AgentResolver",
    "ChildSessions",
    "Delegation",
    "MarkdownAgent",
    "ParentSide",
    "child_config",
    "child_session_id",
    "parse_agent_markdown",
]

AgentResolver = Callable[[str], SessionConfig | None]
"""Agent name -> its resolved SessionConfig, or None when no definition has that name.
Called in a worker thread: it may read definitions and install environments."""

# Agent names become part of a session id (a folder name): letters, digits, "_" and "-".
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
MAX_AGENT_ID_CHARS = 40


def child_session_id(parent_id: str, agent: str) -> str:
    """``<parent>-<8 hex>_<agent>``: the lineage is readable in the id itself."""
    safe = _UNSAFE.sub("-", agent).strip("-") or "agent"
    return f"{parent_id}-{uuid.uuid4().hex[:8]}_{safe[:MAX_AGENT_ID_CHARS]}"


class ChildSessions:
    """The child sessions of one Host: spawn, resume, cancel, approvals."""

    def __init__(self, parent: Host, resolve_agent: AgentResolver | None) -> None:
        self.parent = parent
        self.resolve_agent = resolve_agent
        self.live: dict[str, Host] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._pumps: set[asyncio.Future[Any]] = set()
        self._cancelled: dict[str, int] = {}
        self._closing = False
        self._spare = SpareChild()
        self._stored_depth: int | None = None
        self.spawned_as: dict[str, Any] | None = None
        """Set by the parent's ChildSessions when this session is its child: what it keeps in the
        child's metadata (agent, spawn options, lineage), known here before the metadata holds it."""

    async def handle(self, method: str, caller: str, params: dict[str, Any]) -> dict[str, Any]:
        """The Router's hook for ``request.session_spawn`` / ``request.session_resume``."""
        if method == m.REQUEST_SESSION_SPAWN:
            return await self.spawn(params)
        return await self.resume(params)

    # -- spawn and resume -----------------------------------------------------

    async def spawn(self, params: dict[str, Any]) -> dict[str, Any]:
        instruction = params.get("instruction")
        if not isinstance(instruction, str) or not instruction.strip():
            raise InvalidParams("session_spawn needs an instruction: the task for the child session")
        delegation = Delegation.parse(params)
        self._check_depth()
        config, markdown = await self._config_for(delegation)
        spare = self._spare.claim(delegation.agent, config)  # it sets the session id it started with
        if spare is None:
            config.session_id = child_session_id(self.parent.session_id, delegation.agent)
        context = parent_context_message(
            self.parent.store.read_transcript(),
            parent_id=self.parent.session_id,
            depth=delegation.context_depth,
            scope=delegation.context_scope,
            turns=delegation.context_turns,
        )
        config.initial_messages = [context] if context is not None else []
        return await self._run(config, instruction, delegation, spare, markdown)

    def prepare_spare(self) -> None:
        """The model announced a ``delegate`` call: start a ``self`` child's services now (child_spare.py)."""
        parent = self.parent
        if (
            self._closing
            or self._spare.host is not None
            or self.depth + 1 > parent.limits.max_delegation_depth
            or DELEGATE_TOOL not in parent.router.table.tools
        ):
            return
        config = child_config(self._parent_side(), Delegation(agent=SELF_AGENT))
        config.session_id = child_session_id(parent.session_id, SELF_AGENT)
        self._spare.start(self._new_host(config))

    def _new_host(self, config: SessionConfig) -> Host:
        from .host import Host  # the Host module imports this one

        approvals = self.parent.router.approvals
        return Host(
            config,
            limits=self.parent.limits,
            interactive=approvals.interactive if approvals is not None else False,
            resolve_agent=self.resolve_agent,
        )

    async def resume(self, params: dict[str, Any]) -> dict[str, Any]:
        session_id, instruction = params.get("session_id"), params.get("instruction")
        if not isinstance(session_id, str) or not session_id:
            raise InvalidParams("session_resume needs the session_id a spawn returned")
        if not isinstance(instruction, str) or not instruction.strip():
            raise InvalidParams("session_resume needs an instruction: what the child should do next")
        parent_id = self.parent.session_id
        if session_id == parent_id:
            raise InvalidParams("a session cannot resume itself; give the session_id of a child it started")
        session_id = self._find_child(session_id)
        try:
            metadata = read_metadata(self.parent.store.sessions_dir, session_id)
        except SessionNotFound:
            raise ComponentNotFound(
                f"no child session {session_id}: spawn one first, and pass the session_id it returned"
            ) from None
        except PersistenceError as exc:
            raise InvalidParams(exc.message) from None
        if metadata.get("parent_id") != parent_id:
            raise InvalidParams(
                f"session {session_id} is not a child of this session (its parent is "
                f"{metadata.get('parent_id') or 'none'}); only the children this session started can be resumed"
            )
        delegation = Delegation.parse(metadata.get("delegation") or {"agent": str(metadata.get("agent"))})
        self._check_depth()
        stored = MarkdownAgent.from_json(metadata.get("agent_markdown"))
        config, markdown = await self._config_for(delegation, stored)
        config.session_id = session_id
        return await self._run(config, instruction, delegation, markdown=markdown)

    def _find_child(self, given: str) -> str:
        """``given`` itself, or the one child of this session whose id starts or ends with it.

        Models shorten long ids; ``<8 hex>_<agent>`` or a prefix is enough when it is unambiguous.
        """
        root = self.parent.store.sessions_dir
        if (root / given).is_dir() or not root.is_dir():
            return given
        lineage = f"{self.parent.session_id}-"
        found = sorted(
            p.name
            for p in root.iterdir()
            if p.name.startswith(lineage) and (p.name.startswith(given) or p.name.endswith(given))
        )
        found = [name for name in found if self._parent_of(name) == self.parent.session_id]
        if len(found) > 1:
            raise InvalidParams(
                f"{given!r} matches several child sessions: {', '.join(found)}; give the whole id"
            )
        return found[0] if found else given

    def _parent_of(self, session_id: str) -> str | None:
        try:
            return read_metadata(self.parent.store.sessions_dir, session_id).get("parent_id")
        except PersistenceError:
            return None

    @property
    def depth(self) -> int:
        """This session's delegation depth: its config's, or its metadata's when the CLI continues a child.

        The CLI runs a child it continues as its consumer's top session (depth 0 in
        its config, so it renders as one); its metadata keeps where it really sits.
        """
        if self._stored_depth is None:
            try:
                stored = self.parent.store.read_metadata().get("depth")
            except PersistenceError:
                stored = None
            self._stored_depth = stored if isinstance(stored, int) and not isinstance(stored, bool) else 0
        return max(self.parent.config.depth, self._stored_depth)

    def _check_depth(self) -> None:
        depth, limit = self.depth, self.parent.limits.max_delegation_depth
        if depth + 1 > limit:
            raise ProtocolError(
                f"delegation depth limit reached: this session is {depth} levels below the user's "
                f"session and sessions may nest at most {limit} levels deep. Do this task yourself "
                "instead of delegating it.",
                data={"type": "DelegationDepthExceeded", "depth": depth, "limit": limit},
            )

    async def _run(
        self,
        config: SessionConfig,
        instruction: str,
        delegation: Delegation,
        spare: Host | None = None,
        markdown: MarkdownAgent | None = None,
    ) -> dict[str, Any]:
        assert config.session_id is not None
        session_id = config.session_id
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            if self._closing:
                raise RequestCancelled("the parent session is ending; no child session starts now")
            # The child runs in a task of its own: a cancelled request cancels the child,
            # and still waits for it to end, so its last events reach the consumer in order.
            pump = asyncio.ensure_future(self._pump(config, instruction, delegation, spare, markdown))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)
            try:
                final, metadata = await asyncio.shield(pump)
            except asyncio.CancelledError:
                self._cancel(session_id, immediate=True)
                with contextlib.suppress(BaseException):
                    await pump
                raise
        # What a delegation cost is part of the parent's turn (and its session's usage).
        self.parent.router.add_usage(final.get("usage"))
        if final.get("status") == "failed":
            raise ProtocolError(
                f"the child session {session_id} ({delegation.agent}) failed: {final.get('error')}",
                data={"session_id": session_id},
            )
        return {
            "session_id": session_id,
            "response": final.get("response"),
            "turn_count": int(metadata.get("turns", 0)),
            "metadata": metadata,
        }

    async def _pump(
        self,
        config: SessionConfig,
        instruction: str,
        delegation: Delegation,
        spare: Host | None = None,
        markdown: MarkdownAgent | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Run the child's turn, relaying its events; its final data and its metadata."""
        assert config.session_id is not None
        session_id, parent = config.session_id, self.parent
        # What the CLI needs to continue this child as it runs here (cli/agents.py).
        kept: dict[str, Any] = {
            "agent": config.agent,
            "delegation": delegation.to_json(),
            "depth": config.depth,
        }
        if markdown is not None:
            kept["agent_markdown"] = markdown.to_json()
        lineage = self._lineage()
        if lineage is not None:
            kept["lineage"] = lineage
        child = spare or self._new_host(config)
        # Its metadata holds these only after its turn; its own children need them during it.
        child.children.spawned_as = kept
        self.live[session_id] = child
        final: dict[str, Any] = {}
        try:
            turn = cast("AsyncGenerator[ev.Event, None]", child.run(instruction))
            async with contextlib.aclosing(turn) as events:
                async for event in events:
                    if event.type == ev.COMPLETE and event.session_id == session_id:
                        final = event.data
                    elif event.type == ev.TURN_START and self._closing:
                        self._cancel(session_id, immediate=True)  # the parent ended as this child started
                    self._relay(session_id, event)
        finally:
            self.live.pop(session_id, None)
            self._cancelled.pop(session_id, None)
            await child.close()
        store = SessionStore(parent.store.sessions_dir, session_id)
        metadata = store.read_metadata()
        if any(metadata.get(key) is None for key in kept) or metadata.get("depth") != config.depth:
            metadata.update(
                {key: metadata.get(key) or value for key, value in kept.items()}, depth=config.depth
            )
            await asyncio.to_thread(store.write_metadata, metadata)
        return final, metadata

    async def close(self) -> None:
        """End of the parent's turn: cancel any child still running and wait for it to end."""
        self._closing = True
        try:
            for session_id in list(self.live):
                self._cancel(session_id, immediate=True)
            while self._pumps:
                await asyncio.gather(*list(self._pumps), return_exceptions=True)
            await self._spare.discard()
        finally:
            self._closing = False

    # -- the child's config -----------------------------------------------------

    async def _config_for(
        self, delegation: Delegation, stored: MarkdownAgent | None = None
    ) -> tuple[SessionConfig, MarkdownAgent | None]:
        """The child's config (child_context.child_config), and the Markdown agent it runs, if any.

        A child spawned with a Markdown agent keeps it (``stored``); otherwise a
        registered agent wins over a Markdown agent of the same name.
        """
        resolved: SessionConfig | None = None
        markdown = stored
        agent = delegation.agent
        if agent != SELF_AGENT and markdown is None:
            resolved = await asyncio.to_thread(self.resolve_agent, agent) if self.resolve_agent else None
            if resolved is None:
                markdown = await self._read_markdown(agent)
        return child_config(self._parent_side(), delegation, resolved=resolved, markdown=markdown), markdown

    def _lineage(self) -> list[dict[str, Any]] | None:
        """The sessions above a child of this one, top first, with what each was built from.

        The CLI rebuilds a child it continues from this (cli/agents.py), so the child
        does not depend on its ancestors' folders (a cleanup may delete them). None
        when this session is a child spawned before its metadata kept a lineage.
        """
        metadata = self.spawned_as
        if metadata is None:
            try:
                metadata = self.parent.store.read_metadata()
            except PersistenceError:
                metadata = {}
        above = metadata.get("lineage")
        if not isinstance(above, list):
            if metadata.get("parent_id") or self.parent.config.parent_id:
                return None
            above = []
        entry = {"id": self.parent.session_id, "agent": metadata.get("agent") or self.parent.config.agent}
        entry.update(
            {k: metadata[k] for k in ("delegation", "agent_markdown") if metadata.get(k) is not None}
        )
        return [*above, entry]

    def _parent_side(self) -> ParentSide:
        router = self.parent.router
        return ParentSide(
            config=self.parent.config,
            session_id=self.parent.session_id,
            depth=self.depth,
            sessions_dir=self.parent.store.sessions_dir,
            provider_service=router.provider.service if router.provider is not None else None,
            capabilities=dict(router.group.capabilities) if router.group is not None else {},
        )

    async def _read_markdown(self, agent: str) -> MarkdownAgent:
        router = self.parent.router
        path = f"agents/{agent}.md"
        owner = next((s for s, paths in router.table.content.items() if path in paths), None)
        if owner is None:
            shipped = sorted(
                p[len("agents/") : -len(".md")]
                for paths in router.table.content.values()
                for p in paths
                if p.startswith("agents/") and p.endswith(".md")
            )
            raise ComponentNotFound(
                f"no agent named {agent!r}: it is neither registered nor shipped by a service of this "
                f"session (available: self{''.join(', ' + name for name in shipped)})"
            )
        source = f"{owner}:{path}"
        text = await self.parent.read_content(owner, path)
        parse_agent_markdown(text, source)  # a malformed file is refused before anything starts
        return MarkdownAgent(source, text)

    # -- cancel, events, approvals ---------------------------------------------

    def cancel(self, immediate: bool) -> None:
        """Cancel every live child as the parent is cancelled."""
        for session_id in list(self.live):
            self._cancel(session_id, immediate)

    def _cancel(self, session_id: str, immediate: bool) -> None:
        # Each child is cancelled once per level: a second immediate cancel of a
        # Host ending its turn would cut short the saving of that turn.
        child = self.live.get(session_id)
        level = 2 if immediate else 1
        if child is None or self._cancelled.get(session_id, 0) >= level:
            return
        self._cancelled[session_id] = level
        child.cancel(immediate=immediate)

    def _relay(self, child_id: str, event: ev.Event) -> None:
        # A child continued from the CLI is its consumer's top session: depths below
        # it are shown relative to it, as its consumer renders them.
        shift = self.depth - self.parent.config.depth
        if shift:
            event = dataclasses.replace(event, depth=max(event.depth - shift, 1))
        if event.type == ev.APPROVAL_REQUEST and isinstance(event.data.get("request_id"), str):
            # Approval ids are per Host: the child's id routes the answer back to it.
            event.data = {**event.data, "request_id": f"{child_id}/{event.data['request_id']}"}
        self.parent.forward_child_event(event)

    def answer_approval(self, request_id: str, decision: str) -> None:
        """Route ``<child id>/<its request id>`` to that child; ``KeyError`` if it is gone."""
        child_id, _, rest = request_id.partition("/")
        child = self.live.get(child_id)
        if child is None:
            raise KeyError(f"no approval request {request_id!r} is waiting (its session has ended)")
        child.send_approval(rest, decision)
