"""Every async test runs on the loop the Host and the services run on
(``amplifier_ipc_protocol.loops``: uvloop, unless AMPLIFIER_IPC_LOOP=asyncio)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def pytest_asyncio_loop_factories(config: Any, item: Any) -> Mapping[str, Callable[[], Any]]:
    from amplifier_ipc_protocol.loops import loop_factory

    factory = loop_factory()
    return {factory.__module__.split(".")[0]: factory}
