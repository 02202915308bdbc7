"""The Server answers every method of PROTOCOL §4 (in process, over real pipes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from amplifier_ipc_protocol.errors import (
    ComponentNotFound,
    InternalError,
    InvalidParams,
    RequestCancelled,
)
from protocol_testkit import DEADLINE_S, InProcessService, make_package, serve_in_process, wait_until


@pytest.fixture
async def svc() -> AsyncIterator[InProcessService]:
    async def tool_execute(params: dict[str, Any]) -> dict[str, Any]:
        return {"success": True, "output": f"host ran {params['name']} with {params['input']}", "error": None}

    service = await serve_in_process("sample_svc", {"request.tool_execute": tool_execute})
    try:
        yield service
    finally:
        await service.close()


async def test_describe_lists_every_component_with_its_shape(svc: InProcessService) -> None:
    described = await svc.call("describe")
    assert described["name"] == "sample-svc"
    assert described["protocol_version"] == 1
    caps = described["capabilities"]
    assert caps["tools"] == [
        {
            "name": "echo",
            "description": "Echo the text back.",
            "input_schema": {
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
            },
        },
        {
            "name": "add",
            "description": "Add two numbers.",
            "input_schema": {
                "type": "object",
                "properties": {
                    "a": {"type": "integer", "description": "the first number"},
                    "b": {"type": "integer", "description": "the second number", "default": 2},
                },
                "required": ["a"],
                "additionalProperties": False,
            },
        },
    ]
    assert caps["hooks"] == [{"name": "audit", "events": ["tool:pre"], "priority": 5}]
    assert caps["providers"] == [{"name": "fake"}]
    assert caps["orchestrators"] == [{"name": "loop"}]
    assert caps["context_managers"] == [{"name": "memory"}]
    assert caps["content"] == {"paths": ["context/sample.md"]}


async def test_tool_execute_runs_class_and_function_tools(svc: InProcessService) -> None:
    assert await svc.call("tool.execute", {"name": "echo", "input": {"text": "hi"}}) == {
        "success": True,
        "output": "hi",
        "error": None,
    }
    assert (await svc.call("tool.execute", {"name": "add", "input": {"a": 1}}))["output"] == 3


async def test_invalid_tool_input_is_invalid_params_naming_the_field(svc: InProcessService) -> None:
    with pytest.raises(
        InvalidParams, match=r"invalid input for tool echo: input\.text: is required"
    ) as caught:
        await svc.call("tool.execute", {"name": "echo", "input": {}})
    assert caught.value.data["field"] == "input.text"
    with pytest.raises(InvalidParams, match=r"input\.a: expected integer, got string"):
        await svc.call("tool.execute", {"name": "add", "input": {"a": "1"}})
    with pytest.raises(InvalidParams, match=r"input\.c: is not an allowed property"):
        await svc.call("tool.execute", {"name": "add", "input": {"a": 1, "c": 2}})
    with pytest.raises(InvalidParams, match="input for tool echo must be an object"):
        await svc.call("tool.execute", {"name": "echo", "input": "text"})


async def test_an_unknown_tool_is_component_not_found_listing_the_tools(svc: InProcessService) -> None:
    with pytest.raises(ComponentNotFound, match=r"no tool named 'nope' \(it has: echo, add\)"):
        await svc.call("tool.execute", {"name": "nope", "input": {}})


async def test_a_tool_that_raises_returns_a_failed_tool_result(svc: InProcessService) -> None:
    result = await svc.call("tool.execute", {"name": "echo", "input": {"text": "fail"}})
    assert result == {
        "success": False,
        "output": None,
        "error": {"message": "RuntimeError: the tool failed on purpose", "type": "RuntimeError"},
    }


async def test_a_tool_reads_and_writes_session_state_through_the_host(svc: InProcessService) -> None:
    result = await svc.call("tool.execute", {"name": "echo", "input": {"text": "state"}})
    assert svc.state["echo"]["pid"] > 0
    assert result["output"] == str(svc.state["echo"])


async def test_hook_emit_with_a_name_runs_that_hook(svc: InProcessService) -> None:
    result = await svc.call("hook.emit", {"event": "tool:pre", "data": {"name": "x"}, "name": "audit"})
    assert result == {"action": "MODIFY", "data": {"name": "x", "audited": True}}
    denied = await svc.call(
        "hook.emit", {"event": "tool:pre", "data": {"name": "forbidden"}, "name": "audit"}
    )
    assert denied == {"action": "DENY", "reason": "forbidden tool"}


async def test_hook_emit_without_a_name_runs_every_hook_for_the_event(svc: InProcessService) -> None:
    assert await svc.call("hook.emit", {"event": "tool:pre", "data": {"name": "x"}}) == {
        "action": "MODIFY",
        "data": {"name": "x", "audited": True},
    }
    assert await svc.call("hook.emit", {"event": "session:start", "data": {"session_id": "s"}}) == {
        "action": "CONTINUE",
        "data": {"session_id": "s"},
    }
    with pytest.raises(ComponentNotFound, match="no hook named 'nope'"):
        await svc.call("hook.emit", {"event": "tool:pre", "data": {}, "name": "nope"})


async def test_the_context_manager_methods_keep_and_return_the_history(svc: InProcessService) -> None:
    user = {"role": "user", "content": "one"}
    assert await svc.call("context.add_message", {"message": user}) == {"ok": True}
    assert await svc.call("context.get_messages", {}) == {"messages": [user]}
    replaced = [{"role": "user", "content": str(n)} for n in range(3)]
    await svc.call("context.set_messages", {"messages": replaced})
    await svc.call("configure", {"config": {"memory": {"keep": 2}}})
    assert await svc.call("context.get_messages", {"provider_info": {}}) == {"messages": replaced[-2:]}
    assert await svc.call("context.clear") == {"ok": True}
    assert await svc.call("context.get_messages") == {"messages": []}
    with pytest.raises(InvalidParams, match=r"context.add_message needs message"):
        await svc.call("context.add_message", {})


async def test_describe_with_config_configures_before_listing(svc: InProcessService) -> None:
    await svc.call("describe", {"config": {"memory": {"keep": 1}}})
    for n in range(2):
        await svc.call("context.add_message", {"message": {"role": "user", "content": str(n)}})
    assert await svc.call("context.get_messages") == {"messages": [{"role": "user", "content": "1"}]}


async def test_configure_with_an_unknown_component_is_invalid_params_naming_it(svc: InProcessService) -> None:
    with pytest.raises(
        InvalidParams, match=r"has no component named ghost \(its components: add, audit, echo"
    ):
        await svc.call("configure", {"config": {"ghost": {}}})
    with pytest.raises(InvalidParams, match="config for memory must be an object"):
        await svc.call("configure", {"config": {"memory": 3}})
    with pytest.raises(InvalidParams, match="configure needs"):
        await svc.call("configure", {"config": []})


async def test_provider_complete_streams_tokens_tagged_with_the_request_id(svc: InProcessService) -> None:
    request_id = svc.host._next_id
    response = await svc.call(
        "provider.complete",
        {"request": {"messages": [{"role": "user", "content": "two words"}]}, "provider": "fake"},
    )
    assert response == {
        "content": [{"type": "text", "text": "two words"}],
        "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
    }
    await wait_until(lambda: len(svc.notifications) == 2, "two tokens")
    assert svc.notifications == [
        ("stream.provider.token", {"text": "two", "request_id": request_id}),
        ("stream.provider.token", {"text": "words", "request_id": request_id}),
    ]


async def test_provider_complete_refuses_an_invalid_chat_request(svc: InProcessService) -> None:
    with pytest.raises(InvalidParams, match="invalid chat request"):
        await svc.call("provider.complete", {"request": {"messages": [{"role": "robot"}]}})
    with pytest.raises(InvalidParams, match="needs a request object"):
        await svc.call("provider.complete", {})
    with pytest.raises(ComponentNotFound, match=r"no provider named 'other' \(it has: fake\)"):
        await svc.call("provider.complete", {"request": {"messages": []}, "provider": "other"})


async def test_provider_info_is_the_providers_answer(svc: InProcessService) -> None:
    info = await svc.call("provider.info", {})
    assert info["id"] == "fake" and info["models"] == ["fake-1"]


async def test_orchestrator_execute_passes_every_field_of_the_turn(svc: InProcessService) -> None:
    result = await svc.call(
        "orchestrator.execute",
        {
            "prompt": "echo",
            "system_prompt": "sys",
            "session_id": "s1",
            "config": {"model": "m"},
            "tools": [{"name": "echo", "description": "", "input_schema": {"type": "object"}}],
            "provider_info": {"id": "fake"},
        },
    )
    assert result == {"response": "echo|sys|s1|{'model': 'm'}|['echo']|{'id': 'fake'}"}
    with pytest.raises(InvalidParams, match="needs a prompt string"):
        await svc.call("orchestrator.execute", {})


async def test_the_orchestrator_calls_the_host_while_the_service_answers_other_requests(
    svc: InProcessService,
) -> None:
    assert await svc.call("orchestrator.execute", {"prompt": "tool"}) == {
        "response": "host ran echo with {'text': 'via host'}"
    }


async def test_a_graceful_cancel_lets_the_orchestrator_stop_at_its_next_safe_point(
    svc: InProcessService,
) -> None:
    request_id = svc.host._next_id
    turn = asyncio.ensure_future(svc.call("orchestrator.execute", {"prompt": "wait"}))
    await wait_until(lambda: ("stream.token", {"text": "working"}) in svc.notifications, "turn start")
    assert await svc.call("ping") == {}
    svc.host.notify_nowait("cancel", {"id": request_id, "graceful": True})
    assert await turn == {"response": "stopped gracefully"}


async def test_an_immediate_cancel_answers_cancelled_after_the_orchestrator_cleans_up(
    svc: InProcessService,
) -> None:
    request_id = svc.host._next_id
    turn = asyncio.ensure_future(svc.call("orchestrator.execute", {"prompt": "wait"}))
    await wait_until(lambda: ("stream.token", {"text": "working"}) in svc.notifications, "turn start")
    svc.host.notify_nowait("cancel", {"id": request_id, "reason": "user"})
    with pytest.raises(RequestCancelled):
        await turn
    assert svc.state["loop.cancelled"] is True


async def test_content_is_read_and_listed_and_traversal_is_refused(svc: InProcessService) -> None:
    assert (await svc.call("content.read", {"path": "context/sample.md"}))["content"].strip()
    assert await svc.call("content.list", {"prefix": "context/"}) == {"paths": ["context/sample.md"]}
    with pytest.raises(InvalidParams, match=r"'\.\.'"):
        await svc.call("content.read", {"path": "context/../__init__.py"})


async def test_ping_answers_an_empty_object(svc: InProcessService) -> None:
    assert await svc.call("ping") == {}


async def test_the_shutdown_notification_ends_serving() -> None:
    service = await serve_in_process("sample_svc")
    await service.host.notify("shutdown")
    await asyncio.wait_for(service.serving, DEADLINE_S)
    await service.host.close()


async def test_describe_of_a_package_with_a_broken_module_is_an_error_naming_it(tmp_path: Path) -> None:
    package = make_package(tmp_path, {"tools/broken.py": "raise RuntimeError('cannot start')\n"})
    service = await serve_in_process(package)
    try:
        with pytest.raises(
            InternalError,
            match=rf"module {package}.tools.broken failed to import: RuntimeError: cannot start",
        ):
            await service.call("describe")
    finally:
        await service.close()


async def test_components_are_imported_before_the_first_request_and_only_once(tmp_path: Path) -> None:
    """A service started ahead of its turn (pre-spawn, the CLI's early fork)
    imports its components while it waits, so describe finds them loaded."""
    imports = tmp_path / "imports.log"
    package = make_package(
        tmp_path,
        {
            "tools/counted.py": f"""
                with open({str(imports)!r}, "a") as log:
                    log.write("imported\\n")

                from amplifier_ipc_protocol import tool

                @tool
                async def counted() -> str:
                    \"\"\"Says so.\"\"\"
                    return "counted"
            """,
        },
    )
    service = await serve_in_process(package)
    try:
        await wait_until(imports.exists, "the components imported before any request")
        described = await service.call("describe")
        await service.call("describe")
        assert [t["name"] for t in described["capabilities"]["tools"]] == ["counted"]
        assert imports.read_text() == "imported\n"
    finally:
        await service.close()


async def test_a_broken_module_is_imported_once_and_every_describe_names_it(tmp_path: Path) -> None:
    imports = tmp_path / "imports.log"
    broken = f"with open({str(imports)!r}, 'a') as log:\n    log.write('tried\\n')\nraise RuntimeError('cannot start')\n"
    package = make_package(tmp_path, {"tools/broken.py": broken})
    service = await serve_in_process(package)
    try:
        for _ in range(2):
            with pytest.raises(
                InternalError, match=r"tools.broken failed to import: RuntimeError: cannot start"
            ):
                await service.call("describe")
        assert imports.read_text() == "tried\n"
    finally:
        await service.close()


TOOL_SET = """
from amplifier_ipc_protocol import tool

@tool
class Remote:
    def __init__(self):
        self.calls = []

    def list_tools(self):
        names = self.config.get("names", ["one"])
        return [{"name": n, "description": n, "input_schema": {"type": "object", "properties": {}}} for n in names]

    async def execute(self, input, *, name):
        return f"{name} ran"

@tool(description="Given by the decorator.")
class Plain:
    input_schema = {"type": "object", "properties": {}}
    async def execute(self, input):
        return "plain"
"""


async def test_a_tool_set_lists_tools_that_depend_on_config_and_runs_them_by_name(tmp_path: Path) -> None:
    package = make_package(tmp_path, {"tools/remote.py": TOOL_SET})
    service = await serve_in_process(package)
    try:
        described = await service.call("describe", {"config": {"remote": {"names": ["a", "b"]}}})
        tools = described["capabilities"]["tools"]
        assert [t["name"] for t in tools] == ["a", "b", "plain"]
        assert tools[2]["description"] == "Given by the decorator."
        assert (await service.call("tool.execute", {"name": "b", "input": {}}))["output"] == "b ran"
    finally:
        await service.close()


async def test_a_tool_set_listing_a_tool_twice_is_a_describe_error(tmp_path: Path) -> None:
    package = make_package(tmp_path, {"tools/remote.py": TOOL_SET})
    service = await serve_in_process(package)
    try:
        with pytest.raises(InternalError, match="lists tool 'plain' twice"):
            await service.call("describe", {"config": {"remote": {"names": ["plain"]}}})
    finally:
        await service.close()


RAW_PROVIDER = """
from amplifier_ipc_protocol import provider

@provider(raw_request=True)
class Raw:
    name = "raw"

    async def complete(self, request):
        return {"content": [{"type": "text", "text": f"{type(request).__name__} {sorted(request)}"}]}
"""


async def test_a_raw_request_provider_gets_the_wire_object_checked_only_for_shape(tmp_path: Path) -> None:
    package = make_package(tmp_path, {"providers/raw.py": RAW_PROVIDER})
    service = await serve_in_process(package)
    try:
        request = {"messages": [{"role": "user", "content": "hi", "x-extra": 1}], "vendor_field": True}
        answer = await service.call("provider.complete", {"request": request, "provider": "raw"})
        assert answer["content"][0]["text"] == "dict ['messages', 'vendor_field']"
        with pytest.raises(InvalidParams, match=r"'messages' must be a list"):
            await service.call("provider.complete", {"request": {"messages": "hi"}})
        with pytest.raises(InvalidParams, match=r"messages\[1\] must be an object with a string 'role'"):
            await service.call("provider.complete", {"request": {"messages": [{"role": "user"}, {}]}})
        with pytest.raises(InvalidParams, match=r"'tools' must be a list of objects with a string 'name'"):
            await service.call("provider.complete", {"request": {"messages": [], "tools": [{"x": 1}]}})
    finally:
        await service.close()


WARNING_COMPONENTS = """
from amplifier_ipc_protocol import tool

@tool
class Partial:
    name = "partial"
    description = "A tool set that works only in part."
    input_schema = {"type": "object"}

    def warnings(self):
        return ["server b did not start"]

    async def execute(self, input):
        return "ok"

@tool
class AsyncPartial:
    name = "async_partial"
    description = "Reports its warnings asynchronously."
    input_schema = {"type": "object"}

    async def warnings(self):
        return ["cache disabled"]

    async def execute(self, input):
        return "ok"
"""


async def test_describe_carries_the_warnings_components_report_and_none_when_there_are_none(
    tmp_path: Path, svc: InProcessService
) -> None:
    assert "warnings" not in await svc.call("describe")
    package = make_package(tmp_path, {"tools/partial.py": WARNING_COMPONENTS})
    service = await serve_in_process(package)
    try:
        described = await service.call("describe")
    finally:
        await service.close()
    assert sorted(described["warnings"]) == ["cache disabled", "server b did not start"]
