"""Parsing and validating agent and behavior definitions."""

from __future__ import annotations

import pytest

from amplifier_ipc.registry.definitions import parse_definition
from amplifier_ipc.registry.errors import DefinitionError

UUID = "3f0c9a52-1b2d-4c8e-9f00-0123456789ab"

AGENT = f"""
agent:
  ref: demo
  uuid: {UUID}
  description: A demo agent.
  orchestrator: foundation:streaming
  context_manager: foundation:simple
  provider: providers:anthropic
  behaviors:
    - modes: ../services/amplifier-modes/behaviors/modes.yaml
    - skills
  service:
    installer: uv
    source: ../services/amplifier-foundation
    command: amplifier-foundation-serve
    env: [ANTHROPIC_API_KEY]
  config:
    bash: {{timeout: 60}}
  instructions: |
    Be brief.
  context:
    - foundation:context/guide.md
"""


def test_a_full_agent_definition_parses_into_every_field() -> None:
    d = parse_definition(AGENT, "demo.yaml")
    assert (d.kind, d.ref, d.uuid) == ("agent", "demo", UUID)
    assert d.id == f"agent_demo_{UUID}"
    assert d.orchestrator == "foundation:streaming"
    assert d.provider == "providers:anthropic"
    assert [(b.alias, b.location) for b in d.behaviors] == [
        ("modes", "../services/amplifier-modes/behaviors/modes.yaml"),
        ("skills", "skills"),
    ]
    assert d.service is not None
    assert (d.service.name, d.service.installer, d.service.command, d.service.env) == (
        "demo",
        "uv",
        ["amplifier-foundation-serve"],
        ["ANTHROPIC_API_KEY"],
    )
    assert d.config == {"bash": {"timeout": 60}}
    assert d.instructions == "Be brief.\n"
    assert d.context == ["foundation:context/guide.md"]
    assert len(d.sha256) == 64


def test_local_ref_and_stack_are_accepted_as_synonyms_of_ref_and_installer() -> None:
    d = parse_definition(
        f"behavior:\n  local_ref: b1\n  uuid: {UUID}\n  service: {{stack: uv, source: ., command: x-serve}}\n",
        "b.yaml",
    )
    assert d.ref == "b1"
    assert d.service is not None and d.service.installer == "uv"


def _error(text: str) -> str:
    with pytest.raises(DefinitionError) as info:
        parse_definition(text, "bad.yaml")
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("agent: [1, 2]", "bad.yaml: field 'agent': expected a mapping of fields, got [1, 2]"),
        ("- a\n- b", "bad.yaml: field '<document>': expected a mapping with an 'agent:' or 'behavior:' key"),
        (
            f"agent: {{ref: a, uuid: {UUID}}}\nbehavior: {{ref: b, uuid: {UUID}}}",
            "bad.yaml: field '<document>': expected exactly one top-level key, 'agent' or 'behavior'",
        ),
        (
            f"behavior: {{uuid: {UUID}}}",
            "bad.yaml: field 'behavior.ref': expected a name such as 'foundation' (field missing)",
        ),
        (
            f"behavior: {{ref: Big Name, uuid: {UUID}}}",
            "bad.yaml: field 'behavior.ref': expected lowercase letters",
        ),
        ("behavior: {ref: b}", "bad.yaml: field 'behavior.uuid': expected a fixed UUID"),
        ("behavior: {ref: b, uuid: not-a-uuid}", "field 'behavior.uuid': expected a UUID like"),
        (
            f"behavior: {{ref: b, uuid: {UUID}, colour: red}}",
            "field 'behavior.colour': expected one of the fields",
        ),
        (
            f"behavior: {{ref: b, uuid: {UUID}, orchestrator: x:y}}",
            "field 'behavior.orchestrator': expected no such field: only an agent names a orchestrator",
        ),
        (
            f"agent: {{ref: a, uuid: {UUID}, context_manager: f:s}}",
            "field 'agent.orchestrator': expected 'service:component'",
        ),
        (
            f"agent: {{ref: a, uuid: {UUID}, orchestrator: 'a:b:c', context_manager: f:s}}",
            "field 'agent.orchestrator': expected 'service:component' such as 'foundation:streaming', got 'a:b:c'",
        ),
        (
            f"behavior: {{ref: b, uuid: {UUID}, behaviors: x.yaml}}",
            "field 'behavior.behaviors': expected a list",
        ),
        (
            f"behavior: {{ref: b, uuid: {UUID}, behaviors: [{{a: x, b: y}}]}}",
            "field 'behavior.behaviors[0]': expected one {alias: location} pair",
        ),
        (
            f"behavior: {{ref: b, uuid: {UUID}, behaviors: [{{a: 3}}]}}",
            "field 'behavior.behaviors[0].a': expected a relative path",
        ),
        (
            f"behavior: {{ref: b, uuid: {UUID}, service: {{source: ., command: x, installer: pip}}}}",
            "field 'behavior.service.installer': expected one of uv, got 'pip'",
        ),
        (
            f"behavior: {{ref: b, uuid: {UUID}, service: {{command: x}}}}",
            "field 'behavior.service.source': expected a path, git URL or package name, got None",
        ),
        (
            f"behavior: {{ref: b, uuid: {UUID}, service: {{source: .}}}}",
            "field 'behavior.service.command': expected the service's script name",
        ),
        (
            f"behavior: {{ref: b, uuid: {UUID}, service: {{source: ., command: x, env: [1BAD]}}}}",
            "field 'behavior.service.env[0]': expected an environment variable name",
        ),
        (
            f"behavior: {{ref: b, uuid: {UUID}, service: {{source: ., command: x, port: 1}}}}",
            "field 'behavior.service.port': expected one of installer",
        ),
        (
            f"behavior: {{ref: b, uuid: {UUID}, config: {{bash: 60}}}}",
            "field 'behavior.config.bash': expected a mapping of settings, got 60",
        ),
        (
            f"behavior: {{ref: b, uuid: {UUID}, context: [3]}}",
            "field 'behavior.context[0]': expected content such as",
        ),
        (
            f"behavior: {{ref: b, uuid: {UUID}, instructions: [x]}}",
            "field 'behavior.instructions': expected a string",
        ),
        (
            f"behavior: {{ref: b, local_ref: c, uuid: {UUID}}}",
            "field 'behavior.local_ref': expected either 'ref' or 'local_ref'",
        ),
        ("behavior: {ref: b\n", "bad.yaml: field '<document>': expected valid YAML (line"),
    ],
)
def test_each_malformed_definition_names_the_file_the_field_and_what_is_expected(
    text: str, message: str
) -> None:
    assert message in _error(text)
