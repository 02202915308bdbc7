"""One turn through the real Host: the foundation orchestrator and context
manager (dev venv) with the `local` provider (its own venv), offline."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from amplifier_ipc.host import events as ev
from amplifier_ipc.host.config import ServiceSpec, SessionConfig
from amplifier_ipc.host.host import Host


async def test_a_turn_answers_with_the_local_model_and_streams_its_tokens(
    serve_command: list[str], tmp_path: Path
) -> None:
    foundation = shutil.which("amplifier-foundation-serve", path=str(Path(sys.executable).parent))
    assert foundation is not None, "the dev venv has amplifier-foundation-serve"
    config = SessionConfig(
        services=[
            ServiceSpec(name="foundation", command=[foundation]),
            ServiceSpec(
                name="local",
                command=serve_command,
                config={
                    "local": {"max_output_tokens": 24, "seed": 3, "prompt_cache_dir": str(tmp_path / "cache")}
                },
            ),
        ],
        orchestrator="foundation:streaming",
        context_manager="foundation:simple",
        provider="local:local",
        working_dir=tmp_path,
        sessions_dir=tmp_path / "sessions",
        approval_mode="deny",
    )
    host = Host(config, interactive=False)
    try:
        events = [event async for event in host.run("Say hello in a few words.")]
    finally:
        await host.close()
    complete = events[-1]
    assert complete.type == ev.COMPLETE, [
        e.to_json() for e in events if e.type in (ev.ERROR, ev.SERVICE_ERROR)
    ]
    assert complete.data["status"] == "completed"
    streamed = "".join(e.data["text"] for e in events if e.type == ev.TOKEN)
    assert streamed.strip()
    assert complete.data["response"].strip() == streamed.strip()
    assert complete.data["usage"]["input_tokens"] > 100, "the agent's system prompt reached the model"
