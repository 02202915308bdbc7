"""Backoff of provider retries."""

from __future__ import annotations

from amplifier_foundation.orchestrators._provider_call import RETRY_JITTER_FRACTION, RetryPolicy, retry_delay


def test_backoff_doubles_per_attempt_within_jitter_and_stops_at_the_ceiling() -> None:
    policy = RetryPolicy({"retry_base_delay": 1.0, "retry_max_delay": 5.0})
    for attempt, base in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)):
        delay = retry_delay(policy, attempt, None)
        assert base <= delay <= base * (1 + RETRY_JITTER_FRACTION)


def test_a_providers_retry_after_wins_but_never_beyond_the_ceiling() -> None:
    policy = RetryPolicy({"retry_max_delay": 30.0})
    assert retry_delay(policy, 1, 7.5) == 7.5
    assert retry_delay(policy, 1, 0) == 0
    assert retry_delay(policy, 1, 3600) == 30.0


def test_defaults_come_from_the_named_constants() -> None:
    policy = RetryPolicy({})
    assert (policy.max_retries, policy.base_delay, policy.max_delay) == (3, 1.0, 30.0)
