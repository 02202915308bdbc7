"""Pure helpers of the streaming orchestrator."""

from __future__ import annotations

from amplifier_foundation.orchestrators._messages import apply_injections


def test_an_injection_for_one_call_is_marked_so_readers_can_tell_it_from_the_user() -> None:
    view = apply_injections(
        [{"role": "user", "content": "hi"}],
        [{"text": "<environment/>", "role": "user", "ephemeral": True}],
    )
    assert view[0] == {"role": "user", "content": "hi"}
    assert view[1] == {"role": "user", "content": "<environment/>", "metadata": {"injected": True}}
