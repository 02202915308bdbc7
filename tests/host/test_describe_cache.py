"""The describe cache (describe_cache.py): services that need no process at run time are not started."""

from __future__ import annotations

import json

from amplifier_ipc.host import describe_cache
from amplifier_ipc.host.describe_cache import CachedDescribe

# PYTHONPATH for a service that cannot start: if the Host starts it, the turn fails.
UNSTARTABLE = {"PYTHONPATH": "/nonexistent-amplifier-test-path"}


def call(call_id: str, name: str, **arguments):
    return {"id": call_id, "name": name, "arguments": arguments}


def cached(kit, spec, fingerprint: str = "install-1"):
    spec.describe_cache = kit.root / "cache"
    spec.describe_cache.mkdir(exist_ok=True)
    spec.fingerprint = fingerprint
    return spec


def content_config(kit, *, env=None, **fields):
    docs = cached(kit, kit.service("docs", "tsvc_content"))
    if env:
        docs.env.update(env)
    return kit.config([{"text": "ok"}], extra=[docs], content=["docs:context/notes.md"], **fields)


async def test_a_content_only_service_is_started_once_then_served_from_the_cache(kit):
    first = kit.host(content_config(kit))
    events = await kit.turn(first)
    assert kit.complete(events)["status"] == "completed"
    assert "docs" in first.router.services  # not cached yet: started and described
    assert "pelican" in json.dumps(kit.provider_requests()[-1])

    # The same service, now unable to start: the turn still has its content.
    second = kit.host(content_config(kit, env=UNSTARTABLE))
    events = await kit.turn(second)
    assert kit.complete(events)["status"] == "completed", kit.of_type(events, "error")
    assert "docs" not in second.router.services
    assert not kit.of_type(events, "service_error")
    assert "pelican" in json.dumps(kit.provider_requests()[-1])


async def test_a_tool_only_service_starts_only_when_the_model_first_calls_one_of_its_tools(kit):
    def config(steps):
        tools = cached(kit, kit.service("tools", "tsvc_tools"))
        return kit.config(steps, with_tools=False, extra=[tools])

    first = kit.host(config([{"text": "no tools"}]))
    assert kit.complete(await kit.turn(first))["status"] == "completed"
    assert "tools" in first.router.services  # the cache was empty

    quiet = kit.host(config([{"text": "no tools"}]))
    events = await kit.turn(quiet)
    assert kit.complete(events)["status"] == "completed"
    assert "tools" not in quiet.router.services  # offered to the model, never started
    offered = kit.provider_requests()[-1]
    assert "echo" in json.dumps(offered)

    busy = kit.host(config([{"tool_calls": [call("c1", "echo", text="ping")]}, {"text": "done"}]))
    events = await kit.turn(busy)
    assert kit.complete(events)["status"] == "completed"
    assert "tools" in busy.router.services  # started by the call, torn down with the turn
    results = kit.of_type(events, "tool_result")
    assert results and "ping" in json.dumps(results[0].data)


async def test_a_deferred_service_that_cannot_start_fails_the_tool_call_with_a_clear_error(kit):
    def config(env=None):
        tools = cached(kit, kit.service("tools", "tsvc_tools", **(env or {})))
        steps = [{"tool_calls": [call("c1", "echo", text="ping")]}, {"text": "done"}]
        return kit.config(steps, with_tools=False, extra=[tools])

    assert kit.complete(await kit.turn(kit.host(config())))["status"] == "completed"
    broken = kit.host(config(UNSTARTABLE))
    events = await kit.turn(broken)
    errors = kit.of_type(events, "service_error")
    assert errors and errors[0].data["service"] == "tools"
    assert "tools" in errors[0].data["error"]
    results = kit.of_type(events, "tool_result")
    assert results and "tools" in json.dumps(results[0].data)


