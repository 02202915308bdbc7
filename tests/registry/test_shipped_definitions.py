"""Every definition in the repository loads, validates and resolves from the checkout."""

from __future__ import annotations

from pathlib import Path

from amplifier_ipc.registry.catalog import discover_definitions
from amplifier_ipc.registry.home import AmplifierHome
from amplifier_ipc.registry.resolver import resolve_agent

ROOT = Path(__file__).resolve().parents[2]


def test_every_shipped_definition_is_valid() -> None:
    found = discover_definitions(ROOT / "definitions") + discover_definitions(ROOT / "services")
    assert [str(f.error) for f in found if f.error] == []
    refs = {f.definition.ref for f in found if f.definition}
    assert {
        "foundation",
        "minimal",
        "providers",
        "local",
        "modes",
        "skills",
        "routing-matrix",
        "mcp",
        "docs",
    } <= refs


def test_the_foundation_agent_resolves_offline_to_services_with_local_sources(home: AmplifierHome) -> None:
    (agent,) = [f.definition for f in discover_definitions(ROOT / "definitions" / "foundation.yaml")]
    assert agent is not None
    resolved = resolve_agent(agent, home)
    services = [d.service for d in resolved.service_definitions()]
    names = [s.name for s in services if s]
    assert names == ["foundation", "providers", "local", "modes", "skills", "routing-matrix", "docs"]
    for definition in resolved.service_definitions():
        assert definition.service is not None
        assert (Path(definition.origin).parent / definition.service.source / "pyproject.toml").is_file()
