"""A tool set for the Host's tests. Config ``prefix`` prefixes every tool name,
so the same package can run as several services without a clash (or with one);
``warnings`` is what describe reports as working only in part.

- ``echo {text}``: returns text.
- ``meet {key, n}``: returns once n calls with that key run at once in this process (proves parallelism).
- ``meet_file {dir, n}``: the same across processes, through files in dir.
- ``big {size}``: returns a string of size bytes.
- ``crash {}``: the process exits in the middle of the call.
- ``grandchild {pidfile}``: starts a process that ignores SIGTERM and outlives its parent's children.
- ``wait_file {path}``: returns once path exists (a tool that runs until the test lets it finish).
- ``remember {key, value}``: session state.
- ``environment {}``: the service's environment and working directory.
"""

import asyncio
import os
import subprocess
import uuid
from typing import Any

from amplifier_ipc_protocol import tool

# Every wait of these tools ends; a test that deadlocks fails instead of hanging.
WAIT_DEADLINE_S = 20.0
POLL_S = 0.005

_OBJECT = {"type": "object"}


def _schema(**properties: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {k: {"type": v} for k, v in properties.items()},
        "required": list(properties),
    }


SPECS = {
    "echo": _schema(text="string"),
    "meet": _schema(key="string", n="integer"),
    "meet_file": _schema(dir="string", n="integer"),
    "big": _schema(size="integer"),
    "crash": _OBJECT,
    "grandchild": _schema(pidfile="string"),
    "wait_file": _schema(path="string"),
    "remember": _schema(key="string", value="string"),
    "environment": _OBJECT,
}


@tool
class Toolbox:
    name = "toolbox"

    def __init__(self) -> None:
        self._meetings: dict[str, int] = {}
        self._changed = asyncio.Event()

    def list_tools(self) -> list[dict[str, Any]]:
        prefix = self.config.get("prefix", "")
        only = self.config.get("only")
        return [
            {"name": prefix + name, "description": f"test tool {name}", "input_schema": schema}
            for name, schema in SPECS.items()
            if only is None or name in only
        ]

    def warnings(self) -> list[str]:
        return [str(text) for text in self.config.get("warnings", [])]

    async def execute(self, input: dict[str, Any], *, name: str) -> Any:
        base = name[len(self.config.get("prefix", "")) :]
        return await getattr(self, "_" + base)(input)

    async def _echo(self, input: dict[str, Any]) -> str:
        return input["text"]

    async def _meet(self, input: dict[str, Any]) -> str:
        key, n = input["key"], input["n"]
        self._meetings[key] = self._meetings.get(key, 0) + 1
        self._changed.set()
        async with asyncio.timeout(WAIT_DEADLINE_S):
            while self._meetings[key] < n:
                self._changed.clear()
                await self._changed.wait()
        return f"met {n}"

    async def _meet_file(self, input: dict[str, Any]) -> str:
        folder, n = input["dir"], input["n"]
        open(os.path.join(folder, f"{os.getpid()}-{uuid.uuid4()}"), "w").close()
        async with asyncio.timeout(WAIT_DEADLINE_S):
            while len(os.listdir(folder)) < n:
                await asyncio.sleep(POLL_S)
        return f"met {n} across processes"

    async def _big(self, input: dict[str, Any]) -> str:
        return "x" * input["size"]

    async def _crash(self, input: dict[str, Any]) -> str:
        print("tools: crashing on purpose", flush=True)
        os._exit(7)

    async def _grandchild(self, input: dict[str, Any]) -> str:
        # The subshell is orphaned at once, so only its process group ties it to this service.
        script = f"(trap '' TERM; exec sleep 600) & echo $! > {input['pidfile']}"
        subprocess.run(["sh", "-c", script], check=True)
        return "started"

    async def _wait_file(self, input: dict[str, Any]) -> str:
        async with asyncio.timeout(WAIT_DEADLINE_S):
            while not os.path.exists(input["path"]):
                await asyncio.sleep(POLL_S)
        return "waited"

    async def _remember(self, input: dict[str, Any]) -> str:
        await self.host.state_set(input["key"], input["value"])
        return str(await self.host.state_get(input["key"]))

    async def _environment(self, input: dict[str, Any]) -> dict[str, Any]:
        return {"env": dict(os.environ), "cwd": os.getcwd()}
