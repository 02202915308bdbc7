"""stdio: the wire fds are private, fds 0 and 1 are harmless, children die with us."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from amplifier_ipc_protocol import stdio

# One short Python child; it finishes in well under this.
CHILD_TIMEOUT_S = 60
# How long a test waits for a process tree to be up.
TREE_DEADLINE_S = 20.0

PROTECT = textwrap.dedent(
    """
    import os, subprocess, sys
    from amplifier_ipc_protocol.stdio import protect_stdio
    wire_in, wire_out = protect_stdio()
    print("print goes to stderr")
    subprocess.run(["echo", "child goes to stderr"], check=True)
    os.write(wire_out, b"only this on stdout\\n")
    sys.stderr.write("stdin now reads: %r\\n" % sys.stdin.read())
    """
)


def test_after_protection_prints_and_children_go_to_stderr_and_only_the_wire_reaches_stdout() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROTECT],
        input="host message",
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "only this on stdout\n"
    assert "print goes to stderr" in done.stderr
    assert "child goes to stderr" in done.stderr
    assert "stdin now reads: ''" in done.stderr


TERMINATE = textwrap.dedent(
    """
    import subprocess, sys
    from amplifier_ipc_protocol.stdio import terminate_children
    stubborn = subprocess.Popen([sys.executable, "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(3600)"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    stubborn.stdout.readline()
    polite = subprocess.Popen(["sleep", "3600"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = subprocess.Popen(["sh", "-c", "sleep 3600 & echo $!; wait"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    grandchild = int(parent.stdout.readline())
    terminate_children()
    print(stubborn.pid, polite.pid, parent.pid, grandchild, flush=True)
    """
)


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return True
    return data[data.rfind(b")") + 2 : data.rfind(b")") + 3] == b"Z"


def test_terminate_children_ends_children_grandchildren_and_those_ignoring_sigterm() -> None:
    done = subprocess.run(
        [sys.executable, "-c", TERMINATE], capture_output=True, text=True, timeout=CHILD_TIMEOUT_S
    )
    assert done.returncode == 0, done.stderr
    pids = [int(pid) for pid in done.stdout.split()]
    assert len(pids) == 4
    assert [pid for pid in pids if not _gone(pid)] == []


def test_terminate_children_without_children_returns_at_once() -> None:
    code = "from amplifier_ipc_protocol.stdio import terminate_children; terminate_children(); print('ok')"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=CHILD_TIMEOUT_S
    )
    assert done.stdout == "ok\n"


def test_descendants_read_from_the_children_files_are_those_a_scan_of_every_process_finds() -> None:
    # A child with two grandchildren, one of them with a child of its own.
    tree = subprocess.Popen(
        ["sh", "-c", "sleep 60 & sh -c 'sleep 60 & wait' & echo started; wait"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert tree.stdout is not None and tree.stdout.readline() == b"started\n"
        deadline = time.monotonic() + TREE_DEADLINE_S
        while len(stdio._children_of(os.getpid())) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)  # the inner sh starts its sleep on its own time
        found = stdio._children_of(os.getpid())
        assert len(found) == 4, found
        scanned, queue = [], [os.getpid()]
        while queue:
            children = stdio._children_by_scan(queue.pop())
            scanned += children
            queue += children
        assert sorted(found) == sorted(scanned)
        assert found[0] == tree.pid, "the child first, its descendants after"
    finally:
        os.killpg(tree.pid, signal.SIGKILL)
        tree.wait()
