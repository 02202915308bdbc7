"""The resolved input of a turn: which services to start, how, and with what.

The registry builds a ``SessionConfig`` from definitions and settings; tests
build one directly. The Host never reads a definition file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["HostLimits", "ServiceSpec", "SessionConfig"]


@dataclass(slots=True)
class ServiceSpec:
    """One service process of the session."""

    name: str
    """Short name used in logs, errors and events (for example ``foundation``)."""
    command: list[str]
    """The argv to start it: the venv's own script or interpreter, never ``uv run``."""
    env_allow: list[str] = field(default_factory=list)
    """Variables of the Host's environment this service may see (PROTOCOL §8)."""
    env: dict[str, str] = field(default_factory=dict)
    """Extra variables set for this service (for example resolved keys)."""
    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Component name -> configuration, sent with describe and configure."""
    definition_id: str | None = None
    working_dir: Path | None = None
    """Overrides the session's working directory for this service (local development)."""
    describe_cache: Path | None = None
    """A folder where the Host may keep this service's describe answer between turns
    (describe_cache.py); None: the service is started and described every turn."""
    fingerprint: str | None = None
    """Identifies the installed environment; it changes when the service is reinstalled."""


@dataclass(slots=True)
class SessionConfig:
    """Everything the Host needs to run turns of one session."""

    services: list[ServiceSpec]
    orchestrator: str
    """``service:component`` or a bare component name, for example ``foundation:streaming``."""
    context_manager: str
    provider: str | None = None
    """``service:component`` or bare name; None means the only provider offered."""
    model: str | None = None
    agent: str = "custom"
    agent_description: str = ""
    system_prompt: str = ""
    """The agent's own instructions, placed before the content files."""
    content: list[str] = field(default_factory=list)
    """Content the agent selects: ``service:path`` entries, or ``@mentions``."""
    orchestrator_config: dict[str, Any] = field(default_factory=dict)
    working_dir: Path = field(default_factory=Path.cwd)
    session_id: str | None = None
    """None starts a new session; an id resumes that one."""
    parent_id: str | None = None
    sessions_dir: Path | None = None
    """Where session folders live (``AMPLIFIER_HOME/sessions``)."""
    tool_conflicts: dict[str, str] = field(default_factory=dict)
    """Tool name -> service that wins when several services offer it (explicit rule)."""
    approval_mode: str = "ask"
    """``ask`` (the consumer decides), ``auto`` (approve) or ``deny``."""
    depth: int = 0
    """Delegation depth: 0 for a top-level session."""
    metadata: dict[str, Any] = field(default_factory=dict)
    exclude_tools: list[str] = field(default_factory=list)
    """Tools (names or ``fnmatch`` patterns) this session's model is not offered and cannot call."""
    inherit_tools: list[str] | None = None
    """When set, only these tools (names or patterns) are offered; None offers every tool."""
    exclude_hooks: list[str] = field(default_factory=list)
    """Hooks (``name`` or ``service:name``, patterns allowed) that do not run in this session."""
    inherit_hooks: list[str] | None = None
    """When set, only these hooks run; None runs every hook."""
    provider_preferences: list[dict[str, str]] = field(default_factory=list)
    """Ordered ``{provider, model?}`` pairs; the first provider the session offers wins."""
    model_role: str | None = None
    """The kind of model wanted (``fast``, ``coding``...), resolved by a routing hook if present."""
    initial_messages: list[dict[str, Any]] = field(default_factory=list)
    """Messages a new session starts with (a child's labelled parent context)."""


@dataclass(slots=True)
class HostLimits:
    """The Host's timeouts and caps. Defaults suit interactive use; tests shorten them."""

    describe_timeout: float = 15.0
    """A service's ``describe`` must answer within this (a cold Python start with imports)."""
    configure_timeout: float = 15.0
    """``configure`` may build clients; it must not take longer than a start."""
    call_timeout: float = 60.0
    """Context-manager calls, ``provider.info``, ``content.read``: small, local operations."""
    tool_timeout: float | None = 900.0
    """A tool call unanswered after this fails with -32001 naming the service and tool, so a hung
    tool cannot hold a headless run forever; above bash's own 600 s max_timeout. None: no limit."""
    hook_timeout: float = 30.0
    """PROTOCOL §6: a hook that takes longer is skipped and reported."""
    approval_timeout: float = 300.0
    """Used when a ``request.approval`` gives no timeout of its own."""
    shutdown_grace: float = 2.0
    """PROTOCOL §3: after ``shutdown`` and EOF, time to exit before SIGTERM."""
    term_grace: float = 2.0
    """PROTOCOL §3: after SIGTERM to the process group, time before SIGKILL."""
    cancel_grace: float = 2.0
    """After an immediate cancel, time the orchestrator gets to store cancelled tool results."""
    max_system_prompt_bytes: int = 512 * 1024
    """Content beyond this is dropped with a warning: it would crowd out the conversation."""
    max_mention_depth: int = 3
    """``@mentions`` inside mentioned files are followed this many levels deep."""
    max_delegation_depth: int = 3
    """Sessions below this depth may not delegate: chains of sub-agents must end somewhere."""
