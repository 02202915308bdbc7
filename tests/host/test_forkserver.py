"""The fork server: a forked service is what exec would have started, and
anything the fork server cannot reproduce exactly is started with exec."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from amplifier_ipc_protocol.stdio import direct_children

from amplifier_ipc.host import Host, forked, forkserver
from amplifier_ipc.host.process import ServiceLog, ServiceProcess

from .conftest import Kit, service

# What a process reports about itself: everything exec decides, nothing that must differ.
REPORT = """
import json, os, signal, sys
def disposition(sig):
    handler = signal.getsignal(sig)
    return getattr(handler, "__name__", str(handler))
print(json.dumps({
    "pid": os.getpid(), "pgid": os.getpgid(0), "sid": os.getsid(0), "ppid": os.getppid(),
    "cwd": os.getcwd(), "env": dict(os.environ), "argv": sys.argv, "path": sys.path,
    "executable": sys.executable, "prefix": sys.prefix, "exec_prefix": sys.exec_prefix,
    "main": __name__, "main_file": os.path.realpath(__file__), "flags": list(sys.flags),
    "dont_write_bytecode": sys.dont_write_bytecode,
    "fds": sorted(os.listdir("/proc/self/fd")),
    "signals": {s.name: disposition(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGCHLD)},
    "stdin": sys.stdin.readline(),
    "sitecustomize": os.environ.get("CUSTOMIZED"),
}), flush=True)
sys.exit(int(os.environ.get("EXIT_CODE", "0")))
"""


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "report.py").write_text(REPORT)
    package = tmp_path / "lib" / "reporter"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(REPORT)
    # Run by the interpreter's start (from PYTHONPATH here), so by a forked service too.
    (tmp_path / "lib" / "sitecustomize.py").write_text("import os\nos.environ['CUSTOMIZED'] = 'yes'\n")
    return tmp_path


def _env(work: Path, **extra: str) -> dict[str, str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(work), "PYTHONPATH": str(work / "lib"), **extra}
    if "LANG" in os.environ:
        env["LANG"] = os.environ["LANG"]
    return env


async def _exec(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[dict[str, Any], int]:
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    output, _ = await process.communicate(b"hello\n")
    return json.loads(output), process.returncode or 0


async def _fork(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[dict[str, Any], int]:
    fork = forked.plan(command, env, cwd)
    assert fork is not None, f"{command} should be forked"
    server = forkserver.shared()
    assert server is not None
    process = await forked.spawn(server, fork, name="reporter", cwd=str(cwd), env=env)
    process.stdin.write(b"hello\n")
    line = await process.stdout.readline()
    code = await process.wait()
    process.close_pipes()
    return json.loads(line), code


def _same_apart_from_pids(execed: dict[str, Any], forked_: dict[str, Any]) -> None:
    for report in (execed, forked_):
        assert report.pop("pgid") == report["pid"] == report.pop("sid"), "own session and process group"
        assert report.pop("ppid") == os.getpid(), "the Host's child"
        report.pop("pid")
    assert forked_ == execed


@pytest.mark.parametrize("how", ["script", "module"])
async def test_a_forked_service_is_what_exec_would_have_started(work: Path, how: str) -> None:
    command = (
        [sys.executable, "report.py", "one"] if how == "script" else [sys.executable, "-m", "reporter", "one"]
    )
    cwd, env = work, _env(work, EXTRA="yes")
    execed, _ = await _exec(command, cwd, env)
    forked_, _ = await _fork(command, cwd, env)
    assert forked_["stdin"] == "hello\n" and forked_["main"] == "__main__"
    assert forked_["sitecustomize"] == execed["sitecustomize"] == "yes"
    forked_["env"].pop("CUSTOMIZED")
    execed["env"].pop("CUSTOMIZED")
    assert forked_["env"] == env, "exactly the environment given, nothing of the fork server's"
    _same_apart_from_pids(execed, forked_)


# A console script's first lines: a #! line, or the /bin/sh trampoline uv and pip
# write when the interpreter's path is too long for one.
SHEBANG = "#!{python}\n"
TRAMPOLINE = "#!/bin/sh\n'''exec' '{python}' \"$0\" \"$@\"\n' '''\n"


@pytest.mark.parametrize("header", [SHEBANG, TRAMPOLINE], ids=["shebang", "sh-trampoline"])
@pytest.mark.parametrize("through_symlink", [False, True], ids=["direct", "via-symlink"])
async def test_a_console_script_of_a_virtualenv_is_forked_like_exec(
    work: Path, header: str, through_symlink: bool
) -> None:
    bin_dir = Path(sys.executable).parent
    script = bin_dir / f"amplifier-ipc-report-test-{os.getpid()}"
    script.write_text(header.format(python=sys.executable) + REPORT)
    script.chmod(0o755)
    command = str(script)
    if through_symlink:  # the command names the venv's folder another way than its #! line
        (work / "linked-bin").symlink_to(bin_dir)
        command = str(work / "linked-bin" / script.name)
    try:
        env = _env(work)
        execed, _ = await _exec([command, "x"], work, env)
        forked_, _ = await _fork([command, "x"], work, env)
    finally:
        script.unlink()
    _same_apart_from_pids(execed, forked_)


async def test_exit_codes_and_signals_of_forked_services_are_reported(work: Path) -> None:
    _, code = await _fork([sys.executable, "report.py"], work, _env(work, EXIT_CODE="3"))
    assert code == 3
    fork = forked.plan([sys.executable, "-c", "pass"], {}, work)
    assert fork is None
    (work / "sleeper.py").write_text("import sys, time\nprint('up', flush=True)\ntime.sleep(60)\n")
    env = _env(work)
    plan = forked.plan([sys.executable, "sleeper.py"], env, work)
    server = forkserver.shared()
    assert plan is not None and server is not None
    process = await forked.spawn(server, plan, name="sleeper", cwd=str(work), env=env)
    assert await process.stdout.readline() == b"up\n"
    os.killpg(process.pid, signal.SIGKILL)
    assert await process.wait() == -signal.SIGKILL
    process.close_pipes()


async def test_an_uncaught_exception_in_a_forked_service_reads_as_it_would_under_exec(work: Path) -> None:
    (work / "boom.py").write_text("def fail():\n    raise RuntimeError('boom in the service')\n\nfail()\n")
    env = _env(work)
    execed = await asyncio.create_subprocess_exec(
        sys.executable, "boom.py", cwd=work, env=env, stderr=asyncio.subprocess.PIPE, start_new_session=True
    )
    _, expected = await execed.communicate()
    plan = forked.plan([sys.executable, "boom.py"], env, work)
    server = forkserver.shared()
    assert plan is not None and server is not None
    process = await forked.spawn(server, plan, name="boom", cwd=str(work), env=env)
    stderr = await process.stderr.read()
    assert await process.wait() == execed.returncode == 1
    assert stderr == expected
    assert b"RuntimeError: boom in the service" in stderr
    process.close_pipes()


@pytest.mark.parametrize(
    ("command", "env", "why"),
    [
        (["python3", "-m", "x"], {}, "not an absolute path"),
        ([sys.executable, "-c", "pass"], {}, "-c"),
        ([sys.executable, "-u", "-m", "x"], {}, "an interpreter flag"),
        ([sys.executable, "-m", "x"], {"PYTHONHASHSEED": "1"}, "a variable read at interpreter start"),
        (["/bin/sh", "-c", "true"], {}, "not Python"),
        ([sys.executable, "missing.py"], {}, "no such script"),
    ],
)
def test_what_the_fork_server_cannot_reproduce_exactly_is_left_to_exec(
    tmp_path: Path, command: list[str], env: dict[str, str], why: str
) -> None:
    assert forked.plan(command, env, tmp_path) is None, why


def test_a_script_whose_interpreter_is_another_python_is_left_to_exec(tmp_path: Path) -> None:
    script = tmp_path / "other"
    script.write_text("#!/usr/bin/python3\nprint('x')\n")
    script.chmod(0o755)
    assert forked.plan([str(script)], {}, tmp_path) is None
    assert forked.plan([sys.executable, "-m", "x"], {}, tmp_path / "missing") is None


def test_the_fork_server_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(forkserver.ENV_SWITCH, "0")
    assert forked.plan([sys.executable, "-m", "x"], {}, tmp_path) is None
    assert forkserver.shared() is None


@pytest.fixture(autouse=True)
async def ready_server() -> forkserver.ForkServer:
    """This process's fork server, done importing (a service is forked only then)."""
    server = forkserver.shared()
    assert server is not None
    await forked.wait_ready(server)
    return server


