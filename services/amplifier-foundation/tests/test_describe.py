"""The service as the Host first meets it: describe and configure."""

from __future__ import annotations

from typing import Any

import pytest
from amplifier_ipc_protocol.errors import InvalidParams

EXPECTED_TOOLS = {
    "read_file",
    "delegate",
    "write_file",
    "edit_file",
    "apply_patch",
    "glob",
    "grep",
    "bash",
    "web_fetch",
    "todo",
}
EXPECTED_HOOKS = {"approval", "logging", "redaction", "status_context", "todo_reminder", "progress_monitor"}


async def test_describe_lists_the_orchestrator_context_manager_tools_hooks_and_content(
    start_host: Any,
) -> None:
    host = await start_host()
    capabilities = host.describe["capabilities"]
    assert host.describe["name"] == "amplifier-foundation"
    assert [o["name"] for o in capabilities["orchestrators"]] == ["streaming"]
    assert [c["name"] for c in capabilities["context_managers"]] == ["simple"]
    assert {t["name"] for t in capabilities["tools"]} == EXPECTED_TOOLS
    assert {h["name"] for h in capabilities["hooks"]} == EXPECTED_HOOKS
    assert {"context/foundation.md", "agents/explorer.md", "agents/reviewer.md"} <= set(
        capabilities["content"]["paths"]
    )
    for spec in capabilities["tools"]:
        assert spec["description"], spec["name"]
        assert spec["input_schema"]["type"] == "object"


async def test_redaction_runs_before_and_logging_after_every_other_hook(start_host: Any) -> None:
    host = await start_host()
    hooks = {h["name"]: h for h in host.describe["capabilities"]["hooks"]}
    others = [h["priority"] for name, h in hooks.items() if name not in ("redaction", "logging")]
    assert hooks["redaction"]["priority"] < min(others)
    assert hooks["logging"]["priority"] > max(others)
    assert hooks["redaction"]["events"] == ["*"] == hooks["logging"]["events"]


async def test_an_unknown_approval_mode_is_refused_at_configure_with_the_modes_named(start_host: Any) -> None:
    host = await start_host()
    with pytest.raises(InvalidParams, match="ask, auto, deny"):
        await host.peer.request("configure", {"config": {"approval": {"mode": "sometimes"}}})


async def test_content_files_are_served_and_agents_carry_front_matter(start_host: Any) -> None:
    host = await start_host()
    for agent in ("explorer", "reviewer"):
        text = (await host.peer.request("content.read", {"path": f"agents/{agent}.md"}))["content"]
        assert text.startswith("---\n")
        assert f"name: {agent}\n" in text
        assert "description:" in text and "tools:" in text


def test_nothing_heavy_is_imported_before_describe() -> None:
    import subprocess
    import sys

    heavy = [
        "pydantic",
        "httpx",
        "html.parser",
        "amplifier_foundation.files.patch",
        "amplifier_foundation.web_text",
    ]
    code = (
        "import sys\n"
        "from amplifier_ipc_protocol.discovery import discover\n"
        "discover('amplifier_foundation')\n"
        f"print([m for m in {heavy!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


async def test_the_service_passes_the_protocol_conformance_check() -> None:
    import sys
    from pathlib import Path

    from amplifier_ipc_protocol.conformance import format_report, run_conformance

    script = Path(sys.executable).with_name("amplifier-foundation-serve")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "amplifier_foundation"]
    report = await run_conformance(command)
    assert report.passed, format_report(report)
