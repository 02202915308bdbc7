"""The list of method names agrees with the contract in docs/protocol.md."""

from __future__ import annotations

import re
from pathlib import Path

from amplifier_ipc_protocol import methods as m

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def _table_methods(section: str) -> set[str]:
    text = DOC.read_text()
    body = text.split(section, 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_.]+)`", body, flags=re.MULTILINE))


def test_every_method_a_service_answers_is_in_the_contract_and_back() -> None:
    assert _table_methods("## 4. Methods a service answers") == set(m.SERVICE_METHODS)


def test_every_method_the_host_answers_is_in_the_contract_and_back() -> None:
    documented = _table_methods("## 5. Methods the Host answers")
    # The table writes the two state spellings in one row: `request.state_get` / `state.get`.
    documented |= {"state.get", "state.set"}
    assert documented == set(m.HOST_METHODS)


def test_names_are_unique() -> None:
    every = [*m.SERVICE_METHODS, *m.HOST_METHODS, *m.ORCHESTRATOR_NOTIFICATIONS, *m.PROVIDER_NOTIFICATIONS]
    assert len(every) == len(set(every))
