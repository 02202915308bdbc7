"""Forking a single-shot run's first services before the Host is imported.

A single-shot ``amplifier-ipc run`` spends about 50 ms (2 cores) importing
asyncio and the Host after it has resolved the session config. The services
the turn will start at once are known by then, so the CLI has them forked from
the fork server (``start``: in a thread that first waits for the fork server to
finish its own imports), and they import and discover their components while
the CLI imports the Host. The Host adopts each when it would start a
service with exactly that command, working directory and environment
(process.py); any it does not take are ended at exit. Only cheap imports here.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence

from . import describe_cache, forkserver
from .config import SessionConfig
from .service_env import build_env

__all__ = ["start"]


def start(config: SessionConfig) -> SessionConfig:
    """Fork the services ``config``'s turn starts at once; returns ``config``
    with the session id their environment carries (a new one if it had none)."""
    if forkserver.shared() is None:
        return config  # the Host starts them as usual
    if config.session_id is None:
        config = dataclasses.replace(config, session_id=str(uuid.uuid4()))
    assert config.session_id is not None
    jobs: list[tuple[Sequence[str], str, str, Mapping[str, str]]] = []
    for spec in config.services:
        cached = describe_cache.load(spec)
        if cached is not None and describe_cache.is_deferrable(cached.capabilities, config.provider):
            continue  # started when first needed, or never: not now
        cwd = str(spec.working_dir or config.working_dir)
        jobs.append((spec.command, spec.name, cwd, build_env(spec, config.session_id)))
    forkserver.start_early_in_background(jobs)
    return config
