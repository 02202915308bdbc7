"""A delegation's services start when the model announces the call (child_spare.py)."""

from __future__ import annotations

import sys

from amplifier_ipc.host import Event, ServiceSpec, SessionConfig

from .conftest import TO_CHILD_SCRIPT, Family, complete, delegate_call, scripted


def spare_watcher(host):
    """Records the spare child's session id as the parent's consumer sees the delegate call start."""
    seen: list[str] = []

    def on_event(event: Event) -> None:
        if event.type == "stream.tool_call_start" and event.data.get("name") == "delegate":
            spare = host.children._spare.host
            if spare is not None:
                seen.append(spare.session_id)

    return seen, on_event


async def test_a_self_delegation_runs_on_the_services_started_when_the_call_was_announced(
    family: Family,
) -> None:
    config = family.config(
        [
            {
                "tool_calls": [
                    delegate_call(
                        "d1", agent="self", instruction="Count.", provider_preferences=TO_CHILD_SCRIPT
                    )
                ]
            },
            {"text": "Done."},
        ],
        ["Three."],
    )
    host = family.host(config)
    seen, on_event = spare_watcher(host)
    events = await family.turn(host, "count", on_event)
    assert complete(events)["response"] == "Done."
    assert len(seen) == 1  # started at the announcement, before the call's arguments were complete
    (child_id,) = family.children_of(host.session_id)
    assert child_id == seen[0]  # the child took the spare (and the id its services were started with)
    assert complete(events, child_id)["status"] == "completed"
    assert host.children._spare.host is None


async def test_a_spare_that_does_not_fit_the_delegation_is_torn_down_and_leaves_no_session(
    family: Family,
) -> None:
    named_script = family.write("named.yaml", ["Named agent reporting."])

    def resolve(agent: str) -> SessionConfig | None:
        return SessionConfig(
            services=[
                ServiceSpec(
                    name="foundation",
                    command=[sys.executable, "-m", "amplifier_foundation"],
                    config={"status_context": {"git": False, "date": False}},
                ),
                scripted("providers", named_script, family.root / "child.jsonl"),
            ],
            orchestrator="foundation:streaming",
            context_manager="foundation:simple",
            provider="providers:scripted",
            agent=agent,
        )

    config = family.config(
        [{"tool_calls": [delegate_call("d1", agent="auditor", instruction="Audit.")]}, {"text": "Audited."}]
    )
    host = family.host(config, resolve_agent=resolve)
    seen, on_event = spare_watcher(host)
    events = await family.turn(host, "audit", on_event)
    assert complete(events)["response"] == "Audited."
    assert len(seen) == 1
    (child_id,) = family.children_of(host.session_id)
    assert child_id != seen[0] and child_id.endswith("_auditor")
    assert not (family.sessions / seen[0]).exists()  # the unused spare's folder is gone
    assert host.children._spare.host is None
    # (the fixture checks that no process of the spare is left)
