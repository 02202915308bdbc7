"""The ``delegate`` tool: hand a focused task to a sub-agent in a child session.

It asks the Host (``request.session_spawn`` / ``request.session_resume``,
PROTOCOL §5), which runs the child with its own context, tools and processes
and answers with the child's final response and session id. The Host decides
everything else (agent resolution, filters, depth limit); a refusal comes
back as a failed tool result whose message the model can act on.
"""

from __future__ import annotations

from typing import Any

from amplifier_ipc_protocol import tool
from amplifier_ipc_protocol.errors import ProtocolError

from ._results import fail, ok

__all__ = ["Delegate", "SHIPPED_AGENTS"]

# The Markdown agents under agents/ of this service; any registered agent name works too.
SHIPPED_AGENTS = ("explorer", "reviewer")
_NAMES = {"type": "array", "items": {"type": "string", "minLength": 1}}
_SPAWN_OPTIONS = (
    "context_depth",
    "context_scope",
    "context_turns",
    "exclude_tools",
    "inherit_tools",
    "exclude_hooks",
    "inherit_hooks",
    "provider_preferences",
    "model_role",
)


@tool(name="delegate")
class Delegate:
    name = "delegate"
    description = (
        "Hand a focused task to a sub-agent that works in its own session and returns its answer. "
        f"agent: 'self' (a copy of you), one of {', '.join(SHIPPED_AGENTS)}, or a registered agent name. "
        "instruction: the complete task; the sub-agent sees only what you write here plus the parent "
        "context you ask for (context_depth none|recent|all, context_turns for recent, context_scope "
        "conversation|agents|full). To continue with the same sub-agent later, pass the session_id it "
        "returned. Use it for large, separable work (exploring a codebase, a review); do small things yourself."
    )
    input_schema = {
        "type": "object",
        "properties": {
            "agent": {"type": "string", "minLength": 1},
            "instruction": {"type": "string", "minLength": 1},
            "session_id": {"type": "string", "minLength": 1},
            "context_depth": {"type": "string", "enum": ["none", "recent", "all"]},
            "context_scope": {"type": "string", "enum": ["conversation", "agents", "full"]},
            "context_turns": {"type": "integer", "minimum": 1},
            "exclude_tools": _NAMES,
            "inherit_tools": _NAMES,
            "exclude_hooks": _NAMES,
            "inherit_hooks": _NAMES,
            "provider_preferences": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"provider": {"type": "string"}, "model": {"type": "string"}},
                    "required": ["provider"],
                },
            },
            "model_role": {"type": "string", "minLength": 1},
        },
        "required": ["instruction"],
        "additionalProperties": False,
    }

    host: Any  # the HostClient, set by the Server

    async def execute(self, input: dict[str, Any]) -> dict[str, Any]:
        instruction = input["instruction"]
        session_id = input.get("session_id")
        try:
            if session_id:
                result = await self.host.session_resume(session_id, instruction)
            else:
                agent = input.get("agent")
                if not agent:
                    return fail(
                        "give an agent ('self' or a name) to start a sub-agent, or a session_id to resume one"
                    )
                options = {k: input[k] for k in _SPAWN_OPTIONS if k in input}
                result = await self.host.session_spawn(agent, instruction, **options)
        except ProtocolError as exc:
            return fail(exc.message, str(exc.data.get("type") or type(exc).__name__))
        child_id = result.get("session_id")
        response = result.get("response")
        text = response if isinstance(response, str) else ""
        return ok(
            f"{text}\n\n[sub-agent session {child_id}, turn {result.get('turn_count')}; "
            "pass it as session_id to continue this sub-agent]"
        )
