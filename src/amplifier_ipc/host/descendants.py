"""Processes a service started outside its process group: found, ended, reaped.

Teardown (PROTOCOL §3) signals a service's process group. A process that
calls ``setsid()`` (or ``setpgid``) leaves that group, and once its parent
exits it would be reparented to init and outlive the turn. This module finds
such processes and ends them, without touching anything that does not come
from the services being torn down, even when one Python process runs many
sessions at once (the Host library; tests/bench/bench_load.py).

Design (Linux; on other systems every function here finds nothing and is a
no-op, so only the process group is signalled):

1. **Subreaper.** The first service start makes this process a child
   subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``): a process orphaned below a
   service is reparented to the Host instead of init, so it stays findable and
   its zombie is the Host's to reap. The attribute is not inherited by
   services.
2. **The tree, recorded while it is intact.** At teardown (and at ``kill``),
   before the service is asked to exit, every descendant of the service is
   recorded as a ``ProcessRef`` (pid plus start time: a recycled pid never
   matches). Those outside the service's group are signalled with the group:
   SIGTERM, grace, SIGKILL.
3. **Orphans of the session.** A process whose parent exited during the turn
   is no longer below the service: it is a child of the Host. ``session_orphans``
   takes the Host's live children whose environment (``/proc/<pid>/environ``,
   readable as the same user) holds ``AMPLIFIER_SESSION_ID=<session>``, which
   every service gets (PROTOCOL §8) and passes on, that are not services,
   plus everything below them. The caller (process.py) runs this sweep only
   when no service of that session id is running or starting in this
   process, so it never takes an orphan from a service still at work. Other
   sessions, child sessions included, carry other ids.
4. **Zombies.** Only specific pids are reaped (``waitpid(pid, WNOHANG)``),
   never ``waitpid(-1)``, which would steal exit statuses from asyncio and
   ``subprocess``: recorded processes that became the Host's children, and
   zombie children of the Host whose session (sid) is neither the Host's nor
   their own. A process the Host forked itself has one of those two sids, so
   such a zombie can only be a reparented orphan nobody else will wait for.

Signals go through a pidfd that is checked against the recorded start time
after it is opened, so a process that exited and whose pid was reused is
never signalled.

Not covered: an orphan that cleared its environment and whose parent exited
before teardown (found by neither the tree nor the sweep); without
``PR_SET_CHILD_SUBREAPER`` (not Linux), any orphan.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from amplifier_ipc_protocol.stdio import direct_children

from .subreaper import become_subreaper

__all__ = [
    "ProcessRef",
    "become_subreaper",
    "end_processes",
    "live",
    "process_tree",
    "reap",
    "send",
    "session_orphans",
]

# How often a wait for processes to exit looks again.
EXIT_POLL_S = 0.01
SESSION_VARIABLE = b"AMPLIFIER_SESSION_ID="


@dataclass(frozen=True, slots=True)
class ProcessRef:
    """One process, by pid and start time (clock ticks since boot), so a reused pid is not it."""

    pid: int
    start: int


@dataclass(frozen=True, slots=True)
class _Stat:
    state: str
    ppid: int
    pgid: int
    sid: int
    start: int


def _stat(pid: int) -> _Stat | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    # the command name is in parentheses and may itself hold spaces or parentheses
    fields = data[data.rfind(b")") + 2 :].split()
    if len(fields) < 20:
        return None
    return _Stat(fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]))


def _ref(pid: int) -> ProcessRef | None:
    stat = _stat(pid)
    return None if stat is None else ProcessRef(pid, stat.start)


def process_tree(roots: Iterable[int]) -> set[ProcessRef]:
    """Every process below ``roots`` (the roots excluded), zombies included."""
    seen: set[int] = set(roots)
    pending = list(seen)
    found: set[ProcessRef] = set()
    while pending:
        for child in direct_children(pending.pop()):
            if child in seen:
                continue
            seen.add(child)
            ref = _ref(child)
            if ref is not None:
                found.add(ref)
                pending.append(child)
    return found


def _has_session_variable(pid: int, session_id: str) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = handle.read()
    except OSError:
        return False
    return b"\0" + SESSION_VARIABLE + session_id.encode() + b"\0" in b"\0" + environ + b"\0"


def session_orphans(session_id: str, services: Collection[int]) -> set[ProcessRef]:
    """Live children of this process that carry ``session_id`` and are not ``services``, and all below them."""
    roots = []
    for pid in direct_children(os.getpid()):
        if pid in services:
            continue
        stat = _stat(pid)
        if stat is not None and stat.state != "Z" and _has_session_variable(pid, session_id):
            roots.append(pid)
    found = {ref for ref in (_ref(pid) for pid in roots) if ref is not None}
    return found | process_tree(roots)


def _matches(ref: ProcessRef) -> _Stat | None:
    stat = _stat(ref.pid)
    return stat if stat is not None and stat.start == ref.start else None


def live(refs: Iterable[ProcessRef], *, outside_group: int | None = None) -> list[ProcessRef]:
    """The ``refs`` still running (zombies are not), optionally only those not in process group ``outside_group``."""
    found = []
    for ref in refs:
        stat = _matches(ref)
        if stat is not None and stat.state != "Z" and stat.pgid != outside_group:
            found.append(ref)
    return found


def send(ref: ProcessRef, sig: signal.Signals) -> None:
    """Signal ``ref`` if it is still the process that was recorded."""
    try:
        fd = os.pidfd_open(ref.pid)
    except (ProcessLookupError, PermissionError):
        return
    except (AttributeError, OSError):  # no pidfd (old kernel): a plain kill after the check
        if _matches(ref) is not None:
            try:
                os.kill(ref.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        return
    try:
        if _matches(ref) is not None:
            signal.pidfd_send_signal(fd, sig)
    except (ProcessLookupError, PermissionError):
        pass
    finally:
        os.close(fd)


def reap(refs: Iterable[ProcessRef] = ()) -> None:
    """Collect the exit status of zombie children of this process that nobody else waits for (see module doc)."""
    me = os.getpid()
    my_sid = os.getsid(0)
    known = {ref.pid: ref.start for ref in refs}
    for pid in direct_children(me):
        stat = _stat(pid)
        if stat is None or stat.state != "Z" or stat.ppid != me:
            continue
        if known.get(pid) == stat.start or stat.sid not in (my_sid, pid):
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass  # another waiter got it first


async def _wait_gone(refs: Collection[ProcessRef], grace: float) -> list[ProcessRef]:
    import asyncio  # here: the fork server's start (forkserver.py) must not pay for it

    deadline = time.monotonic() + grace
    left = live(refs)
    while left and time.monotonic() < deadline:
        await asyncio.sleep(EXIT_POLL_S)
        left = live(left)
    return left


async def end_processes(refs: Collection[ProcessRef], grace: float, report: Callable[[str], None]) -> None:
    """SIGTERM, ``grace``, SIGKILL, ``grace``, then reap: for processes outside any service's group."""
    left = live(refs)
    if not left:
        reap(refs)
        return
    report(f"processes {_pids(left)} of this session outlived the process that started them; sent SIGTERM")
    for ref in left:
        send(ref, signal.SIGTERM)
    left = await _wait_gone(left, grace)
    if left:
        report(f"processes {_pids(left)} still running {grace:g}s after SIGTERM; sent SIGKILL")
        for ref in left:
            send(ref, signal.SIGKILL)
        await _wait_gone(left, grace)
    reap(refs)


def _pids(refs: Iterable[ProcessRef]) -> str:
    return ", ".join(str(ref.pid) for ref in sorted(refs, key=lambda r: r.pid))
