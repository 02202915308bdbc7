"""The content service serves its guide and agent, and the guide's examples
are real: they run as a service."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from amplifier_ipc_protocol.testing import python_service

MODULE = "amplifier_docs"
GUIDE = Path(__file__).parents[1] / "src" / "amplifier_docs" / "context" / "service-authoring.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


async def test_the_guide_and_the_agent_are_served_as_content(tmp_path: Path) -> None:
    async with python_service(MODULE, cwd=tmp_path, home=tmp_path) as host:
        paths = host.describe["capabilities"]["content"]["paths"]
        guide = await host.call("content.read", {"path": "context/service-authoring.md"})
        agent = await host.call("content.read", {"path": "agents/service-author.md"})
    assert paths == ["agents/service-author.md", "context/service-authoring.md"]
    assert guide["content"].startswith("# Writing an amplifier-ipc service")
    assert agent["content"].startswith("---\nname: service-author\n")


async def test_the_guides_tool_and_hook_examples_run_as_a_service(tmp_path: Path) -> None:
    main, tool_example, hook_example = python_blocks(GUIDE.read_text())
    package = tmp_path / "pkgs" / "my_service"
    (package / "tools").mkdir(parents=True)
    (package / "hooks").mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(main)
    (package / "tools" / "word_count.py").write_text(tool_example)
    (package / "hooks" / "no_rm.py").write_text(hook_example)
    pythonpath = {"PYTHONPATH": os.pathsep.join([str(tmp_path / "pkgs"), *sys.path])}
    async with python_service("my_service", cwd=tmp_path, home=tmp_path, extra_env=pythonpath) as host:
        counted = await host.execute_tool("word_count", {"text": "a b a", "unique": True})
        denied = await host.emit_hook(
            "tool:pre", {"session_id": "s", "tool_name": "bash", "tool_input": {"command": "rm -rf /"}}
        )
        schema = host.describe["capabilities"]["tools"][0]["input_schema"]
    assert counted == {"success": True, "output": 2, "error": None}
    assert denied["action"] == "DENY"
    assert schema["required"] == ["text"]
