"""The event loop services and the Host run on.

A routed tool call is several event-loop wakeups across three processes
(orchestrator, Host, tool service); with asyncio's pure-Python loop each
wakeup costs about as much as the pipe it waits on. uvloop runs the same
asyncio code on a loop written in C (libuv), so it is used where it is
installed and the platform allows; the protocol library depends on it.

One part of uvloop is not used: its subprocesses. uvloop gives a child
socketpairs instead of pipes (so ``echo hi > /dev/stdout`` fails in it with
"No such device or address") and lets it inherit every inheritable
descriptor of the parent. A service's tools run commands users wrote, so the
loop here starts subprocesses exactly as asyncio does (``subprocess.Popen``
with pipes and ``close_fds``) and sees them exit through a pidfd.

``AMPLIFIER_IPC_LOOP=asyncio`` forces asyncio's own loop (to compare, or to
rule the loop out when chasing a bug).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["LOOP_ENV", "loop_factory", "loop_name", "new_event_loop", "run"]

LOOP_ENV = "AMPLIFIER_IPC_LOOP"

T = TypeVar("T")
LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_factory() -> LoopFactory:
    """What makes the loop to run on: uvloop with asyncio's subprocesses on
    Linux when uvloop is installed and not turned off, else asyncio's own."""
    if os.environ.get(LOOP_ENV, "").strip().lower() == "asyncio":
        return asyncio.new_event_loop
    if not sys.platform.startswith("linux") or not hasattr(os, "pidfd_open"):
        return asyncio.new_event_loop  # the exit of a child is seen through a pidfd
    try:
        loop_class = _uvloop_class()
    except ImportError:
        return asyncio.new_event_loop
    return loop_class


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new loop of ``loop_factory``."""
    return loop_factory()()


def loop_name(loop: asyncio.AbstractEventLoop | None = None) -> str:
    """``uvloop`` or ``asyncio``: which loop ``loop`` is (default: the running one)."""
    loop = loop or asyncio.get_running_loop()
    return "uvloop" if any(c.__module__.startswith("uvloop") for c in type(loop).__mro__) else "asyncio"


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a loop of ``loop_factory``."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)


_LOOP_CLASS: type[asyncio.AbstractEventLoop] | None = None


def _uvloop_class() -> type[asyncio.AbstractEventLoop]:
    global _LOOP_CLASS
    if _LOOP_CLASS is None:
        from asyncio.unix_events import _UnixSubprocessTransport  # type: ignore[attr-defined]

        import uvloop

        class Loop(uvloop.Loop):
            """uvloop, with asyncio's subprocesses."""

            async def subprocess_exec(  # type: ignore[override]
                self,
                protocol_factory: Callable[[], asyncio.SubprocessProtocol],
                program: Any,
                *args: Any,
                stdin: Any = subprocess.PIPE,
                stdout: Any = subprocess.PIPE,
                stderr: Any = subprocess.PIPE,
                **kwargs: Any,
            ) -> tuple[asyncio.SubprocessTransport, asyncio.SubprocessProtocol]:
                _check_stream_options(kwargs, shell=False)
                return await self._start_child(
                    protocol_factory, (program, *args), False, stdin, stdout, stderr, kwargs
                )

            async def subprocess_shell(  # type: ignore[override]
                self,
                protocol_factory: Callable[[], asyncio.SubprocessProtocol],
                cmd: str | bytes,
                *,
                stdin: Any = subprocess.PIPE,
                stdout: Any = subprocess.PIPE,
                stderr: Any = subprocess.PIPE,
                **kwargs: Any,
            ) -> tuple[asyncio.SubprocessTransport, asyncio.SubprocessProtocol]:
                if not isinstance(cmd, (bytes, str)):
                    raise ValueError("cmd must be a string")
                _check_stream_options(kwargs, shell=True)
                return await self._start_child(protocol_factory, cmd, True, stdin, stdout, stderr, kwargs)

            async def _start_child(
                self,
                protocol_factory: Callable[[], asyncio.SubprocessProtocol],
                args: Any,
                shell: bool,
                stdin: Any,
                stdout: Any,
                stderr: Any,
                kwargs: dict[str, Any],
            ) -> tuple[asyncio.SubprocessTransport, asyncio.SubprocessProtocol]:
                # What asyncio's _make_subprocess_transport does, with a pidfd
                # in place of its child watcher.
                protocol = protocol_factory()
                waiter = self.create_future()
                transport = _UnixSubprocessTransport(
                    self, protocol, args, shell, stdin, stdout, stderr, 0, waiter=waiter, **kwargs
                )
                _watch_exit(self, transport)
                try:
                    await waiter
                except (SystemExit, KeyboardInterrupt):
                    raise
                except BaseException:
                    transport.close()
                    await transport._wait()
                    raise
                return transport, protocol

        _LOOP_CLASS = Loop
    return _LOOP_CLASS


def _check_stream_options(kwargs: dict[str, Any], *, shell: bool) -> None:
    """The options asyncio refuses for a subprocess, refused the same way."""
    if kwargs.pop("universal_newlines", False):
        raise ValueError("universal_newlines must be False")
    if kwargs.pop("shell", shell) != shell:
        raise ValueError("shell must be True" if shell else "shell must be False")
    if kwargs.pop("bufsize", 0) != 0:
        raise ValueError("bufsize must be 0")
    if kwargs.pop("text", None):
        raise ValueError("text must be False")
    if kwargs.pop("encoding", None) is not None:
        raise ValueError("encoding must be None")
    if kwargs.pop("errors", None) is not None:
        raise ValueError("errors must be None")


def _watch_exit(loop: asyncio.AbstractEventLoop, transport: Any) -> None:
    """Tell ``transport`` its process exited, with its exit code, when it does."""
    pid: int = transport.get_pid()
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:  # already gone, not collected yet: waitpid below has it
        pidfd = -1

    def collect() -> None:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # collected by someone else: the status is lost
            done, status = pid, -1
        if done == 0:
            return
        if pidfd >= 0:
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_reader(pidfd)
            os.close(pidfd)
        code = os.waitstatus_to_exitcode(status) if status >= 0 else 255
        if transport.get_returncode() is None:
            transport._process_exited(code)

    if pidfd < 0:
        loop.call_soon(collect)
    else:
        loop.add_reader(pidfd, collect)
