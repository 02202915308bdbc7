"""Start a task whose first step runs at once when Python allows it.

Most request handlers (``ping``, ``describe``, a quick tool) finish without
ever waiting. On Python 3.12+ their task starts eagerly (``eager_start``):
the first step runs inside ``create``, as the current task, saving a turn of
the event loop per message. On 3.11 it is an ordinary task. Either way the
code runs inside a real Task, so ``asyncio.current_task()`` and
``asyncio.timeout()`` work in handlers.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

__all__ = ["EAGER", "start_task"]

EAGER = sys.version_info >= (3, 12)
"""Whether tasks start eagerly on this Python."""


def start_task(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], name: str | None = None
) -> asyncio.Task[Any]:
    """A task running ``coro``; already done when it finished without waiting
    (3.12+). Its outcome, result or exception, is on the task as usual."""
    if EAGER:
        return asyncio.Task(coro, loop=loop, name=name, eager_start=True)  # type: ignore[call-arg,unused-ignore]
    return loop.create_task(coro, name=name)
