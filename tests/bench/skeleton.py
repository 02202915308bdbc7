"""The routed tool call's lower bound in Python: a skeleton of the same chain.

An orchestrator (this process) sends ``request.tool_execute`` to a "Host"
child that only parses each line, looks the tool up, renumbers it and writes
it on to a "tool" grandchild, which parses, answers and writes back; the Host
renumbers the answer and passes it back. Both run on the same event loop as
the real ones (uvloop), with bare asyncio Protocols and orjson: no tasks, no
timers, no validation, no cancellation, no error handling. What the real
chain costs above this is the price of those features; what this costs above
the raw round trip is the price of three Python processes speaking JSON-RPC
at all.
"""

from __future__ import annotations

import asyncio
import sys
import time

import orjson

TOOL = r"""
import asyncio, os, orjson
from amplifier_ipc_protocol import loops

async def main():
    loop = asyncio.get_running_loop()
    out, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(1, "wb"))
    ended = loop.create_future()

    class Requests(asyncio.Protocol):
        def data_received(self, data):
            for line in data.splitlines():
                request = orjson.loads(line)
                result = {"success": True, "output": request["params"]["input"]["text"], "error": None}
                out.write(orjson.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result}) + b"\n")

        def eof_received(self):
            ended.set_result(None)

    await loop.connect_read_pipe(Requests, os.fdopen(0, "rb"))
    await ended

loops.run(main())
"""

HOST = r"""
import asyncio, os, subprocess, sys, orjson
from amplifier_ipc_protocol import loops

async def main():
    loop = asyncio.get_running_loop()
    tool = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    to_tool, _ = await loop.connect_write_pipe(asyncio.Protocol, tool.stdin)
    out, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(1, "wb"))
    routes = {"echo": "tools"}
    callers = {}
    numbers = iter(range(1, 1 << 62))
    ended = loop.create_future()

    class Answers(asyncio.Protocol):
        def data_received(self, data):
            for line in data.splitlines():
                answer = orjson.loads(line)
                caller = callers.pop(answer["id"])
                out.write(orjson.dumps({"jsonrpc": "2.0", "id": caller, "result": answer["result"]}) + b"\n")

    class Requests(asyncio.Protocol):
        def data_received(self, data):
            for line in data.splitlines():
                request = orjson.loads(line)
                params = request["params"]
                routes[params["name"]]
                number = next(numbers)
                callers[number] = request["id"]
                forwarded = {"jsonrpc": "2.0", "id": number, "method": "tool.execute", "params": params}
                to_tool.write(orjson.dumps(forwarded) + b"\n")

        def eof_received(self):
            ended.set_result(None)

    await loop.connect_read_pipe(Answers, tool.stdout)
    await loop.connect_read_pipe(Requests, os.fdopen(0, "rb"))
    await ended
    tool.kill()  # a skeleton: no orderly shutdown
    tool.wait()

loops.run(main())
"""


async def skeleton_round_trip_us(calls: int) -> float:
    """The mean routed call through the skeleton chain, in microseconds."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOST, TOOL, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdin is not None and process.stdout is not None

    async def call(number: int) -> None:
        request = {"jsonrpc": "2.0", "id": number, "method": "request.tool_execute"}
        request["params"] = {"name": "echo", "input": {"text": "x"}}
        process.stdin.write(orjson.dumps(request) + b"\n")  # type: ignore[union-attr]
        orjson.loads(await process.stdout.readline())  # type: ignore[union-attr]

    for number in range(100):
        await call(number)
    start = time.perf_counter()
    for number in range(calls):
        await call(number)
    elapsed = time.perf_counter() - start
    process.stdin.close()
    await process.wait()
    return elapsed / calls * 1e6
