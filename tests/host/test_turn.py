"""One turn through real services: events, routing, system prompt, persistence."""

from __future__ import annotations

import json


async def test_a_turn_yields_turn_start_tokens_and_complete_with_the_response(kit):
    host = kit.host(kit.config([{"text": "hello there"}]))
    events = await kit.turn(host, "say hello")
    assert events[0].type == "turn_start"
    assert events[0].data["services"] == ["core", "provider", "tools"]
    tokens = "".join(e.data["text"] for e in kit.of_type(events, "stream.token"))
    assert tokens.split() == ["hello", "there"]
    done = kit.complete(events)
    assert done["status"] == "completed"
    assert done["response"] == "hello there"
    assert done["usage"] == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    assert {"services_ms", "prepare_ms", "execute_ms", "teardown_ms", "total_ms"} <= set(done["timings"])
    assert all(e.session_id == host.session_id for e in events)


def call(call_id: str, name: str, **arguments):
    return {"id": call_id, "name": name, "arguments": arguments}


async def test_tool_calls_are_routed_to_their_service_and_results_reach_the_model(kit):
    steps = [{"tool_calls": [call("c1", "echo", text="ping")]}, {"text": "done"}]
    host = kit.host(kit.config(steps))
    events = await kit.turn(host)
    assert kit.complete(events)["response"] == "done"
    results = kit.of_type(events, "tool_result")
    assert [(r.data["name"], r.data["success"], r.data["output"]) for r in results] == [
        ("echo", True, "ping")
    ]
    second = kit.provider_requests()[1]["messages"]
    assert second[-1] == {
        "role": "tool",
        "tool_call_id": "c1",
        "name": "echo",
        "content": "ping",
        "metadata": {"success": True},
    }


async def test_parallel_tool_calls_run_at_once_within_one_service(kit):
    # each call returns only once both run at the same time in the tools process
    steps = [
        {"tool_calls": [call("a", "meet", key="k", n=2), call("b", "meet", key="k", n=2)]},
        {"text": "ok"},
    ]
    host = kit.host(kit.config(steps))
    events = await kit.turn(host)
    outputs = sorted(r.data["output"] for r in kit.of_type(events, "tool_result"))
    assert outputs == ["met 2", "met 2"]


async def test_parallel_tool_calls_run_at_once_across_services(kit):
    # each call returns only once the other process has started its call too
    meeting = kit.root / "meeting"
    meeting.mkdir()
    other = kit.service("tools2", "tsvc_tools", {"toolbox": {"prefix": "b_"}})
    steps = [
        {
            "tool_calls": [
                call("a", "meet_file", dir=str(meeting), n=2),
                call("b", "b_meet_file", dir=str(meeting), n=2),
            ]
        },
        {"text": "ok"},
    ]
    host = kit.host(kit.config(steps, extra=[other]))
    events = await kit.turn(host)
    results = kit.of_type(events, "tool_result")
    assert sorted(r.data["name"] for r in results) == ["b_meet_file", "meet_file"]
    assert all(r.data["output"] == "met 2 across processes" for r in results)


async def test_the_system_prompt_holds_the_selected_content_and_reaches_the_provider(kit):
    (kit.workdir / "notes.md").write_text("LOCAL-NOTES-MARKER")
    config = kit.config(
        system_prompt="You are careful. See @notes.md and @missing/file.md.",
        content=["core:context/core.md"],
    )
    host = kit.host(config)
    events = await kit.turn(host)
    system = kit.provider_requests()[0]["system"]
    assert system.startswith("You are careful.")
    assert "LOCAL-NOTES-MARKER" in system
    assert "You are the test agent." in system
    assert "EXTRA-CONTEXT-MARKER" in system  # a mention inside a mentioned file
    assert system.count("You are the test agent.") == 1  # core.md mentions itself: included once
    assert "UNSELECTED-MARKER" not in system
    warnings = [e.data["message"] for e in kit.of_type(events, "warning")]
    assert any("missing/file.md" in w for w in warnings)


