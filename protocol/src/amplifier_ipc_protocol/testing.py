"""A test double of the Host, for service authors.

Start a service command as a real subprocess in its own process group, and
let the test play the Host through a real ``Peer``::

    from amplifier_ipc_protocol.testing import python_module, run_service, service_env

    async def test_the_tool_counts_words(tmp_path):
        env = service_env(home=tmp_path)
        async with run_service(python_module("my_service"), cwd=tmp_path, env=env) as host:
            result = await host.execute_tool("word_count", {"text": "a b a"})
        assert result["output"] == 3

What the double answers (PROTOCOL §5), each overridable per method with
``handlers={method: handler}`` or ``host.on(method, handler)``:

- ``state.get`` / ``state.set`` (and ``request.state_*``): from ``host.state``,
  a dict; hand the same dict to the next process and it is the next turn of
  the same session;
- ``request.hook_emit``: recorded in ``events``; answered from
  ``hook_results[event]`` (a HookResult, or a callable of the data, sync or
  async), else ``CONTINUE`` with the data unchanged;
- ``request.tool_execute``: recorded in ``tool_calls``; answered by
  ``tool_handlers[name]`` if the test put one there, else routed back to this
  same service's ``tool.execute``;
- ``request.context_*``: routed to this same service's context manager, the
  added messages kept in ``transcript``;
- ``request.provider_complete``: recorded in ``provider_requests``; answered
  by popping ``provider_replies`` (a ChatResponse, a ``ProtocolError`` to
  raise, or an async callable ``(request, host) -> ChatResponse``);
- ``request.approval``: recorded in ``approval_requests``; answered by popping
  ``approvals``, else the request's ``default``;
- ``request.session_spawn`` / ``request.session_resume``: refused, saying
  how to provide them.

Every notification is kept in ``notifications``. ``close()`` closes the
service's stdin, waits for it to exit, and fails the test (after killing the
group) when it does not exit in time or leaves a process of its group behind.
This module imports nothing beyond the protocol library and the standard
library, and no test framework.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypedDict

from . import methods as m
from .errors import InternalError, MethodNotFound, ProtocolError
from .peer import Handler, Peer
from .stdio import _alive

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "HostDouble",
    "ProviderReply",
    "start_service",
    "run_service",
    "python_service",
    "python_module",
    "alive",
    "SpawnOptions",
    "service_env",
    "SPAWN_TIMEOUT_S",
    "REQUEST_TIMEOUT_S",
    "WAIT_TIMEOUT_S",
    "EXIT_GRACE_S",
    "GROUP_EXIT_GRACE_S",
    "REAP_TIMEOUT_S",
    "SESSION_ID",
]

# Starting Python and importing the protocol library takes well under a
# second; this only bounds a hung exec on a loaded 2-core machine.
SPAWN_TIMEOUT_S = 30.0
# Default deadline of one request to the service (describe included): generous,
# it only turns a hang into a failure.
REQUEST_TIMEOUT_S = 60.0
# Default deadline of ``wait_for``: a condition on what the service sends.
WAIT_TIMEOUT_S = 20.0
# PROTOCOL §3: a service exits promptly on stdin EOF; past this it is killed
# and the test fails.
EXIT_GRACE_S = 10.0
# After the service exits, orphans of its group get this long to go (a child
# being reaped is briefly still in the group) before they count as left behind.
GROUP_EXIT_GRACE_S = 2.0
# After SIGKILL, the time for the kernel to deliver it and us to reap.
REAP_TIMEOUT_S = 5.0
# How often the service and its group are looked at while they should exit.
POLL_S = 0.02
# Lines of the service's stderr kept with a failure message.
STDERR_TAIL_LINES = 20
# The session id the double's environment gives a service.
SESSION_ID = "test-session"
# Variables copied from the test's environment (PROTOCOL §8's base set).
BASE_ENV_KEYS = ("PATH", "LANG", "TERM", "TMPDIR")

ProviderReply = (
    dict[str, Any] | ProtocolError | Callable[[dict[str, Any], "HostDouble"], Awaitable[dict[str, Any]]]
)
"""One scripted answer to ``request.provider_complete``."""

ToolHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
HookAnswer = dict[str, Any] | Callable[[dict[str, Any]], Any]


def python_module(module: str) -> list[str]:
    """The command that runs ``python -m module`` with this interpreter."""
    return [sys.executable, "-m", module]


def service_env(
    *,
    home: Path | None = None,
    amplifier_home: Path | None = None,
    session_id: str = SESSION_ID,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment the Host gives a service (PROTOCOL §8): the base set of
    the test's own variables, ``HOME`` and ``AMPLIFIER_HOME`` (never the
    user's own when ``home`` is given), the session id, then ``extra``."""
    env = {key: os.environ[key] for key in BASE_ENV_KEYS if key in os.environ}
    if home is not None:
        env["HOME"] = str(home)
        env["AMPLIFIER_HOME"] = str(amplifier_home or home / ".amplifier")
    elif "HOME" in os.environ:
        env["HOME"] = os.environ["HOME"]
    if amplifier_home is not None:
        env["AMPLIFIER_HOME"] = str(amplifier_home)
    env["AMPLIFIER_SESSION_ID"] = session_id
    env.update(extra or {})
    return env


