"""Error codes map one-to-one to exception classes (PROTOCOL §7)."""

from __future__ import annotations

import pytest
from amplifier_ipc_protocol import errors as e


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (-32700, e.ParseError),
        (-32600, e.InvalidRequest),
        (-32601, e.MethodNotFound),
        (-32602, e.InvalidParams),
        (-32603, e.InternalError),
        (-32000, e.ServiceGone),
        (-32001, e.RequestTimeout),
        (-32002, e.RequestCancelled),
        (-32003, e.ComponentNotFound),
        (-32004, e.ProviderError),
    ],
)
def test_each_code_becomes_its_own_exception_class_and_back(code: int, cls: type[e.ProtocolError]) -> None:
    error = e.error_from_wire({"code": code, "message": "m", "data": {"service": "s"}})
    assert type(error) is cls
    assert error.code == code
    assert error.to_wire() == {"code": code, "message": "m", "data": {"service": "s", "type": cls.__name__}}


def test_error_data_always_carries_the_type() -> None:
    assert e.InvalidParams("bad").to_wire()["data"] == {"type": "InvalidParams"}


def test_an_unknown_code_is_kept_on_a_generic_protocol_error() -> None:
    error = e.error_from_wire({"code": 42, "message": "odd"})
    assert type(error) is e.ProtocolError
    assert error.code == 42


def test_data_that_is_not_an_object_is_kept_under_detail() -> None:
    assert e.error_from_wire({"code": -32603, "message": "m", "data": [1]}).data["detail"] == [1]


def test_a_malformed_error_object_is_an_internal_error_that_shows_it() -> None:
    error = e.error_from_wire("boom")
    assert isinstance(error, e.InternalError)
    assert "'boom'" in error.message


def test_a_provider_error_says_whether_to_retry_and_when() -> None:
    error = e.ProviderError("rate limited", data={"retryable": True, "retry_after": 2, "status": 429})
    assert error.retryable
    assert error.retry_after == 2.0
    assert not e.ProviderError("bad key").retryable
    assert e.ProviderError("bad key").retry_after is None
