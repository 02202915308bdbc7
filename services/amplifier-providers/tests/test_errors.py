"""Classifying vendor failures and reading their retry hints."""

from __future__ import annotations

import email.utils
import time

import pytest
from amplifier_providers.errors import http_error, is_retryable_status, parse_retry_after


@pytest.mark.parametrize("status", [408, 409, 425, 429, 500, 502, 503, 504, 529, None])
def test_transient_statuses_are_retryable(status: int | None) -> None:
    assert is_retryable_status(status) is True


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_request_and_key_errors_are_not_retryable(status: int) -> None:
    assert is_retryable_status(status) is False


def test_retry_after_reads_milliseconds_seconds_and_http_dates() -> None:
    assert parse_retry_after({"Retry-After-Ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "12"}) == 12.0
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 20 < (parse_retry_after({"retry-after": later}) or 0) <= 30
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after(None) is None


def test_a_401_names_the_key_variable_and_a_429_the_wait() -> None:
    unauthorized = http_error("anthropic", 401, "invalid x-api-key", key_env="ANTHROPIC_API_KEY")
    assert "set ANTHROPIC_API_KEY in the provider service's environment" in unauthorized.message
    limited = http_error("openai", 429, "slow down", headers={"retry-after": "4"})
    assert limited.message.endswith("retry after 4 s") and limited.data["retry_after"] == 4.0
