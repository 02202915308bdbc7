"""Vendor failures as ``ProviderError`` (-32004) with ``retryable`` and ``retry_after``.

Rate limits (429), timeouts (408), overload (529) and server errors (5xx) are
worth retrying; a bad request (400), a bad key (401), a forbidden model (403)
or an unknown one (404) fails the same way every time, so it is not.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from amplifier_ipc_protocol.errors import ProviderError

__all__ = [
    "RETRYABLE_STATUSES",
    "is_retryable_status",
    "parse_retry_after",
    "provider_error",
    "http_error",
    "connection_error",
]

RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 529})


def is_retryable_status(status: int | None) -> bool:
    """Whether a failure with this HTTP status may succeed when tried again."""
    if status is None:
        return True  # no answer at all: the network or the server went away
    return status in RETRYABLE_STATUSES or status >= 500


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    if not headers:
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    milliseconds = lowered.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        import email.utils  # only for an HTTP-date Retry-After; 15 ms to import

        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def provider_error(
    message: str,
    *,
    status: int | None,
    retryable: bool,
    retry_after: float | None = None,
    **extra: Any,
) -> ProviderError:
    """The ``ProviderError`` the Host and orchestrator understand."""
    data: dict[str, Any] = {"retryable": retryable, "retry_after": retry_after, "status": status, **extra}
    return ProviderError(message, data=data)


def http_error(
    provider: str,
    status: int | None,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    key_env: str | None = None,
) -> Exception:
    """A vendor's HTTP failure, explained: what happened and what to do."""
    retry_after = parse_retry_after(headers)
    retryable = is_retryable_status(status)
    detail = detail.strip() or "no detail"
    if status == 401:
        hint = f"set {key_env} in the provider service's environment" if key_env else "check the API key"
        message = f"{provider} rejected the API key (401): {detail}. {hint}"
    elif status == 403:
        message = f"{provider} refused the request (403): {detail}. The key may lack access to this model"
    elif status == 404:
        message = f"{provider} does not know this model or endpoint (404): {detail}. Check the model name"
    elif status == 429:
        wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
        message = f"{provider} rate limit reached (429): {detail}{wait}"
    elif status == 529:
        message = f"{provider} is overloaded (529): {detail}; try again shortly"
    elif status is not None and status >= 500:
        message = f"{provider} server error ({status}): {detail}; try again shortly"
    elif status is None:
        message = f"{provider} could not be reached: {detail}"
    else:
        message = f"{provider} rejected the request ({status}): {detail}"
    return provider_error(message, status=status, retryable=retryable, retry_after=retry_after)


def connection_error(provider: str, detail: str, *, timed_out: bool = False) -> Exception:
    """No HTTP answer at all: a refused connection, a reset, or the request timeout."""
    what = "did not answer within the request timeout" if timed_out else "could not be reached"
    return provider_error(
        f"{provider} {what}: {detail}. Check the network and the base URL, then try again",
        status=None,
        retryable=True,
        timed_out=timed_out,
    )
