"""Every method and notification name of the wire protocol, in one place."""

from __future__ import annotations

__all__ = [
    "PROTOCOL_VERSION",
    "SERVICE_METHODS",
    "HOST_METHODS",
    "ORCHESTRATOR_NOTIFICATIONS",
    "PROVIDER_NOTIFICATIONS",
]

PROTOCOL_VERSION = 1

# Host -> service (PROTOCOL §4).
DESCRIBE = "describe"
CONFIGURE = "configure"
TOOL_EXECUTE = "tool.execute"
HOOK_EMIT = "hook.emit"
CONTEXT_ADD_MESSAGE = "context.add_message"
CONTEXT_SET_MESSAGES = "context.set_messages"
CONTEXT_GET_MESSAGES = "context.get_messages"
CONTEXT_CLEAR = "context.clear"
PROVIDER_COMPLETE = "provider.complete"
PROVIDER_INFO = "provider.info"
ORCHESTRATOR_EXECUTE = "orchestrator.execute"
CONTENT_READ = "content.read"
CONTENT_LIST = "content.list"
PING = "ping"

# Notifications either side accepts.
CANCEL = "cancel"
SHUTDOWN = "shutdown"

SERVICE_METHODS = (
    DESCRIBE,
    CONFIGURE,
    TOOL_EXECUTE,
    HOOK_EMIT,
    CONTEXT_ADD_MESSAGE,
    CONTEXT_SET_MESSAGES,
    CONTEXT_GET_MESSAGES,
    CONTEXT_CLEAR,
    PROVIDER_COMPLETE,
    PROVIDER_INFO,
    ORCHESTRATOR_EXECUTE,
    CONTENT_READ,
    CONTENT_LIST,
    PING,
)

# Service -> Host (PROTOCOL §5).
REQUEST_TOOL_EXECUTE = "request.tool_execute"
REQUEST_HOOK_EMIT = "request.hook_emit"
REQUEST_CONTEXT_ADD_MESSAGE = "request.context_add_message"
REQUEST_CONTEXT_GET_MESSAGES = "request.context_get_messages"
REQUEST_CONTEXT_CLEAR = "request.context_clear"
REQUEST_PROVIDER_COMPLETE = "request.provider_complete"
REQUEST_STATE_GET = "request.state_get"
REQUEST_STATE_SET = "request.state_set"
STATE_GET = "state.get"
STATE_SET = "state.set"
REQUEST_APPROVAL = "request.approval"
REQUEST_SESSION_SPAWN = "request.session_spawn"
REQUEST_SESSION_RESUME = "request.session_resume"

HOST_METHODS = (
    REQUEST_TOOL_EXECUTE,
    REQUEST_HOOK_EMIT,
    REQUEST_CONTEXT_ADD_MESSAGE,
    REQUEST_CONTEXT_GET_MESSAGES,
    REQUEST_CONTEXT_CLEAR,
    REQUEST_PROVIDER_COMPLETE,
    REQUEST_STATE_GET,
    REQUEST_STATE_SET,
    STATE_GET,
    STATE_SET,
    REQUEST_APPROVAL,
    REQUEST_SESSION_SPAWN,
    REQUEST_SESSION_RESUME,
)

# Orchestrator -> Host, relayed to the Host's consumer as events.
STREAM_TOKEN = "stream.token"
STREAM_THINKING = "stream.thinking"
STREAM_CONTENT_BLOCK_START = "stream.content_block_start"
STREAM_CONTENT_BLOCK_END = "stream.content_block_end"
STREAM_TOOL_CALL_START = "stream.tool_call_start"
STREAM_TOOL_CALL = "stream.tool_call"
STREAM_TOOL_RESULT = "stream.tool_result"
STREAM_USAGE = "stream.usage"
STREAM_TODO_UPDATE = "stream.todo_update"
LOG = "log"

ORCHESTRATOR_NOTIFICATIONS = (
    STREAM_TOKEN,
    STREAM_THINKING,
    STREAM_CONTENT_BLOCK_START,
    STREAM_CONTENT_BLOCK_END,
    STREAM_TOOL_CALL_START,
    STREAM_TOOL_CALL,
    STREAM_TOOL_RESULT,
    STREAM_USAGE,
    STREAM_TODO_UPDATE,
    LOG,
)

# Provider -> Host during provider.complete, relayed to the requesting service.
STREAM_PROVIDER_TOKEN = "stream.provider.token"
STREAM_PROVIDER_THINKING = "stream.provider.thinking"
STREAM_PROVIDER_CONTENT_BLOCK_START = "stream.provider.content_block_start"
STREAM_PROVIDER_CONTENT_BLOCK_END = "stream.provider.content_block_end"
STREAM_PROVIDER_TOOL_CALL_START = "stream.provider.tool_call_start"

PROVIDER_NOTIFICATIONS = (
    STREAM_PROVIDER_TOKEN,
    STREAM_PROVIDER_THINKING,
    STREAM_PROVIDER_CONTENT_BLOCK_START,
    STREAM_PROVIDER_CONTENT_BLOCK_END,
    STREAM_PROVIDER_TOOL_CALL_START,
)