async def test_a_changed_config_or_a_reinstalled_environment_is_described_again(kit):
    def config(prefix: str, fingerprint: str = "install-1", env=None):
        tools = cached(kit, kit.service("tools", "tsvc_tools", {"toolbox": {"prefix": prefix}}), fingerprint)
        tools.env.update(env or {})
        return kit.config([{"text": "ok"}], with_tools=False, extra=[tools])

    assert kit.complete(await kit.turn(kit.host(config("a_"))))["status"] == "completed"
    warm = kit.host(config("a_", env=UNSTARTABLE))
    assert kit.complete(await kit.turn(warm))["status"] == "completed"
    assert "tools" not in warm.router.services

    changed = kit.host(config("b_"))  # new config: not in the cache, so started and described
    events = await kit.turn(changed)
    assert kit.complete(events)["status"] == "completed"
    assert "tools" in changed.router.services
    assert "b_echo" in json.dumps(kit.provider_requests()[-1])

    reinstalled = kit.host(config("a_", fingerprint="install-2"))
    events = await kit.turn(reinstalled)
    assert kit.complete(events)["status"] == "completed"
    assert "tools" in reinstalled.router.services


async def test_the_service_of_the_selected_provider_always_starts_with_the_turn(kit):
    config = kit.config([{"text": "ok"}])
    cached(kit, config.services[1])
    config.provider = "mock"
    assert kit.complete(await kit.turn(kit.host(config)))["status"] == "completed"
    again = kit.host(config)
    assert kit.complete(await kit.turn(again))["status"] == "completed"
    assert "provider" in again.router.services


def test_a_damaged_cache_entry_is_a_miss_not_an_error(kit):
    spec = cached(kit, kit.service("tools", "tsvc_tools"))
    describe_cache.store(spec, CachedDescribe({"name": "x", "capabilities": {}}, {}))
    assert describe_cache.load(spec) is not None
    path = describe_cache.cache_path(spec)
    assert path is not None
    path.write_text("{not json")
    assert describe_cache.load(spec) is None


def test_a_spec_without_a_cache_folder_or_fingerprint_is_never_cached(kit):
    spec = kit.service("tools", "tsvc_tools")
    assert describe_cache.cache_path(spec) is None
    spec.describe_cache = kit.root
    assert describe_cache.cache_path(spec) is None  # no fingerprint: nothing says what is installed


def test_only_services_without_hooks_orchestrators_context_managers_or_the_selected_provider_are_deferred():
    assert describe_cache.is_deferrable({"tools": [{"name": "t"}]}, None)
    assert describe_cache.is_deferrable({"content": {"paths": ["context/a.md"]}}, None)
    assert not describe_cache.is_deferrable({"tools": [{"name": "t"}], "hooks": [{"name": "h"}]}, None)
    assert not describe_cache.is_deferrable({"orchestrators": [{"name": "o"}]}, None)
    assert not describe_cache.is_deferrable({"providers": [{"name": "p"}]}, None)
    assert not describe_cache.is_deferrable({"providers": [{"name": "p"}]}, "svc:p")
    assert describe_cache.is_deferrable({"providers": [{"name": "p"}]}, "q")


async def test_a_service_that_warns_in_describe_is_shown_to_the_user_and_described_every_turn(kit):
    """describe ``warnings`` (an MCP server that did not start, say) become warning
    events; such a service is not cached, so the next turn warns again or not at all."""

    def config(warnings):
        tools = cached(kit, kit.service("tools", "tsvc_tools", {"toolbox": {"warnings": warnings}}))
        return kit.config([{"text": "ok"}], with_tools=False, extra=[tools])

    clean = kit.host(config([]))
    assert kit.complete(await kit.turn(clean))["status"] == "completed"
    assert describe_cache.load(clean.config.services[-1]) is not None  # cached: deferred from now on

    warned = kit.host(config(["MCP server 'x' failed to start: not found"]))
    events = await kit.turn(warned)
    assert kit.complete(events)["status"] == "completed"
    assert "tools" in warned.router.services, "a changed config is described again"
    [warning] = kit.of_type(events, "warning")
    assert warning.data == {"message": "tools: MCP server 'x' failed to start: not found", "service": "tools"}
    assert describe_cache.load(warned.config.services[-1]) is None, "not cached: described next turn"

    again = kit.host(config(["MCP server 'x' failed to start: not found"]))
    events = await kit.turn(again)
    assert "tools" in again.router.services
    assert len(kit.of_type(events, "warning")) == 1
