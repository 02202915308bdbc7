"""A service that misbehaves as ``TSVC_FAULT`` says:

- ``exit_on_describe``: writes to stderr and exits when describe arrives;
- ``hang``: never answers anything;
- ``bad_describe``: answers describe with protocol_version 99;
- ``bad_schema``: offers a tool whose input_schema is not an object schema;
- ``garbage``: writes lines that are not JSON-RPC to stdout, then serves well;
- ``ignore_term``: serves, then ignores EOF and SIGTERM (only SIGKILL ends it).
"""

import json
import os
import signal
import sys
import time

FAULT = os.environ.get("TSVC_FAULT", "")
NAME = os.environ.get("TSVC_NAME", "faulty")


def send(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def capabilities() -> dict:
    tools = [{"name": "faulty_echo", "description": "echo", "input_schema": {"type": "object"}}]
    if FAULT == "bad_schema":
        tools = [{"name": "faulty_echo", "description": "echo", "input_schema": {"type": "string"}}]
    return {"tools": tools, "hooks": [], "providers": [], "orchestrators": [], "context_managers": []}


def main() -> None:
    if FAULT == "ignore_term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if FAULT == "garbage":
        sys.stdout.write('this is not json\n[1, 2]\n{"no": "method"}\n')
        sys.stdout.flush()
    sys.stderr.write(f"{NAME}: started with fault {FAULT!r}\n")
    sys.stderr.flush()
    for line in sys.stdin:
        message = json.loads(line)
        method, request_id = message.get("method"), message.get("id")
        if request_id is None:
            continue
        if FAULT == "hang":
            continue
        if method == "describe":
            if FAULT == "exit_on_describe":
                sys.stderr.write("faulty: missing dependency, cannot describe\n")
                sys.stderr.flush()
                sys.exit(3)
            version = 99 if FAULT == "bad_describe" else 1
            send(
                {
                    "jsonrpc": "2.0",
                    "id": request_id,
                    "result": {"name": NAME, "protocol_version": version, "capabilities": capabilities()},
                }
            )
        elif method == "tool.execute":
            if FAULT == "garbage":
                sys.stdout.write("garbage in the middle of a call\n")
            send(
                {
                    "jsonrpc": "2.0",
                    "id": request_id,
                    "result": {"success": True, "output": message["params"]["input"], "error": None},
                }
            )
        else:
            send({"jsonrpc": "2.0", "id": request_id, "result": {"ok": True}})
    if FAULT == "ignore_term":
        while True:
            time.sleep(1)


main()
