"""The fork server's own program (see forkserver.py): standard library only.

Started by the Host (forkserver.py imports it and calls ``main(FD)``; by
hand: ``python _zygote.py FD``), it imports the standard library
modules every Python service needs (asyncio alone is most of a service's
start), then waits on the control socket ``FD`` (AF_UNIX, SOCK_SEQPACKET).
Each request is one JSON object with the service's stdin, stdout and stderr
attached (SCM_RIGHTS). The server forks twice: the middle process exits at
once, so the service is re-parented to the Host, a child subreaper, which
waits for it like any child it started. The service then becomes what
``exec`` would have made it (own session, stdio, working directory,
environment, ``sys.path`` of its own virtualenv) and runs its module or
script as ``__main__``. It says ``{"ready": true}`` once it has imported;
answers: ``{"id", "pid"}`` or ``{"id", "error"}``.

Nothing from outside the standard library is imported here: a service must
load its own packages from its own virtualenv.
"""

from __future__ import annotations

import gc
import json
import os
import socket
import sys

# What a Python service imports before its first answer and during a turn,
# besides its own packages (measured on the foundation and providers services:
# the standard modules new in sys.modules once discovery has run). Imported
# once here, before the server says it is ready, instead of once per service
# per turn.
PRELOAD = (
    "asyncio",
    "base64",
    "concurrent.futures",
    "concurrent.futures.thread",
    "contextlib",
    "dataclasses",
    "datetime",
    "enum",
    "fnmatch",
    "functools",
    "inspect",
    "json",
    "logging",
    "pathlib",
    "platform",
    "queue",
    "random",
    "runpy",
    "selectors",
    "shlex",
    "signal",
    "site",
    "ssl",
    "string",
    "subprocess",
    "textwrap",
    "threading",
    "traceback",
    "types",
    "typing",
    "urllib.parse",
    "uuid",
    "weakref",
)
# What only some tools import when they run (temporary files, digests, C
# calls): imported once the server has been idle for IDLE_PRELOAD_S, so they
# never delay the first services of a turn nor compete with them for the CPU.
PRELOAD_WHEN_IDLE = (
    "ctypes",
    "hashlib",
    "pkgutil",
    "tempfile",
)
# A single-shot run is over within this; a REPL or a long turn is not.
IDLE_PRELOAD_S = 1.0
# The largest request: a service's argv, environment and paths.
MAX_REQUEST_BYTES = 1 << 20
# stdin, stdout, stderr.
STDIO_FDS = 3
# The middle process exits at once; this bounds the wait for it all the same.
ADOPTION_TIMEOUT_S = 1.0
ADOPTION_POLL_S = 0.0002
# The kernel keeps 15 bytes of a process name.
PROCESS_NAME_BYTES = 15


def _standard_paths() -> list[str]:
    """The standard library's entries of sys.path (under the base interpreter's
    prefix, no site-packages): what every service's sys.path starts with."""
    bases = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.base_exec_prefix)}
    paths = []
    for entry in sys.path:
        real = os.path.realpath(entry) if entry else ""
        if real and "site-packages" not in real and any(real.startswith(base + os.sep) for base in bases):
            paths.append(entry)
    return paths


def _answer(control: socket.socket, message: dict[str, object]) -> None:
    control.send(json.dumps(message).encode())


def _fork_service(fds: list[int]) -> tuple[int, str]:
    """Fork twice; in the service returns ``(0, "")``; in the server the
    service's pid and an error text (empty when all went well)."""
    reader, writer = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.close(reader)
        middle_pid = os.getpid()
        try:
            service = os.fork()
        except OSError as exc:
            os.write(writer, f"error fork failed: {exc}".encode())
            os._exit(1)
        if service == 0:
            os.close(writer)
            _wait_adopted(middle_pid)
            return 0, ""
        os.write(writer, str(service).encode())
        os._exit(0)
    os.close(writer)
    for fd in fds:
        os.close(fd)
    data = b""
    while chunk := os.read(reader, 256):
        data += chunk
    os.close(reader)
    os.waitpid(middle, 0)
    text = data.decode()
    if text.isdigit():
        return int(text), ""
    return -1, text.removeprefix("error ") or "the fork server's middle process died"


def _wait_adopted(middle: int) -> None:
    """Wait until the middle process has exited and this one is the Host's child,
    so the service never sees a parent that is about to vanish (os.getppid())."""
    import time

    deadline = time.monotonic() + ADOPTION_TIMEOUT_S
    while os.getppid() == middle and time.monotonic() < deadline:
        time.sleep(ADOPTION_POLL_S)


def _set_name(name: str) -> None:
    """Name the process after its service (what ps -o comm and top show; the
    command line stays the fork server's)."""
    try:
        with open("/proc/self/comm", "w", encoding="utf-8", errors="replace") as comm:
            comm.write(name.encode()[:PROCESS_NAME_BYTES].decode(errors="ignore"))
    except OSError:
        pass


