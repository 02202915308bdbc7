"""The pure parts of child sessions: options, ids, parent context, session rules, Markdown agents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from amplifier_ipc_protocol.errors import InvalidParams

from amplifier_ipc.host import ServiceSpec, SessionConfig
from amplifier_ipc.host.child_context import (
    MarkdownAgent,
    ParentSide,
    apply_session_rules,
    child_config,
    parent_context_message,
)
from amplifier_ipc.host.children import Delegation, child_session_id, parse_agent_markdown
from amplifier_ipc.host.persistence import resolve_session_id, validate_session_id
from amplifier_ipc.host.routing import RoutingTable


def test_a_child_id_carries_its_parents_id_and_a_folder_safe_agent_name() -> None:
    child = child_session_id("abc-123", "code reviewer/../x")
    assert child.startswith("abc-123-") and child.endswith("_code-reviewer-x")
    assert validate_session_id(child) == child


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({}, "agent name"),
        ({"agent": "self", "context_depth": "some"}, "context_depth must be one of none, recent, all"),
        ({"agent": "self", "context_scope": "tools"}, "context_scope must be one of"),
        ({"agent": "self", "context_turns": 0}, "context_turns must be a whole number"),
        ({"agent": "self", "exclude_tools": "bash"}, "exclude_tools must be a list of names"),
        ({"agent": "self", "inherit_hooks": [""]}, "inherit_hooks must be a list of names"),
        ({"agent": "self", "provider_preferences": [{"model": "x"}]}, "provider_preferences must be a list"),
        ({"agent": "self", "model_role": 3}, "model_role must be a role name"),
    ],
)
def test_bad_spawn_options_are_refused_naming_the_option(params: dict[str, Any], names: str) -> None:
    with pytest.raises(InvalidParams, match=names):
        Delegation.parse(params)


def test_spawn_options_default_to_no_context_and_no_filters() -> None:
    parsed = Delegation.parse({"agent": " explorer "})
    assert parsed.agent == "explorer" and parsed.context_depth == "none" and parsed.inherit_tools is None
    assert Delegation.parse(parsed.to_json()) == parsed


def _conversation() -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "turn one"},
        {
            "role": "assistant",
            "content": [{"type": "thinking", "thinking": "secret"}, {"type": "text", "text": "looking"}],
            "tool_calls": [{"id": "c1", "name": "grep", "arguments": {"pattern": "x" * 5000}}],
        },
        {
            "role": "tool",
            "tool_call_id": "c1",
            "name": "grep",
            "content": "found",
            "metadata": {"success": True},
        },
        {"role": "user", "content": "injected", "metadata": {"source": "hook"}},
        {"role": "assistant", "content": "answer one"},
        {"role": "user", "content": "turn two"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "d1", "name": "delegate", "arguments": {}}],
        },
    ]


def test_no_context_and_an_empty_parent_give_no_message() -> None:
    assert parent_context_message(_conversation(), parent_id="p", depth="none", scope="full", turns=3) is None
    assert parent_context_message([], parent_id="p", depth="all", scope="full", turns=3) is None


def test_recent_counts_turns_from_real_user_messages_not_injections() -> None:
    message = parent_context_message(_conversation(), parent_id="p", depth="recent", scope="full", turns=1)
    assert message is not None
    assert "User: turn two" in message["content"] and "turn one" not in message["content"]
    assert message["metadata"]["source"] == "parent_context"


def test_full_scope_quotes_tool_calls_cut_to_size_and_never_thinking() -> None:
    message = parent_context_message(_conversation(), parent_id="p", depth="all", scope="full", turns=1)
    assert message is not None
    text = message["content"]
    assert "Tool call grep" in text and "Result (success): found" in text and "more characters]" in text
    assert "secret" not in text and "injected" not in text
    assert "delegate" not in text  # the unanswered call in flight


def _table() -> RoutingTable:
    tool = {"input_schema": {"type": "object"}}
    return RoutingTable.build(
        [
            (
                "a",
                {
                    "tools": [{"name": n, **tool} for n in ("bash", "read_file", "web_fetch", "web_search")],
                    "hooks": [
                        {"name": "logging", "events": ["*"]},
                        {"name": "approval", "events": ["tool:pre"]},
                    ],
                    "providers": [{"name": "scripted"}],
                },
            ),
            ("b", {"providers": [{"name": "anthropic"}], "hooks": [{"name": "logging", "events": ["*"]}]}),
        ]
    )


def _config(**fields: Any) -> SessionConfig:
    fields.setdefault("services", [])
    return SessionConfig(orchestrator="o", context_manager="c", **fields)


def test_rules_filter_tools_by_pattern_and_hooks_by_name_or_service() -> None:
    table = _table()
    apply_session_rules(
        table,
        _config(inherit_tools=["web_*", "bash"], exclude_tools=["web_search"], exclude_hooks=["b:logging"]),
        lambda text: None,
    )
    assert sorted(table.tools) == ["bash", "web_fetch"]
    assert [(h.service, h.name) for h in table.hooks_for("tool:pre")] == [("a", "logging"), ("a", "approval")]


def test_the_first_offered_preferred_provider_wins_and_none_offered_warns() -> None:
    config = _config(
        provider="a:scripted",
        model="m0",
        provider_preferences=[{"provider": "openai", "model": "x"}, {"provider": "anthropic", "model": "y"}],
    )
    apply_session_rules(_table(), config, lambda text: None)
    assert (config.provider, config.model) == ("b:anthropic", "y")
    warnings: list[str] = []
    config = _config(provider="a:scripted", provider_preferences=[{"provider": "openai"}])
    apply_session_rules(_table(), config, warnings.append)
    assert config.provider == "a:scripted" and "openai" in warnings[0] and "a:scripted" in warnings[0]


def test_a_markdown_agent_needs_front_matter_with_a_tool_list() -> None:
    meta, body = parse_agent_markdown("---\nname: x\ntools: [bash]\n---\n\n# X\nDo it.\n", "s:agents/x.md")
    assert meta["tools"] == ["bash"] and body == "# X\nDo it."
    with pytest.raises(InvalidParams, match=r"s:agents/y\.md has no YAML front matter"):
        parse_agent_markdown("# no front matter", "s:agents/y.md")
    with pytest.raises(InvalidParams, match="tools must be a list"):
        parse_agent_markdown("---\ntools: bash\n---\nx", "s:agents/z.md")


def test_a_prefix_of_a_parents_id_names_the_parent_not_its_children(tmp_path: Path) -> None:
    for sid in ("abcdef-1", "abcdef-1-0123abcd_self", "abcdef-1-0123abcd_self-99887766_x"):
        (tmp_path / sid).mkdir()
        (tmp_path / sid / "metadata.json").write_text("{}")
    assert resolve_session_id(tmp_path, "abc") == "abcdef-1"
    assert resolve_session_id(tmp_path, "abcdef-1-0123") == "abcdef-1-0123abcd_self"


def _child_of_a_child() -> ParentSide:
    """A parent that is itself a child: spawned with tool (``delegate`` granted), hook and provider rules."""
    config = _config(
        services=[ServiceSpec(name="a", command=["a"], config={"approval": {"mode": "auto"}})],
        agent="coder",
        system_prompt="You code.",
        provider="a:scripted",
        exclude_tools=["bash"],
        inherit_tools=["read_*", "grep", "delegate"],
        exclude_hooks=["status_context"],
        inherit_hooks=["logging", "status_context"],
        provider_preferences=[{"provider": "a:scripted", "model": "m1"}],
        model_role="fast",
        depth=1,
        parent_id="root",
    )
    capabilities = {"a": {"hooks": [{"name": "approval"}], "tools": [{"name": "read_file"}]}}
    return ParentSide(config, "root-1_coder", 1, Path("/s"), provider_service="a", capabilities=capabilities)


def test_a_self_child_copies_the_parents_definition_under_its_tool_rules_but_not_its_hook_rules() -> None:
    parent = _child_of_a_child()
    child = child_config(parent, Delegation.parse({"agent": "self", "exclude_tools": ["grep"]}))
    assert (child.agent, child.system_prompt, child.parent_id, child.depth) == (
        "coder",
        "You code.",
        "root-1_coder",
        2,
    )
    # Tools: what the parent may not use, no session below it may use either.
    assert child.exclude_tools == ["bash", "grep", "delegate"] and child.inherit_tools == [
        "read_*",
        "grep",
        "delegate",
    ]
    # Hooks are per spawn: the parent's own spawner's hook filters stay with the parent.
    assert child.exclude_hooks == [] and child.inherit_hooks is None
    # It runs on the parent's provider, chosen the way the parent's was, and the parent's role.
    assert (
        child.provider_preferences == [{"provider": "a:scripted", "model": "m1"}]
        and child.model_role == "fast"
    )
    assert parent.config.exclude_hooks == ["status_context"]  # the parent's config is not changed


def test_a_childs_inherit_list_is_cut_to_its_parents_patterns_and_delegate_needs_asking() -> None:
    parent = _child_of_a_child()
    asked = Delegation.parse({"agent": "self", "inherit_tools": ["read_file", "bash", "delegate"]})
    child = child_config(parent, asked)
    assert sorted(child.inherit_tools or []) == ["delegate", "read_file"] and child.exclude_tools == ["bash"]
    assert child_config(parent, Delegation.parse({"agent": "self"})).exclude_tools == ["bash", "delegate"]


def test_a_markdown_child_runs_its_file_on_the_parents_services_with_the_requests_hook_rules() -> None:
    parent = _child_of_a_child()
    text = "---\nname: x\ntools: [read_file, bash]\nconfig:\n  approval: {mode: deny}\n---\nYou read."
    asked = Delegation.parse({"agent": "x", "exclude_hooks": ["logging"], "model_role": "reasoning"})
    child = child_config(parent, asked, markdown=MarkdownAgent("a:agents/x.md", text))
    assert (child.agent, child.system_prompt) == ("x", "You read.")
    assert child.inherit_tools == ["read_file"]  # its own list, within its parent's
    assert (
        child.exclude_hooks == ["logging"] and child.inherit_hooks is None and child.model_role == "reasoning"
    )
    assert child.services[0].config["approval"] == {"mode": "deny"}
    assert parent.config.services[0].config["approval"] == {"mode": "auto"}


def test_a_named_agent_with_a_provider_of_its_own_keeps_it_and_ignores_the_parents_preferences() -> None:
    parent = _child_of_a_child()
    own = _config(services=[ServiceSpec(name="b", command=["b"])], provider="b:anthropic", agent="reviewer")
    child = child_config(parent, Delegation.parse({"agent": "reviewer"}), resolved=own)
    assert child.provider == "b:anthropic" and child.provider_preferences == []
    assert [s.name for s in child.services] == ["b"]
    borrowing = child_config(
        parent, Delegation.parse({"agent": "reviewer"}), resolved=_config(agent="reviewer")
    )
    assert borrowing.provider == "a:scripted" and [s.name for s in borrowing.services] == ["a"]
    assert borrowing.provider_preferences == parent.config.provider_preferences


def test_a_kept_markdown_agent_must_have_a_source_and_a_text() -> None:
    assert MarkdownAgent.from_json({"source": "a:agents/x.md", "text": "t"}) == MarkdownAgent(
        "a:agents/x.md", "t"
    )
    assert (
        MarkdownAgent.from_json({"source": "a:agents/x.md"}) is None and MarkdownAgent.from_json(None) is None
    )
