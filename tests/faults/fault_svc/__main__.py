"""A service that misbehaves on purpose, as its ``fault_probe`` config says.

It speaks JSON-RPC by hand (standard library only) so that it can break the
wire in ways the protocol library never would. The mode comes from
``config.fault_probe.mode``, which the Host sends with ``describe`` and
``configure`` (``amplifier-ipc run -C fault_probe.mode=<mode>``):

- ``none``: behaves.
- ``crash_describe``: writes a reason to stderr and exits 3 when describe arrives.
- ``hang_describe``: never answers describe.
- ``crash_tool``: in the middle of ``fault_probe`` writes half an answer and exits 9.
- ``hang_tool``: never answers ``fault_probe`` (only a cancel ends the turn); writes
  ``fault-probe-hanging`` in the working directory when the call is under way.
- ``garbage``: writes lines that are not JSON-RPC before describe and before each answer.
- ``huge_line``: before answering ``fault_probe``, writes one line just over the 64 MiB limit.
- ``slow_stream``: writes the ``fault_probe`` answer a few bytes at a time.
- ``ignore_term``: ignores SIGTERM and stays alive after stdin closes.
- ``grandchild``: ``fault_probe`` starts a grandchild (same process group) that ignores SIGTERM.
- ``grandchild_escapes``: the same, but the grandchild starts its own session (setsid).
- ``exit_early``: exits 0 right after configure.
- ``wrong_id``: answers ``fault_probe`` first with an id nobody asked for, then correctly.
- ``answer_twice``: answers ``fault_probe`` twice (the second answer differs).

Tools that behave in every mode, for the security tests:

- ``env_probe {names}``: which of ``names`` are set in this process's environment (names only).
- ``read_secret {path, fail?}``: returns the file's text, or fails with it in the error message.

Every process it starts carries ``fault-grandchild`` and the session id in its
argv, and it logs its pid and process group to stderr, so tests can look for leftovers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

NAME = "faults"
# PROTOCOL §1 / framing.MAX_LINE_BYTES: the longest line a reader must accept.
MAX_LINE_BYTES = 64 * 1024 * 1024
# A slow stream: the answer goes out in pieces this big, this far apart.
SLOW_CHUNK_BYTES = 48
SLOW_PAUSE_S = 0.004
# Written in the working directory when fault_probe starts to hang.
HANG_MARKER = "fault-probe-hanging"
# A hanging or SIGTERM-immune process waits in steps this long (only a signal ends it).
IDLE_STEP_S = 3600.0

TOOLS = [
    {
        "name": "fault_probe",
        "description": "Does what the service's fault mode says, then echoes its text.",
        "input_schema": {"type": "object", "properties": {"text": {"type": "string"}}},
    },
    {
        "name": "env_probe",
        "description": "Says which of the named environment variables this service can see.",
        "input_schema": {
            "type": "object",
            "properties": {"names": {"type": "array", "items": {"type": "string"}}},
            "required": ["names"],
        },
    },
    {
        "name": "read_secret",
        "description": "Returns a file's text, or fails with the text in the error.",
        "input_schema": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "fail": {"type": "boolean"}},
            "required": ["path"],
        },
    },
]


class Wire:
    """The real stdout, kept private; fd 1 points at stderr so stray prints stay off the wire."""

    def __init__(self) -> None:
        self.out = os.fdopen(os.dup(1), "wb", buffering=0)
        os.dup2(2, 1)

    def raw(self, data: bytes) -> None:
        self.out.write(data)

    def send(self, message: dict[str, Any]) -> None:
        self.raw(json.dumps(message).encode() + b"\n")

    def result(self, request_id: Any, result: Any) -> None:
        self.send({"jsonrpc": "2.0", "id": request_id, "result": result})


def log(text: str) -> None:
    sys.stderr.write(f"{NAME}: {text}\n")
    sys.stderr.flush()


def idle_forever() -> None:
    while True:
        time.sleep(IDLE_STEP_S)


def mode_of(params: Any) -> str:
    config = (params or {}).get("config") or {}
    probe = config.get("fault_probe") or {}
    return str(probe.get("mode", "none"))


def start_grandchild(escape: bool) -> int:
    code = (
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: time.sleep(3600)\n"
    )
    marker = f"fault-grandchild:{os.environ.get('AMPLIFIER_SESSION_ID', '?')}"
    child = subprocess.Popen(
        [sys.executable, "-c", code, marker],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        start_new_session=escape,
    )
    log(f"grandchild pid={child.pid} escape={escape}")
    return child.pid


def probe(wire: Wire, mode: str, request_id: Any, params: dict[str, Any]) -> None:
    text = str((params.get("input") or {}).get("text", ""))
    answer = {"success": True, "output": f"probe: {text}", "error": None}
    if mode == "crash_tool":
        log("crashing in the middle of fault_probe")
        wire.raw(b'{"jsonrpc": "2.0", "id": ')
        os._exit(9)
    if mode == "hang_tool":
        log("fault_probe will never answer")
        Path(HANG_MARKER).write_text(str(os.getpid()))  # tells a test the call is under way
        return
    if mode == "garbage":
        wire.raw(b"garbage in the middle of a call\n\x00\xff not json either\n")
    if mode == "huge_line":
        filler = MAX_LINE_BYTES + 1024
        log(f"writing a line of {filler} bytes")
        wire.raw(b'{"jsonrpc": "2.0", "method": "log", "params": {"message": "' + b"x" * filler + b'"}}\n')
    if mode in ("grandchild", "grandchild_escapes"):
        answer["output"] = f"probe: {text} (grandchild {start_grandchild(mode == 'grandchild_escapes')})"
    if mode == "wrong_id":
        wire.result(f"not-{request_id}", {"success": True, "output": "WRONG ANSWER", "error": None})
    if mode == "slow_stream":
        answer["output"] = "probe: " + text + " " + "slow " * 200
        data = json.dumps({"jsonrpc": "2.0", "id": request_id, "result": answer}).encode() + b"\n"
        for start in range(0, len(data), SLOW_CHUNK_BYTES):
            wire.raw(data[start : start + SLOW_CHUNK_BYTES])
            time.sleep(SLOW_PAUSE_S)
        return
    wire.result(request_id, answer)
    if mode == "answer_twice":
        wire.result(request_id, {"success": True, "output": "SECOND ANSWER", "error": None})


def env_probe(params: dict[str, Any]) -> dict[str, Any]:
    names = [str(n) for n in (params.get("input") or {}).get("names") or []]
    present = [n for n in names if n in os.environ]
    return {
        "success": True,
        "output": json.dumps({"present": present, "visible": sorted(os.environ)}),
        "error": None,
    }


def read_secret(params: dict[str, Any]) -> dict[str, Any]:
    tool_input = params.get("input") or {}
    text = Path(str(tool_input.get("path", ""))).read_text().strip()
    if tool_input.get("fail"):
        return {"success": False, "output": None, "error": {"message": f"the server refused the key {text}"}}
    return {"success": True, "output": f"the file holds {text}", "error": None}


def main() -> None:
    wire = Wire()
    mode = "none"
    log(f"pid={os.getpid()} pgid={os.getpgid(0)}")
    for line in sys.stdin.buffer:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        method, request_id = message.get("method"), message.get("id")
        params = message.get("params") or {}
        if request_id is None:
            continue
        if method == "describe":
            mode = mode_of(params)
            log(f"mode {mode}")
            if mode == "crash_describe":
                log("cannot describe: crashing as configured")
                os._exit(3)
            if mode == "hang_describe":
                continue
            if mode == "ignore_term":
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if mode == "garbage":
                wire.raw(b'this is not json\n[1, 2]\n{"no": "method"}\n')
            capabilities = {
                "tools": TOOLS,
                "hooks": [],
                "providers": [],
                "orchestrators": [],
                "context_managers": [],
            }
            wire.result(request_id, {"name": NAME, "protocol_version": 1, "capabilities": capabilities})
        elif method == "configure":
            mode = mode_of(params)
            wire.result(request_id, {"ok": True})
            if mode == "exit_early":
                log("exiting 0 early, as configured")
                os._exit(0)
        elif method == "tool.execute":
            name = params.get("name")
            if name == "fault_probe":
                probe(wire, mode, request_id, params)
            elif name == "env_probe":
                wire.result(request_id, env_probe(params))
            elif name == "read_secret":
                wire.result(request_id, read_secret(params))
            else:
                wire.send(
                    {
                        "jsonrpc": "2.0",
                        "id": request_id,
                        "error": {"code": -32003, "message": f"no tool {name}"},
                    }
                )
        elif method == "ping":
            wire.result(request_id, {})
        else:
            wire.send(
                {
                    "jsonrpc": "2.0",
                    "id": request_id,
                    "error": {"code": -32601, "message": f"no method {method}"},
                }
            )
    log("stdin closed")
    if mode == "ignore_term":
        log("ignoring EOF and SIGTERM, as configured")
        idle_forever()


if __name__ == "__main__":
    main()