def _request_within(control: socket.socket, seconds: float) -> bool:
    """Whether a request (or the end of the socket) comes within ``seconds``."""
    import select

    ready, _, _ = select.select([control], [], [], seconds)
    return bool(ready)


def _preload(names: list[str] | tuple[str, ...]) -> None:
    """Import ``names``; then freeze what exists, so the garbage collector
    never touches (and copies) the pages every forked service shares."""
    for name in names:
        try:
            __import__(name)
        except ImportError:
            pass
    gc.freeze()


def serve(control: socket.socket) -> tuple[dict[str, object], list[int]]:
    """Answer fork requests until the Host closes the socket (then exit); in a
    forked service, return its request and stdio."""
    idle = list(PRELOAD_WHEN_IDLE)
    while True:
        if idle and not _request_within(control, IDLE_PRELOAD_S):
            _preload(idle)
            idle.clear()
        try:
            message, fds, _flags, _address = socket.recv_fds(control, MAX_REQUEST_BYTES, STDIO_FDS)
        except OSError:
            os._exit(0)
        if not message:
            os._exit(0)
        try:
            request = json.loads(message)
            if len(fds) != STDIO_FDS:
                raise ValueError(f"expected {STDIO_FDS} file descriptors, got {len(fds)}")
        except ValueError as exc:
            for fd in fds:
                os.close(fd)
            _answer(control, {"id": None, "error": f"bad request: {exc}"})
            continue
        pid, error = _fork_service(fds)
        if pid == 0:
            return request, fds
        _answer(
            control,
            {"id": request.get("id"), "pid": pid} if not error else {"id": request.get("id"), "error": error},
        )


def become(request: dict[str, object], fds: list[int], control: socket.socket, standard: list[str]) -> None:
    """Turn this forked process into what exec would have started."""
    os.setsid()
    _set_name(str(request.get("name") or "service"))
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    control.close()
    keep = {0, 1, 2}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    env = request["env"]
    assert isinstance(env, dict)
    os.chdir(str(request["cwd"]))
    os.environ.clear()
    os.environ.update(env)
    sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    venv = str(request["venv"])
    sys.prefix = sys.exec_prefix = venv
    sys.executable = str(request["executable"])
    pythonpath = [p for p in str(env.get("PYTHONPATH", "")).split(os.pathsep) if p]
    sys.path[:] = [str(request["path0"]), *pythonpath, *standard]
    import importlib
    import site

    site.PREFIXES[:] = [venv]
    sys.path_importer_cache.clear()
    for directory in request["site"]:  # type: ignore[attr-defined]
        site.addsitedir(str(directory))
    importlib.invalidate_caches()
    # As the interpreter's start does: the service's own sitecustomize, if it has one.
    sys.modules.pop("sitecustomize", None)
    site.execsitecustomize()
    sys.argv[:] = [str(a) for a in request["argv"]]  # type: ignore[attr-defined]


def run(request: dict[str, object]) -> None:
    """Run the service's module or script as ``__main__``, as the interpreter
    would; an uncaught exception is reported without the fork server's frames."""
    import runpy
    import types

    try:
        if request["mode"] == "module":
            sys.modules["__main__"] = types.ModuleType("__main__")
            runpy._run_module_as_main(str(request["target"]), alter_argv=True)  # type: ignore[attr-defined]
        else:
            _run_script(str(request["target"]))
    except SystemExit:
        raise
    except BaseException as exc:
        tb = exc.__traceback__
        ours = {os.path.realpath(__file__), os.path.realpath(runpy.__file__)}
        while tb is not None and os.path.realpath(tb.tb_frame.f_code.co_filename) in ours:
            tb = tb.tb_next
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        if isinstance(exc, KeyboardInterrupt):  # as the interpreter does: die of SIGINT
            import signal

            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        sys.exit(1)


def _run_script(path: str) -> None:
    """What ``python path`` does: the file run in a fresh ``__main__`` whose
    ``__file__`` is absolute, ``sys.argv[0]`` left as given."""
    import builtins
    import types
    from importlib.machinery import SourceFileLoader

    filename = os.path.abspath(path)
    main = types.ModuleType("__main__")
    main.__file__ = filename
    main.__cached__ = None  # type: ignore[attr-defined]
    main.__loader__ = SourceFileLoader("__main__", filename)
    main.__builtins__ = builtins  # type: ignore[attr-defined]
    sys.modules["__main__"] = main
    with open(filename, "rb") as handle:
        code = compile(handle.read(), filename, "exec")
    exec(code, main.__dict__)


def main(fd: int) -> None:
    """Serve fork requests on the control socket ``fd``."""
    if __name__ != "__main__":
        # Imported by forkserver's boot line: no service may find this module as its own ``_zygote``.
        del sys.modules[__name__]
    control = socket.socket(fileno=fd)
    standard = _standard_paths()
    _preload(PRELOAD)
    _answer(control, {"ready": True})
    request, fds = serve(control)
    become(request, fds, control, standard)
    run(request)


if __name__ == "__main__":
    main(int(sys.argv[1]))
