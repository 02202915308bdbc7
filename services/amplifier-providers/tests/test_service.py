"""The providers service as a process: what it describes, what it imports
before describe, and how it refuses bad configuration."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from amplifier_ipc_protocol import InvalidParams

ALL_PROVIDERS = ["anthropic", "azure_openai", "gemini", "ollama", "openai", "openai_compatible", "scripted"]
SDK_MODULES = ["anthropic", "openai", "google.genai", "ollama", "httpx", "httpx2", "pydantic", "yaml"]
# Importing the components is quick; this only bounds a hung interpreter.
IMPORT_DEADLINE_SECONDS = 60


async def test_describe_lists_every_provider(service_factory: Any) -> None:
    host = await service_factory()
    described = await host.call("describe")
    assert described["name"] == "amplifier-providers"
    assert sorted(p["name"] for p in described["capabilities"]["providers"]) == ALL_PROVIDERS


def test_finding_the_components_imports_no_sdk() -> None:
    """What the service does before answering describe: discovery imports every
    component module. None of them may pull in a vendor SDK (or pydantic)."""
    probe = (
        "import sys\n"
        "from amplifier_ipc_protocol.discovery import discover\n"
        "found = discover('amplifier_providers')\n"
        "assert len(found.of_kind('provider')) == 7, found.components\n"
        f"print(sorted(m for m in {SDK_MODULES!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=IMPORT_DEADLINE_SECONDS,
        check=True,
    )
    assert result.stdout.strip() == "[]"


async def test_info_tells_each_providers_models_and_context_window(service_factory: Any) -> None:
    host = await service_factory()
    await host.call(
        "configure",
        {
            "config": {
                "openai_compatible": {
                    "model": "qwen",
                    "base_url": "http://127.0.0.1:1/v1",
                    "context_window": 32768,
                }
            }
        },
    )
    for name in ALL_PROVIDERS:
        info = await host.call("provider.info", {"provider": name})
        assert info["id"] == name
        assert info["models"], name
        assert info["defaults"]["context_window"] > 0, name
        assert "streaming" in info["capabilities"], name
    compatible = await host.call("provider.info", {"provider": "openai_compatible"})
    assert compatible["defaults"] == {"model": "qwen", "context_window": 32768, "max_output_tokens": 2048}


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"anthropic": {"api_key": "sk-x"}}, "Keys are never config: set ANTHROPIC_API_KEY"),
        ({"openai": {"modle": "gpt-5"}}, "openai has no config keys ['modle']"),
        ({"azure_openai": {"deployment": ""}}, "deployment must be a non-empty string"),
        ({"scripted": {"scirpt": "x.yaml"}}, "scripted has no config keys ['scirpt']"),
        ({"ollama": {"context_window": "big"}}, "context_window must be a whole number of tokens"),
        ({"anthropic": {"thinking": "lots"}}, "thinking must be true, false or a budget"),
        ({"gemini": {"temperature": -1}}, "temperature must be a number >= 0"),
        ({"ollama": {"think": "maybe"}}, "think must be true, false"),
    ],
)
async def test_bad_configuration_is_refused_with_what_to_fix(
    service_factory: Any, config: dict[str, Any], fragment: str
) -> None:
    host = await service_factory()
    with pytest.raises(InvalidParams) as info:
        await host.call("configure", {"config": config})
    assert fragment in info.value.message


async def test_the_service_exits_when_its_stdin_closes(service_factory: Any) -> None:
    host = await service_factory()
    await host.call("describe")
    assert await host.close() == 0


def test_asking_a_provider_for_its_info_loads_its_sdk_in_the_background() -> None:
    """The Host asks the selected provider for its info when a turn starts; the
    SDK import then overlaps the turn's set-up. Only that provider's SDK loads."""
    probe = (
        "import sys, time\n"
        "from amplifier_ipc_protocol.discovery import discover\n"
        "found = discover('amplifier_providers')\n"
        "ollama = next(c.instance for c in found.of_kind('provider') if c.name == 'ollama')\n"
        "ollama.info()\n"
        f"deadline = time.monotonic() + {IMPORT_DEADLINE_SECONDS}\n"
        "while 'ollama' not in sys.modules or ollama._warming.is_alive():\n"
        "    assert time.monotonic() < deadline, 'ollama was never imported'\n"
        "    time.sleep(0.01)\n"
        "print(sorted(m for m in ('anthropic', 'openai', 'google.genai', 'ollama') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=IMPORT_DEADLINE_SECONDS * 2,
        check=True,
    )
    assert result.stdout.strip() == "['ollama']"


async def test_the_service_passes_the_protocol_conformance_check() -> None:
    from pathlib import Path

    from amplifier_ipc_protocol.conformance import format_report, run_conformance

    script = Path(sys.executable).with_name("amplifier-providers-serve")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "amplifier_providers"]
    report = await run_conformance(command)
    assert report.passed, format_report(report)
