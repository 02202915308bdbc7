"""Teardown ends what a service started outside its process group, and only that (bug 1, bug 2, bug 5).

Each "service" here is a real process started by ``ServiceProcess.start``: a
short Python script that starts helpers the way tools do, writes their pids
to a file, and waits for EOF on stdin (or ignores it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from amplifier_ipc.host import ServiceSpec
from amplifier_ipc.host.descendants import ProcessRef, become_subreaper, live, send
from amplifier_ipc.host.process import ServiceLog, ServiceProcess

# Long enough for a loaded 2-core machine to start a Python helper.
DEADLINE_S = 20.0
SHUTDOWN_GRACE_S = 0.5
TERM_GRACE_S = 0.5

# A helper that outlives everything unless SIGKILLed.
STUBBORN = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: time.sleep(60)\n"

SERVICE = f"""
import os, signal, subprocess, sys, time
mode, pid_file = sys.argv[1], sys.argv[2]
stubborn = {STUBBORN!r}
if mode == "escape":  # a helper in its own session, still below the service
    child = subprocess.Popen([sys.executable, "-c", stubborn], start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    pid = child.pid
elif mode == "orphan":  # a helper whose parent exits at once: it is nobody's below the service
    spawn = (
        "import subprocess, sys; d = subprocess.DEVNULL; "
        "print(subprocess.Popen([sys.executable, '-c', sys.argv[1]], start_new_session=True, stdin=d, stdout=d, stderr=d).pid)"
    )
    pid = int(subprocess.run([sys.executable, "-c", spawn, stubborn], capture_output=True, text=True).stdout)
else:
    pid = os.getpid()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
with open(pid_file + ".tmp", "w") as handle:
    handle.write(str(pid))
os.replace(pid_file + ".tmp", pid_file)
if mode == "ignore_term":
    while True:
        time.sleep(60)
sys.stdin.read()
"""


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def ref_of(pid: int) -> ProcessRef:
    data = Path(f"/proc/{pid}/stat").read_bytes()
    return ProcessRef(pid, int(data[data.rfind(b")") + 2 :].split()[19]))


def exists(ref: ProcessRef) -> bool:
    """Alive or a zombie: a reaped process has no /proc entry (or its pid belongs to another)."""
    try:
        return ref_of(ref.pid) == ref
    except (OSError, IndexError):
        return False


def parent_of(pid: int) -> int:
    data = Path(f"/proc/{pid}/stat").read_bytes()
    return int(data[data.rfind(b")") + 2 :].split()[1])


class Services:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.log_path = root / "services.log"
        self.log = ServiceLog(self.log_path)
        self.helpers: list[ProcessRef] = []
        self.count = 0

    async def start(self, mode: str, session_id: str) -> tuple[ServiceProcess, ProcessRef]:
        self.count += 1
        name = f"svc{self.count}"
        pid_file = self.root / f"{name}.pid"
        spec = ServiceSpec(name=name, command=[sys.executable, "-c", SERVICE, mode, str(pid_file)])
        env = {"PATH": os.environ.get("PATH", ""), "AMPLIFIER_SESSION_ID": session_id}
        service = await ServiceProcess.start(spec, cwd=self.root, env=env, log=self.log, handlers={})
        await asyncio.to_thread(wait_until, pid_file.exists, f"{name} to write its helper's pid")
        helper = ref_of(int(pid_file.read_text()))
        self.helpers.append(helper)
        return service, helper

    def text(self) -> str:
        self.log.flush()
        return self.log_path.read_text()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    kit = Services(tmp_path)
    try:
        yield kit
    finally:
        for ref in kit.helpers:  # a failed check must not leave a stubborn helper behind
            send(ref, signal.SIGKILL)
        kit.log.close()


def test_this_process_becomes_a_child_subreaper_on_linux():
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_CHILD_SUBREAPER is Linux only")
    assert become_subreaper() is True


async def test_a_helper_that_left_the_services_session_is_killed_logged_and_reaped(services: Services):
    service, helper = await services.start("escape", "session-a")
    await service.teardown(SHUTDOWN_GRACE_S, TERM_GRACE_S)
    assert not exists(helper), "the helper was killed, and its zombie (now this process's child) reaped"
    log = services.text()
    assert f"[svc1] (host) it exited, but processes it started ({helper.pid}) did not; sent SIGTERM" in log
    assert (
        f"[svc1] (host) processes it started ({helper.pid}) did not exit 0.5s after SIGTERM; sent SIGKILL"
        in log
    )


async def test_a_service_that_ignores_eof_and_sigterm_is_killed_and_both_signals_are_logged(
    services: Services,
):
    service, _ = await services.start("ignore_term", "session-a")
    await service.teardown(SHUTDOWN_GRACE_S, TERM_GRACE_S)
    assert service.process.returncode == -signal.SIGKILL
    log = services.text()
    assert "[svc1] (host) did not exit 0.5s after shutdown; sent SIGTERM" in log
    assert "[svc1] (host) did not exit 0.5s after SIGTERM; sent SIGKILL" in log


async def test_the_subprocess_transport_of_a_killed_service_is_closed_by_teardown(services: Services):
    service, _ = await services.start("ignore_term", "session-a")
    await service.teardown(SHUTDOWN_GRACE_S, TERM_GRACE_S)
    transport = service.process._transport  # type: ignore[attr-defined]
    assert transport.is_closing(), "left open, the garbage collector would close it after the loop"


async def test_an_orphan_of_the_session_is_ended_when_its_last_service_is_torn_down(services: Services):
    first, orphan = await services.start("orphan", "session-a")
    second, _ = await services.start("escape", "session-a")
    await asyncio.to_thread(
        wait_until, lambda: parent_of(orphan.pid) == os.getpid(), "the orphan to reach us"
    )
    await first.teardown(SHUTDOWN_GRACE_S, TERM_GRACE_S)
    assert live([orphan]), "another service of the session still runs: the orphan may be its"
    await second.teardown(SHUTDOWN_GRACE_S, TERM_GRACE_S)
    assert not exists(orphan)
    assert f"processes {orphan.pid} of this session outlived the process that started them" in services.text()


async def test_an_orphan_of_another_session_survives_this_sessions_teardown(services: Services):
    ours, our_orphan = await services.start("orphan", "session-a")
    theirs, their_orphan = await services.start("orphan", "session-b")
    for ref in (our_orphan, their_orphan):
        await asyncio.to_thread(
            wait_until, lambda ref=ref: parent_of(ref.pid) == os.getpid(), "orphans to reach us"
        )
    await ours.teardown(SHUTDOWN_GRACE_S, TERM_GRACE_S)
    assert not exists(our_orphan)
    assert live([their_orphan]), "session-b's orphan is not session-a's to end"
    await theirs.teardown(SHUTDOWN_GRACE_S, TERM_GRACE_S)
    assert not exists(their_orphan)


async def test_a_recorded_process_whose_pid_now_names_another_start_time_is_not_signalled():
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; sys.stdin.read()", stdin=asyncio.subprocess.PIPE
    )
    try:
        real = ref_of(process.pid)
        send(ProcessRef(real.pid, real.start - 1), signal.SIGKILL)
        assert live([real]) == [real]
    finally:
        assert process.stdin is not None
        process.stdin.close()
        await process.wait()