async def test_content_over_the_size_cap_is_left_out_with_a_warning(kit):
    from amplifier_ipc.host import HostLimits

    (kit.workdir / "big.md").write_text("B" * 5000)
    host = kit.host(
        kit.config(content=["@big.md"]),
        limits=HostLimits(max_system_prompt_bytes=1000, shutdown_grace=1.0, term_grace=1.0),
    )
    events = await kit.turn(host)
    assert "BBBB" not in kit.provider_requests()[0]["system"]
    assert any(
        "big.md" in e.data["message"] and "1000" in e.data["message"] for e in kit.of_type(events, "warning")
    )


async def test_the_orchestrator_gets_tools_provider_info_and_the_model_and_the_provider_gets_the_model(kit):
    host = kit.host(kit.config(model="mock-large", with_tools=True, tools={"only": ["echo"]}))
    await kit.turn(host)
    request = kit.provider_requests()[0]
    assert request["model"] == "mock-large"
    assert [t["name"] for t in request["tools"]] == ["echo"]
    assert request["tools"][0]["parameters"]["required"] == ["text"]
    assert request["metadata"]["provider_info"]["id"] == "mock"


async def test_a_service_sees_only_the_base_environment_and_what_it_may_see(kit, monkeypatch):
    monkeypatch.setenv("SECRET_API_KEY", "s3cret")
    monkeypatch.setenv("ALLOWED_VAR", "yes")
    config = kit.config([{"tool_calls": [call("e", "environment")]}, {"text": "ok"}])
    tools = next(s for s in config.services if s.name == "tools")
    tools.env_allow = ["ALLOWED_VAR"]
    host = kit.host(config)
    await kit.turn(host)
    result = json.loads(kit.provider_requests()[1]["messages"][-1]["content"])
    env = result["env"]
    assert "SECRET_API_KEY" not in env
    assert env["ALLOWED_VAR"] == "yes"
    assert env["AMPLIFIER_SESSION_ID"] == host.session_id
    assert set(env) <= {
        "PATH",
        "HOME",
        "LANG",
        "TERM",
        "TMPDIR",
        "AMPLIFIER_HOME",
        "AMPLIFIER_SESSION_ID",
        "ALLOWED_VAR",
        "PYTHONPATH",
        "TSVC_NAME",
        "LC_CTYPE",
    }
    assert result["cwd"] == str(kit.workdir)


async def test_two_services_offering_one_tool_is_an_error_naming_both(kit):
    second = kit.config().services[2]
    second.name = "tools2"
    second.env["TSVC_NAME"] = "tools2"
    host = kit.host(kit.config(extra=[second]))
    events = await kit.turn(host)
    error = kit.of_type(events, "error")[0].data
    assert "tool echo is offered by both tools and tools2" in error["message"]
    assert "tool_conflicts" in error["hint"]
    assert kit.complete(events)["status"] == "failed"
    assert kit.provider_requests() == []


async def test_tool_conflicts_names_the_service_that_wins_a_clash(kit):
    second = kit.config().services[2]
    second.name = "tools2"
    second.env["TSVC_NAME"] = "tools2"
    steps = [{"tool_calls": [call("c", "environment")]}, {"text": "ok"}]
    host = kit.host(kit.config(steps, extra=[second], tool_conflicts={"environment": "tools2"}))
    # every other tool still clashes
    events = await kit.turn(host)
    assert "offered by both" in kit.of_type(events, "error")[0].data["message"]
    only = {"only": ["environment"]}
    first, second = kit.config(tools=only).services[2], kit.config(tools=only).services[2]
    second.name = "tools2"
    second.env["TSVC_NAME"] = "tools2"
    base = kit.config(
        steps, with_tools=False, extra=[first, second], tool_conflicts={"environment": "tools2"}
    )
    host = kit.host(base)
    await kit.turn(host)
    result = json.loads(kit.provider_requests()[-1]["messages"][-1]["content"])
    assert result["env"]["TSVC_NAME"] == "tools2"
