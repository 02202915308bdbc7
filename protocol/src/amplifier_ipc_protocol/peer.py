"""One full-duplex JSON-RPC 2.0 endpoint, used by both the Host and services.

Either side sends requests and notifications at any time; responses are
matched by id in any order; every incoming request runs as its own task, so a
handler that awaits the other side never blocks the answers to other
requests (PROTOCOL §2).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import sys
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

import orjson

from . import methods as m
from .deferred import Answer, Deferred, Reply, Waiter
from .eager import start_task
from .errors import (
    InternalError,
    InvalidParams,
    InvalidRequest,
    MethodNotFound,
    ProtocolError,
    RequestCancelled,
    RequestTimeout,
    ServiceGone,
    error_from_wire,
)
from .framing import LineSplitter, OversizedLine, decode, encode, encode_fast
from .intake import take_over
from .outbox import Outbox, Writer

__all__ = ["AnyHandler", "Deferred", "Peer", "Reader", "Reply", "Writer", "Handler", "current_request_id"]

# Bytes requested from the pipe per read; a whole burst of small messages
# usually arrives in one read.
READ_CHUNK_BYTES = 256 * 1024

Handler = Callable[[dict[str, Any]], Awaitable[Any] | Any]
AnyHandler = Handler | Deferred
"""What ``handlers`` map a method to: a function of ``params``, or a ``Deferred``."""
NotificationFallback = Callable[[str, dict[str, Any]], Awaitable[None] | None]

current_request_id: contextvars.ContextVar[int | str | None] = contextvars.ContextVar(
    "current_request_id", default=None
)
"""The id of the incoming request whose handler is running, if any."""


class Reader(Protocol):
    """What a Peer reads from: an asyncio StreamReader, or anything with ``read``."""

    async def read(self, n: int = -1) -> bytes: ...


def _default_report(peer: str, text: str) -> None:
    sys.stderr.write(f"[{peer}] {text}\n")


class Peer:
    """A JSON-RPC endpoint over a byte reader and writer.

    ``handlers`` map method names to callables taking the ``params`` object;
    they may be plain functions or coroutine functions. A plain handler runs
    inline; a coroutine handler runs as a task (started eagerly on Python
    3.12+), which the ``cancel`` notification can cancel, so the peer keeps
    reading while it waits.

    Answers and requests are written at once (coalesced with whatever one
    chunk of input produced); notifications are coalesced until the loop
    next runs, so a burst of them costs one write.
    """

    def __init__(
        self,
        reader: Reader,
        writer: Writer,
        *,
        name: str = "peer",
        handlers: dict[str, AnyHandler] | None = None,
        on_notification: NotificationFallback | None = None,
        report: Callable[[str], None] | None = None,
        cancel_handlers_on_eof: bool = True,
    ) -> None:
        self.name = name
        self._reader = reader
        self._handlers: dict[str, AnyHandler] = dict(handlers or {})
        # The handlers a notification can reach (a Deferred answers requests only).
        self._notified: dict[str, Handler] = {
            method: handler for method, handler in self._handlers.items() if not isinstance(handler, Deferred)
        }
        self._on_notification = on_notification
        self._report = report or (lambda text: _default_report(name, text))
        self._cancel_handlers_on_eof = cancel_handlers_on_eof
        self._loop = asyncio.get_running_loop()
        self._next_id = 1
        self._pending: dict[int | str, tuple[asyncio.Future[Any] | Waiter, str]] = {}
        self._incoming: dict[int | str, asyncio.Task[None] | Reply] = {}
        self._cancelled_by_peer: set[int | str] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._outbox = Outbox(writer, self._loop, self._shut)
        self._plain: dict[Handler, bool] = {}
        self._closed = False
        self._eof = self._loop.create_future()
        self._reader_task: asyncio.Task[None] | None = None
        self.close_reason = ""

    # -- registration -----------------------------------------------------

    def on(self, method: str, handler: AnyHandler) -> None:
        self._handlers[method] = handler
        if isinstance(handler, Deferred):
            self._notified.pop(method, None)
        else:
            self._notified[method] = handler

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending_requests(self) -> int:
        return len(self._pending)

    # -- lifecycle --------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Start reading in the background; returns the reader task."""
        if self._reader_task is None:
            self._reader_task = self._loop.create_task(self.run(), name=f"peer-read:{self.name}")
        return self._reader_task

    async def run(self) -> None:
        """Read and dispatch messages until the other side closes."""
        if isinstance(self._reader, asyncio.StreamReader):
            await self._run_on_stream(self._reader)
            return
        splitter = LineSplitter()
        reason = "end of stream"
        read = self._reader.read
        try:
            while True:
                chunk = await read(READ_CHUNK_BYTES)
                if not chunk:
                    break
                self._feed(splitter, chunk)
        except (ConnectionError, OSError) as exc:
            reason = f"read failed: {exc}"
        finally:
            self._shut(reason)

    async def _run_on_stream(self, stream: asyncio.StreamReader) -> None:
        """Take the stream's bytes as its transport delivers them: one turn of
        the event loop less per message received."""
        splitter = LineSplitter()
        ended: asyncio.Future[str] = self._loop.create_future()
        give_back = take_over(stream, functools.partial(self._feed, splitter), ended)
        try:
            reason = await ended
        finally:
            give_back()
        self._shut(reason)

    def _feed(self, splitter: LineSplitter, chunk: bytes) -> None:
        """Dispatch every complete line of ``chunk``; what they produce is
        written in one go at the end."""
        outbox = self._outbox
        outbox.batching = True
        loads, dispatch, handlers = orjson.loads, self._dispatch, self._notified
        fallback = self._on_notification
        try:
            for line in splitter.feed(chunk):
                if type(line) is bytes:
                    try:
                        message = loads(line)
                    except orjson.JSONDecodeError:
                        message = None
                    if type(message) is dict:
                        # Fast path for the bulk of traffic, streamed
                        # notifications: straight to their handler or the fallback.
                        method = message.get("method")
                        if "id" not in message and method != m.CANCEL and type(method) is str:
                            params = message.get("params")
                            if type(params) is dict:
                                handler = handlers.get(method)
                                try:
                                    if handler is not None:
                                        result = handler(params)
                                    elif method in self._handlers:
                                        continue  # a Deferred: it answers requests only
                                    elif fallback is not None:
                                        result = fallback(method, params)
                                    else:
                                        continue
                                except Exception as exc:
                                    self._notification_failed(method, exc)
                                    continue
                                if result is not None:
                                    self._notification_result(result)
                                continue
                        dispatch(message)
                        continue
                    try:
                        decode(line)  # says what is wrong with the line
                    except ProtocolError as exc:
                        self._answer_bad_line(exc, line)
                else:
                    assert isinstance(line, OversizedLine)
                    self._answer_bad_line(
                        InvalidRequest(
                            f"line of {line.size} bytes exceeds the 64 MiB limit; it was discarded"
                        )
                    )
        finally:
            outbox.batching = False
            outbox.flush()

    async def settle(self, grace: float) -> None:
        """Give the handlers still running ``grace`` seconds to answer, then
        cancel those that have not."""
        running = [
            task for task in self._incoming.values() if isinstance(task, asyncio.Task) and not task.done()
        ]
        if not running:
            return
        _, late = await asyncio.wait(running, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=grace)

    async def wait_closed(self) -> None:
        await asyncio.shield(self._eof)

    async def close(self) -> None:
        """Flush what is queued and close the writing side."""
        self._outbox.close()

    def _shut(self, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self.close_reason = reason
        pending = list(self._pending.items())
        self._pending.clear()
        for _, (future, method) in pending:
            if not future.done():
                future.set_exception(
                    ServiceGone(
                        f"{self.name} is gone ({reason}) before answering {method}",
                        data={"service": self.name},
                    )
                )
        if self._cancel_handlers_on_eof:
            for task in [*self._incoming.values(), *self._background]:
                task.cancel()
        if not self._eof.done():
            self._eof.set_result(None)

    # -- sending ----------------------------------------------------------

    def notify_nowait(self, method: str, params: dict[str, Any] | None = None) -> bool:
        """Queue a notification; it is written on the next loop iteration.
        Returns True when much is queued: a producer should ``await drain()``.

        Raises ``InvalidParams`` when ``params`` cannot be encoded as JSON."""
        if params is None:
            message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        else:
            message = {"jsonrpc": "2.0", "method": method, "params": params}
        outbox = self._outbox
        outbox.queue(encode_fast(message))
        return outbox.drain_due

    async def drain(self) -> None:
        """Wait until the pipe has taken most of what was written."""
        await self._outbox.drain()

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a notification, waiting for the pipe only when much is queued."""
        # notify_nowait, inlined: this is the path of every streamed token.
        if params is None:
            message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        else:
            message = {"jsonrpc": "2.0", "method": method, "params": params}
        self._outbox.queue(encode_fast(message))
        if self._outbox.drain_due:
            await self._outbox.drain()

    async def request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Any:
        """Send a request and wait for its result.

        Raises the ``ProtocolError`` subclass of the error answered,
        ``RequestTimeout`` when ``timeout`` passes (the other side is sent a
        ``cancel``), and ``ServiceGone`` at once when the other side closes.
        """
        future: asyncio.Future[Any] = self._loop.create_future()
        request_id = self._send_request(method, params, future)
        timer = None
        if timeout is not None:
            timer = self._loop.call_later(timeout, self._expire, request_id, method, timeout)
        try:
            if self._outbox.drain_due:
                await self._outbox.drain()
            return await future
        except asyncio.CancelledError:
            if request_id in self._pending and not self._closed:
                self.notify_nowait(m.CANCEL, {"id": request_id, "reason": "cancelled by caller"})
            raise
        finally:
            if timer is not None:
                timer.cancel()
            self._pending.pop(request_id, None)

    def request_soon(
        self,
        method: str,
        params: dict[str, Any] | None,
        answer: Answer,
        *,
        timeout: float | None = None,
    ) -> int:
        """Send a request now; ``answer(result, error)`` is called as soon as its
        answer is read (or it times out, or the other side closes). No task, no
        wait: for passing a request on. Returns the request's id, for
        ``cancel_request``. Raises ``ServiceGone`` when the other side has closed."""
        waiter = Waiter(answer)
        request_id = self._send_request(method, params, waiter)
        if timeout is not None:
            waiter.timer = self._loop.call_later(timeout, self._expire, request_id, method, timeout)
        return request_id

    def _send_request(
        self, method: str, params: dict[str, Any] | None, settle: asyncio.Future[Any] | Waiter
    ) -> int:
        """Write a request whose answer will settle ``settle``; its id."""
        if self._closed:
            raise ServiceGone(
                f"{self.name} is gone ({self.close_reason}); cannot send {method}",
                data={"service": self.name},
            )
        request_id = self._next_id
        self._next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        data = encode_fast(message)  # raises before anything is recorded or sent
        self._pending[request_id] = (settle, method)
        self._outbox.send(data)
        return request_id

    def cancel_request(self, request_id: int, reason: str) -> None:
        """Withdraw a ``request_soon`` request: the other side is sent ``cancel``
        and its answer, if any, is dropped; ``answer`` is not called."""
        entry = self._pending.pop(request_id, None)
        if entry is None:
            return
        waiter = entry[0]
        if isinstance(waiter, Waiter) and waiter.timer is not None:
            waiter.timer.cancel()
        if not self._closed:
            self.notify_nowait(m.CANCEL, {"id": request_id, "reason": reason})

    def _expire(self, request_id: int, method: str, timeout: float) -> None:
        entry = self._pending.pop(request_id, None)
        if entry is None or entry[0].done():
            return
        if not self._closed:
            self.notify_nowait(m.CANCEL, {"id": request_id, "reason": "timeout"})
        entry[0].set_exception(
            RequestTimeout(
                f"{self.name} did not answer {method} within {timeout:g}s",
                data={"service": self.name},
            )
        )

    def _send_result(self, request_id: int | str, result: Any) -> None:
        try:
            data = encode_fast({"jsonrpc": "2.0", "id": request_id, "result": result})
        except ProtocolError as exc:
            self._send_error(request_id, InternalError(f"result cannot be sent: {exc.message}"))
            return
        self._outbox.send(data)

    def _send_error(self, request_id: int | str | None, error: ProtocolError) -> None:
        try:
            data = encode({"jsonrpc": "2.0", "id": request_id, "error": error.to_wire()})
        except ProtocolError:
            plain = {"code": error.code, "message": error.message, "data": {"type": type(error).__name__}}
            data = encode({"jsonrpc": "2.0", "id": request_id, "error": plain})
        self._outbox.send(data)

    def _answer_bad_line(self, error: ProtocolError, line: bytes | None = None) -> None:
        preview = ""
        if line is not None:
            preview = ": " + line[:120].decode("utf-8", errors="replace")
        self._report(f"bad line from the other side ({error.message}){preview}")
        self._send_error(None, error)

    # -- receiving --------------------------------------------------------

    def _dispatch(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        if method is None:
            self._dispatch_response(message)
            return
        params = message.get("params")
        if params is None:
            params = {}
        if "id" not in message:
            if type(method) is str:
                self._dispatch_notification(method, params)
            else:
                self._send_error(None, InvalidRequest("method must be a string"))
            return
        request_id = message["id"]
        answer_id = request_id if _valid_id(request_id) else None
        handler = self._handlers.get(method) if type(method) is str else None
        problem: ProtocolError | None = None
        if type(method) is not str:
            problem = InvalidRequest("method must be a string")
        elif answer_id is None:
            problem = InvalidRequest("id must be an integer or a string")
        elif type(params) is not dict:
            problem = InvalidParams("params must be an object")
        elif answer_id in self._incoming:
            problem = InvalidRequest(f"id {answer_id!r} is already in flight")
        elif handler is None:
            problem = MethodNotFound(f"method not found: {method}")
        if problem is not None or handler is None or answer_id is None:
            self._send_error(answer_id, problem or MethodNotFound(f"method not found: {method}"))
            return
        if isinstance(handler, Deferred):
            self._run_deferred(answer_id, method, handler, params)
            return
        if self._is_plain(handler):
            self._run_plain_handler(answer_id, method, handler, params)
            return
        task = start_task(self._loop, self._run_handler(answer_id, method, handler, params))
        if not task.done():
            self._incoming[answer_id] = task

    def _run_deferred(
        self, request_id: int | str, method: str, handler: Deferred, params: dict[str, Any]
    ) -> None:
        reply = Reply(self, request_id, method)
        self._incoming[request_id] = reply
        try:
            handler.fn(params, reply)
        except ProtocolError as exc:
            reply.error(exc)
        except Exception as exc:  # a handler bug must become an answer, not a hang
            reply.error(_internal_error(method, exc))

    def _answer_deferred(self, request_id: int | str, result: Any, error: ProtocolError | None) -> None:
        """Called by a ``Reply``."""
        self._incoming.pop(request_id, None)
        if error is not None:
            self._send_error(request_id, error)
        else:
            self._send_result(request_id, result)

    def _is_plain(self, handler: Handler) -> bool:
        """Whether ``handler`` is a plain function (cached per handler)."""
        plain = self._plain.get(handler)
        if plain is None:
            target = getattr(handler, "__func__", handler)
            plain = not (inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(handler))
            self._plain[handler] = plain
        return plain

    def _run_plain_handler(
        self, request_id: int | str, method: str, handler: Handler, params: dict[str, Any]
    ) -> None:
        """A plain handler runs inline; should it return an awaitable after
        all, the rest runs as a task like any coroutine handler."""
        token = current_request_id.set(request_id)
        try:
            result = handler(params)
        except ProtocolError as exc:
            self._send_error(request_id, exc)
            return
        except Exception as exc:  # a handler bug must become an answer, not a hang
            self._send_error(request_id, _internal_error(method, exc))
            return
        finally:
            current_request_id.reset(token)
        if hasattr(result, "__await__"):
            task = start_task(self._loop, self._run_handler(request_id, method, lambda _: result, params))
            if asyncio.iscoroutine(result):
                # Cancelled before its first step, the task never awaits it.
                task.add_done_callback(functools.partial(_close_unstarted, result))
            if not task.done():
                self._incoming[request_id] = task
            return
        self._send_result(request_id, result)

    async def _run_handler(
        self, request_id: int | str, method: str, handler: Handler, params: dict[str, Any]
    ) -> None:
        current_request_id.set(request_id)
        try:
            result = handler(params)
            if hasattr(result, "__await__"):
                result = await result
        except asyncio.CancelledError:
            if request_id in self._cancelled_by_peer:
                self._send_error(request_id, RequestCancelled(f"{method} was cancelled"))
                return
            raise
        except ProtocolError as exc:
            self._send_error(request_id, exc)
        except Exception as exc:  # a handler bug must become an answer, not a hang
            self._send_error(request_id, _internal_error(method, exc))
        else:
            self._send_result(request_id, result)
        finally:
            self._incoming.pop(request_id, None)
            self._cancelled_by_peer.discard(request_id)

    def _dispatch_notification(self, method: str, params: Any) -> None:
        if not isinstance(params, dict):
            self._report(f"notification {method} ignored: params must be an object")
            return
        if method == m.CANCEL and not params.get("graceful"):
            # A graceful cancel leaves the task running: the handler registered
            # for "cancel" tells the component to stop at its next safe point.
            target = params.get("id")
            task = self._incoming.get(target) if isinstance(target, (int, str)) else None
            if isinstance(task, Reply):
                task.cancel()
            elif task is not None and not task.done() and isinstance(target, (int, str)):
                if inspect.getcoroutinestate(task.get_coro()) == inspect.CORO_CREATED:  # type: ignore[arg-type]
                    # Cancelled before its first step, the handler body never
                    # runs, so it cannot answer for itself.
                    task.cancel()
                    del self._incoming[target]
                    self._send_error(target, RequestCancelled(f"request {target!r} was cancelled"))
                else:
                    self._cancelled_by_peer.add(target)
                    task.cancel()
            # cancel may also be handled by the owner (to log or clean up)
        handler = self._handlers.get(method)
        if isinstance(handler, Deferred):
            return  # it answers requests only
        try:
            if handler is not None:
                result = handler(params)
            elif self._on_notification is not None:
                result = self._on_notification(method, params)
            else:
                return
        except Exception as exc:
            self._notification_failed(method, exc)
            return
        if result is not None:
            self._notification_result(result)

    def _notification_failed(self, method: str, exc: Exception) -> None:
        self._report(f"notification handler for {method} failed: {type(exc).__name__}: {exc}")

    def _notification_result(self, result: object) -> None:
        """A coroutine returned by a notification handler runs as a task."""
        if inspect.iscoroutine(result):
            task = start_task(self._loop, result)
            self._background.add(task)
            task.add_done_callback(self._notification_done)

    def _notification_done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self._report(f"notification handler failed: {type(exc).__name__}: {exc}")

    def _dispatch_response(self, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        if "result" not in message and "error" not in message:
            answer_id = request_id if _valid_id(request_id) else None
            self._send_error(answer_id, InvalidRequest("a message needs a method, a result or an error"))
            return
        entry = self._pending.pop(request_id, None) if isinstance(request_id, (int, str)) else None
        if entry is None:
            if "error" in message and request_id is None:
                error = message["error"]
                text = error.get("message") if isinstance(error, dict) else error
                self._report(f"the other side could not read a message: {text}")
            else:
                self._report(f"answer for unknown request id {request_id!r} ignored")
            return
        future = entry[0]
        if future.done():
            return
        if "error" in message:
            future.set_exception(error_from_wire(message["error"]))
        else:
            future.set_result(message["result"])


def _internal_error(method: str, exc: Exception) -> InternalError:
    return InternalError(
        f"{method} failed: {type(exc).__name__}: {exc}",
        data={"traceback": traceback.format_exc(limit=20)},
    )


def _valid_id(value: object) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _close_unstarted(coro: Coroutine[Any, Any, Any], _task: object) -> None:
    if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
        coro.close()