class HostDouble:
    """Plays the Host for one service process; see the module docstring."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        *,
        name: str,
        state: dict[str, Any] | None = None,
        handlers: Mapping[str, Handler] | None = None,
        echo_stderr: bool = True,
    ) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self.name = name
        self.state: dict[str, Any] = state if state is not None else {}
        """Session state; shared with the next process when handed to it."""
        self.describe: dict[str, Any] = {}
        """The answer to ``describe``, once ``describe_service`` ran."""
        self.stderr: list[str] = []
        """The service's stderr lines so far."""
        self.notifications: list[tuple[str, dict[str, Any]]] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.hook_results: dict[str, HookAnswer] = {}
        self.tool_calls: list[tuple[str, dict[str, Any]]] = []
        self.tool_handlers: dict[str, ToolHandler] = {}
        self.transcript: list[dict[str, Any]] = []
        self.provider_requests: list[dict[str, Any]] = []
        self.provider_replies: list[ProviderReply] = []
        self.approval_requests: list[dict[str, Any]] = []
        self.approvals: list[str] = []
        self._echo_stderr = echo_stderr
        self._changed = asyncio.Event()
        self._closed = False
        self.peer = Peer(
            process.stdout,
            process.stdin,
            name=name,
            handlers={**self._default_handlers(), **(handlers or {})},
            on_notification=self._on_notification,
        )
        self._stderr_task: asyncio.Task[None] | None = None
        if process.stderr is not None:
            self._stderr_task = asyncio.ensure_future(self._drain_stderr(process.stderr))
        self.peer.start()

    @classmethod
    async def spawn(
        cls,
        command: Sequence[str],
        *,
        cwd: Path | str,
        env: Mapping[str, str] | None = None,
        state: dict[str, Any] | None = None,
        handlers: Mapping[str, Handler] | None = None,
        name: str | None = None,
        echo_stderr: bool = True,
    ) -> Self:
        """``start_service`` for a subclass: the double is an instance of ``cls``."""
        argv = list(command)
        process = await asyncio.wait_for(
            asyncio.create_subprocess_exec(
                *argv,
                cwd=str(cwd),
                env=dict(env) if env is not None else service_env(),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            ),
            SPAWN_TIMEOUT_S,
        )
        label = name or (argv[2] if argv[1:2] == ["-m"] and len(argv) > 2 else Path(argv[0]).name)
        return cls(process, name=label, state=state, handlers=handlers, echo_stderr=echo_stderr)

    # -- what the test does ---------------------------------------------------

    def on(self, method: str, handler: Handler) -> None:
        """Answer ``method`` (a request or notification from the service) with ``handler``."""
        self.peer.on(method, handler)

    async def call(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float = REQUEST_TIMEOUT_S
    ) -> Any:
        """Send a request to the service and return its result (its error is raised)."""
        return await self.peer.request(method, params, timeout=timeout)

    async def describe_service(self, config: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send ``describe`` (with ``config`` when given, as the Host does) and keep the answer."""
        result: dict[str, Any] = await self.call(m.DESCRIBE, {"config": config} if config else {})
        self.describe = result
        return result

    async def configure(self, config: dict[str, Any]) -> dict[str, Any]:
        """Send ``configure {config}``: ``config`` maps component names to their settings."""
        result: dict[str, Any] = await self.call(m.CONFIGURE, {"config": config})
        return result

    async def execute_tool(
        self, name: str, tool_input: dict[str, Any], *, timeout: float = REQUEST_TIMEOUT_S
    ) -> dict[str, Any]:
        """Run the service's tool ``name``; returns the ToolResult."""
        result: dict[str, Any] = await self.call(
            m.TOOL_EXECUTE, {"name": name, "input": tool_input}, timeout=timeout
        )
        return result

    async def emit_hook(self, event: str, data: dict[str, Any], *, name: str | None = None) -> dict[str, Any]:
        """Send ``hook.emit``: to the service's hook ``name``, or to all its hooks
        registered for ``event``; returns the HookResult."""
        params: dict[str, Any] = {"event": event, "data": data}
        if name is not None:
            params["name"] = name
        result: dict[str, Any] = await self.call(m.HOOK_EMIT, params)
        return result

    def notified(self, method: str) -> list[dict[str, Any]]:
        """The params of every notification named ``method``, in order."""
        return [params for name, params in self.notifications if name == method]

    def event_names(self) -> list[str]:
        """The events the service emitted through ``request.hook_emit``, in order."""
        return [event for event, _ in self.events]

    def stderr_text(self) -> str:
        return "\n".join(self.stderr)

    async def wait_for(
        self, condition: Callable[[], bool], what: str, *, timeout: float = WAIT_TIMEOUT_S
    ) -> None:
        """Wait until ``condition()`` holds; it is checked whenever the service
        sends something. Fails after ``timeout`` naming ``what``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._changed.clear()
            if condition():
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout:g}s waiting for {what}{self._tail()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def close(self, *, grace: float = EXIT_GRACE_S) -> int:
        """Close the service's stdin and wait up to ``grace`` for it to exit;
        returns its exit code. Kills its process group and raises
        ``AssertionError`` when it does not exit in time or when a process of
        its group outlives it. Closing twice returns the same code."""
        if self._closed:
            assert self.process.returncode is not None
            return self.process.returncode
        self._closed = True
        await self.peer.close()
        if not await self._exited_within(grace):
            self._kill_group()
            await asyncio.wait_for(self.process.wait(), REAP_TIMEOUT_S)
            await self._finish_stderr()
            raise AssertionError(
                f"{self.name} did not exit within {grace:g}s of its stdin closing; "
                f"its process group was killed{self._tail()}"
            )
        left = await self._group_left_behind()
        # The exit status is known; wait() also waits for the pipes, which a
        # process left behind held open until it was killed.
        code = await asyncio.wait_for(self.process.wait(), REAP_TIMEOUT_S)
        await self._finish_stderr()
        if left:
            raise AssertionError(
                f"{self.name} exited but left processes of its group running "
                f"(pids {', '.join(map(str, left))}); they were killed. A service must end "
                f"every process it starts before it exits{self._tail()}"
            )
        return code

    # -- default answers -------------------------------------------------------

    def _default_handlers(self) -> dict[str, Handler]:
        return {
            m.STATE_GET: self._state_get,
            m.REQUEST_STATE_GET: self._state_get,
            m.STATE_SET: self._state_set,
            m.REQUEST_STATE_SET: self._state_set,
            m.REQUEST_HOOK_EMIT: self._hook_emit,
            m.REQUEST_TOOL_EXECUTE: self._tool_execute,
            m.REQUEST_CONTEXT_ADD_MESSAGE: self._context_add_message,
            m.REQUEST_CONTEXT_GET_MESSAGES: self._route(m.CONTEXT_GET_MESSAGES),
            m.REQUEST_CONTEXT_CLEAR: self._route(m.CONTEXT_CLEAR),
            m.REQUEST_PROVIDER_COMPLETE: self._provider_complete,
            m.REQUEST_APPROVAL: self._approval,
            m.REQUEST_SESSION_SPAWN: self._no_sessions,
            m.REQUEST_SESSION_RESUME: self._no_sessions,
        }

    def _state_get(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"value": self.state.get(params["key"])}

    def _state_set(self, params: dict[str, Any]) -> dict[str, Any]:
        self.state[params["key"]] = params["value"]
        self._changed.set()
        return {"ok": True}

    async def _hook_emit(self, params: dict[str, Any]) -> dict[str, Any]:
        event, data = params["event"], params.get("data", {})
        self.events.append((event, data))
        self._changed.set()
        answer: Any = self.hook_results.get(event)
        if callable(answer):
            answer = answer(data)
            if inspect.isawaitable(answer):
                answer = await answer
        if answer:
            return dict(answer)
        return {"action": "CONTINUE", "data": data}

    async def _tool_execute(self, params: dict[str, Any]) -> dict[str, Any]:
        self.tool_calls.append((params["name"], params.get("input", {})))
        self._changed.set()
        handler = self.tool_handlers.get(params["name"])
        if handler is not None:
            return await handler(params.get("input", {}))
        result: dict[str, Any] = await self.peer.request(m.TOOL_EXECUTE, params)
        return result

    async def _context_add_message(self, params: dict[str, Any]) -> dict[str, Any]:
        self.transcript.append(params["message"])
        result: dict[str, Any] = await self.peer.request(m.CONTEXT_ADD_MESSAGE, params)
        self._changed.set()
        return result

    def _route(self, method: str) -> Callable[[dict[str, Any]], Awaitable[Any]]:
        async def route(params: dict[str, Any]) -> Any:
            return await self.peer.request(method, params)

        return route

    async def _provider_complete(self, params: dict[str, Any]) -> dict[str, Any]:
        request: dict[str, Any] = params["request"]
        self.provider_requests.append(request)
        self._changed.set()
        if not self.provider_replies:
            raise InternalError(
                f"the test scripted no reply for provider request {len(self.provider_requests)}; "
                "append one to host.provider_replies"
            )
        reply = self.provider_replies.pop(0)
        if isinstance(reply, ProtocolError):
            raise reply
        if callable(reply):
            return await reply(request, self)
        return reply

    def _approval(self, params: dict[str, Any]) -> dict[str, Any]:
        self.approval_requests.append(params)
        self._changed.set()
        return {"decision": self.approvals.pop(0) if self.approvals else params.get("default", "deny")}

    def _no_sessions(self, params: dict[str, Any]) -> dict[str, Any]:
        raise MethodNotFound(
            "this HostDouble runs no child sessions; answer request.session_spawn and "
            "request.session_resume with host.on(method, handler)"
        )

    def _on_notification(self, method: str, params: dict[str, Any]) -> None:
        self.notifications.append((method, params))
        self._changed.set()

    # -- the process -------------------------------------------------------------

    async def _drain_stderr(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode("utf-8", errors="replace").rstrip("\n")
            self.stderr.append(text)
            if self._echo_stderr:
                sys.stderr.write(f"[{self.name}] {text}\n")

    async def _finish_stderr(self) -> None:
        if self._stderr_task is not None:
            try:
                await asyncio.wait_for(self._stderr_task, REAP_TIMEOUT_S)
            except TimeoutError:
                # A grandchild holding stderr open was killed with the group; give up on the rest.
                self._stderr_task.cancel()

    def _kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    async def _exited_within(self, timeout: float) -> bool:
        """Whether the service exits within ``timeout``. Its exit status is
        looked at, not ``wait()``, which also waits for its pipes to close."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.process.returncode is None:
            if loop.time() > deadline:
                return False
            await asyncio.sleep(POLL_S)
        return True

    async def _group_left_behind(self) -> list[int]:
        """Pids still in the service's group once it exited, after a short
        grace (killed before returning); empty when none is left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GROUP_EXIT_GRACE_S
        while members := _group_members(self.process.pid):
            if loop.time() > deadline:
                self._kill_group()
                return members
            await asyncio.sleep(POLL_S)
        return []

    def _tail(self) -> str:
        if not self.stderr:
            return ""
        return "\nlast lines of its stderr:\n" + "\n".join(self.stderr[-STDERR_TAIL_LINES:])


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie does not)."""
    return _alive(pid)


def _group_members(pgid: int) -> list[int]:
    """Live processes of process group ``pgid`` (Linux /proc)."""
    members: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            in_group = os.getpgid(int(entry)) == pgid
        except OSError:  # gone meanwhile
            continue
        if in_group and _alive(int(entry)):
            members.append(int(entry))
    return members


start_service = HostDouble.spawn
"""Start ``command`` as the Host does (own process group, ``cwd``, only
``env``, default ``service_env()``) and connect a ``HostDouble`` to it.
Nothing is sent yet: call ``describe_service`` first, as the Host does."""


class SpawnOptions(TypedDict, total=False):
    """What ``run_service`` passes on to ``HostDouble.spawn``."""

    env: Mapping[str, str] | None
    state: dict[str, Any] | None
    handlers: Mapping[str, Handler] | None
    name: str | None
    echo_stderr: bool


@contextlib.asynccontextmanager
async def run_service(
    command: Sequence[str],
    *,
    cwd: Path | str,
    config: dict[str, Any] | None = None,
    **options: Unpack[SpawnOptions],
) -> AsyncIterator[HostDouble]:
    """One turn of a service: start it, ``describe`` (with ``config``) and,
    when there is ``config``, ``configure``; on leaving, ``close()`` it (which
    fails when it does not exit cleanly)."""
    host = await HostDouble.spawn(command, cwd=cwd, **options)
    try:
        await host.describe_service(config)
        if config:
            await host.configure(config)
        yield host
    except BaseException:
        # The test already failed: do not hide its error behind a teardown one.
        with contextlib.suppress(AssertionError):
            await host.close()
        raise
    await host.close()


def python_service(
    module: str,
    *,
    cwd: Path | str,
    home: Path,
    state: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    extra_env: Mapping[str, str] | None = None,
    handlers: Mapping[str, Handler] | None = None,
) -> contextlib.AbstractAsyncContextManager[HostDouble]:
    """One turn of ``python -m module`` (see ``run_service``), in the Host's
    environment for a user whose home is ``home`` (see ``service_env``)::

        async with python_service("amplifier_modes", cwd=work, home=home, state=state) as host:
            ...
    """
    return run_service(
        python_module(module),
        cwd=cwd,
        env=service_env(home=home, extra=extra_env),
        state=state,
        config=config,
        handlers=handlers,
    )
