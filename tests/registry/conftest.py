"""Helpers for registry tests: a temporary AMPLIFIER_HOME and definition files."""

from __future__ import annotations

import textwrap
import uuid as uuidlib
from pathlib import Path

import pytest

from amplifier_ipc.registry.home import AmplifierHome


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AmplifierHome:
    root = tmp_path / "amp-home"
    monkeypatch.setenv("AMPLIFIER_HOME", str(root))
    return AmplifierHome(root)


def new_uuid() -> str:
    return str(uuidlib.uuid4())


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def behavior_yaml(
    ref: str, behaviors: dict[str, str] | None = None, service: str | None = None, extra: str = ""
) -> str:
    lines = [f"behavior:\n  ref: {ref}\n  uuid: {new_uuid()}\n"]
    if behaviors:
        lines.append("  behaviors:\n" + "".join(f"    - {a}: {loc}\n" for a, loc in behaviors.items()))
    if service:
        lines.append(f"  service:\n    source: {service}\n    command: {ref}-serve\n")
    return "".join(lines) + extra


def agent_yaml(ref: str, behaviors: dict[str, str] | None = None, extra: str = "") -> str:
    lines = [
        f"agent:\n  ref: {ref}\n  uuid: {new_uuid()}\n  orchestrator: core:loop\n  context_manager: core:memory\n"
    ]
    if behaviors:
        lines.append("  behaviors:\n" + "".join(f"    - {a}: {loc}\n" for a, loc in behaviors.items()))
    return "".join(lines) + extra


TINY_COMPONENTS = """
from amplifier_ipc_protocol import tool, orchestrator, context_manager, provider


@tool(name="echo")
class Echo:
    description = "Echo the input back."
    input_schema = {"type": "object", "properties": {"text": {"type": "string"}}}

    async def execute(self, input):
        return {"success": True, "output": input.get("text", "") + str(self.config.get("suffix", ""))}


@orchestrator(name="loop")
class Loop:
    async def execute(self, prompt, system_prompt, session_id, config, tools, provider_info):
        return {"response": prompt}


@context_manager(name="memory")
class Memory:
    def __init__(self):
        self.messages = []

    async def add_message(self, message):
        self.messages.append(message)

    async def get_messages(self, provider_info=None):
        return self.messages

    async def set_messages(self, messages):
        self.messages = list(messages)

    async def clear(self):
        self.messages = []
"""


def tiny_service(root: Path, name: str = "core") -> Path:
    """A real installable service package whose pyproject points the protocol at a workspace."""
    package = name.replace("-", "_") + "_svc"
    folder = root / f"svc-{name}"
    write(
        folder / "pyproject.toml",
        f"""
        [project]
        name = "{name}-svc"
        version = "0.1.0"
        requires-python = ">=3.11"
        dependencies = ["amplifier-ipc-protocol"]

        [project.scripts]
        {name}-serve = "{package}.__main__:main"

        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [tool.hatch.build.targets.wheel]
        packages = ["src/{package}"]

        [tool.uv.sources]
        amplifier-ipc-protocol = {{ workspace = true }}
        """,
    )
    write(folder / "src" / package / "__init__.py", "")
    write(
        folder / "src" / package / "__main__.py",
        f"""
        from amplifier_ipc_protocol import Server


        def main() -> None:
            Server("{package}", name="{name}").run()
        """,
    )
    write(folder / "src" / package / "tools" / "__init__.py", "")
    (folder / "src" / package / "tools" / "components.py").write_text(TINY_COMPONENTS)
    return folder


class Kit:
    """The helpers above, handed to tests as a fixture (importlib mode cannot import conftest)."""

    write = staticmethod(write)
    behavior_yaml = staticmethod(behavior_yaml)
    agent_yaml = staticmethod(agent_yaml)
    tiny_service = staticmethod(tiny_service)
    new_uuid = staticmethod(new_uuid)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