async def test_a_fork_server_still_importing_is_waited_for_briefly_then_given_up(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = forkserver.shared()
    assert old is not None
    old.close()
    new = forkserver.shared()
    assert new is not None and new is not old and not new.ready()
    started = await _start("tools", work, work / "services.log")
    try:
        assert isinstance(started.process, forked.ForkedProcess), "forked once it was ready"
    finally:
        await _stop_all(started)
    new.close()
    late = forkserver.shared()
    assert late is not None and not late.ready()
    monkeypatch.setattr(forkserver, "READY_WAIT_S", 0.0)  # as if it had been importing too long
    again = await _start("tools", work, work / "services.log")
    try:
        assert not isinstance(again.process, forked.ForkedProcess), "exec, not a long wait"
        assert (await again.peer.request("describe", {}, timeout=30))["name"]
    finally:
        await _stop_all(again)


async def _start(spec_name: str, work: Path, log_path: Path) -> ServiceProcess:
    spec = service(spec_name, "tsvc_tools")
    env = {**_env(work), **spec.env, "AMPLIFIER_SESSION_ID": "forktest"}
    return await ServiceProcess.start(spec, cwd=work, env=env, log=ServiceLog(log_path), handlers={})


async def _stop_all(*services: ServiceProcess) -> None:
    for started in services:
        await started.teardown(1.0, 1.0)


async def test_a_service_of_another_python_is_started_with_exec_and_says_so(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = forkserver.shared()
    assert server is not None
    monkeypatch.setattr(server, "interpreter", "/elsewhere/bin/python3.11")
    started = await _start("tools", work, work / "services.log")
    try:
        assert not isinstance(started.process, forked.ForkedProcess)
        assert (await started.peer.request("describe", {}, timeout=30))["name"]
    finally:
        await _stop_all(started)
    assert (
        "started with exec: the service's Python is not the fork server's"
        in (work / "services.log").read_text()
    )


async def test_a_killed_fork_server_is_replaced_and_what_it_forked_lives_on(work: Path) -> None:
    first = await _start("tools", work, work / "services.log")
    second: ServiceProcess | None = None
    try:
        assert isinstance(first.process, forked.ForkedProcess)
        server = forkserver.shared()
        assert server is not None
        os.kill(server.pid, signal.SIGKILL)
        os.waitpid(server.pid, 0)
        replacement = forkserver.shared()
        assert replacement is not None and replacement is not server
        await forked.wait_ready(replacement)
        second = await _start("tools2", work, work / "services.log")
        assert isinstance(second.process, forked.ForkedProcess), "forked by the new fork server"
        for started in (first, second):
            assert (await started.peer.request("describe", {}, timeout=30))["name"]
    finally:
        await _stop_all(first, *([second] if second else []))


async def test_a_hung_fork_server_is_given_up_and_the_service_started_with_exec(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forked, "REQUEST_TIMEOUT_S", 0.5)
    server = forkserver.shared()
    assert server is not None
    os.kill(server.pid, signal.SIGSTOP)
    try:
        started = await _start("tools", work, work / "services.log")
    finally:
        with contextlib.suppress(ProcessLookupError):  # given up on: it was killed
            os.kill(server.pid, signal.SIGCONT)
    try:
        assert not isinstance(started.process, forked.ForkedProcess)
        assert (await started.peer.request("describe", {}, timeout=30))["name"]
        assert not server.alive
    finally:
        await _stop_all(started)
    assert "started with exec: the fork server did not answer" in (work / "services.log").read_text()


def _children_of_this_process() -> list[tuple[int, str]]:
    """(pid, state) of every child of this process, zombies included, but the fork servers."""
    servers = forkserver.server_pids()
    found = []
    for child in direct_children(os.getpid()):
        if child in servers:
            continue
        try:
            state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        found.append((child, state))
    return found


def test_closing_a_host_while_its_services_are_being_forked_leaves_no_process_not_even_a_zombie(
    kit: Kit,
) -> None:
    """As a program does: close the Host, and its event loop ends right after."""

    async def open_and_close() -> None:
        server = forkserver.shared()
        assert server is not None
        await forked.wait_ready(server)
        host = Host(kit.config([{"text": "hi"}]), prespawn=True)  # starts forking at once
        for _ in range(3):  # let the pre-spawn get under way
            await asyncio.sleep(0)
        await host.close()

    before = _children_of_this_process()
    for _ in range(10):  # the close lands at different points of the pre-spawn
        asyncio.run(open_and_close())
    assert _children_of_this_process() == before
