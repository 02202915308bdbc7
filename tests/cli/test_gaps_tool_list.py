"""`tool list` for a service whose tools depend on config: the MCP service with real MCP servers.

The servers are `mcp-server-time` from PyPI (installed in the dev venv); the
mcp service is installed (offline, with uv) into the shared test home on first
use, as a run would.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from .conftest import Cli

ROOT = Path(__file__).resolve().parents[2]
TIME_SERVER = str(Path(sys.executable).parent / "mcp-server-time")
TIME_TOOLS = {"time__get_current_time", "time__convert_time"}


def listed(result: Any) -> dict[str, str]:
    """Tool name -> service, from the table `tool list` prints (wrapped description lines skipped)."""
    rows: dict[str, str] = {}
    for line in result.stdout.splitlines():
        cells = line.split()
        if len(cells) > 1 and cells[0] != "tool" and not line.startswith(" " * 4):
            rows[cells[0]] = cells[1]
    return rows


def test_tool_list_asks_the_mcp_service_with_its_config_and_lists_each_servers_tools(cli: Cli) -> None:
    before = cli("tool", "list", "--agent", "minimal")
    assert before.returncode == 0, before.stderr
    assert not TIME_TOOLS & set(listed(before))
    added = cli("mcp", "add", "time", "--", TIME_SERVER, "--local-timezone", "UTC")
    assert added.returncode == 0, added.stderr
    after = cli("tool", "list", "--agent", "minimal")
    assert after.returncode == 0, after.stderr
    rows = listed(after)
    assert {name: rows.get(name) for name in TIME_TOOLS} == dict.fromkeys(TIME_TOOLS, "mcp"), after.stdout
    assert rows.get("read_file") == "foundation"
    assert "[MCP time]" in after.stdout


def test_tool_list_shows_an_mcp_server_the_service_left_out_while_listing_the_others(cli: Cli) -> None:
    cli("mcp", "add", "time", "--", TIME_SERVER)
    cli("mcp", "add", "broken", "--", str(cli.cwd / "no-such-server"))
    result = cli("tool", "list", "--agent", "minimal")
    assert result.returncode == 0, result.stderr
    assert set(listed(result)) >= TIME_TOOLS
    assert not any(name.startswith("broken__") for name in listed(result))
    assert "mcp: [amplifier-mcp] MCP server 'broken' failed to start" in result.stderr
    assert "no-such-server" in result.stderr


def test_tool_list_with_no_mcp_server_that_starts_names_the_server_and_points_at_the_config(
    cli: Cli,
) -> None:
    cli("mcp", "add", "time", "--", str(cli.cwd / "no-such-server"))
    result = cli("tool", "list", "--agent", "minimal")
    assert result.returncode == 1
    assert "no MCP server started" in result.stderr and "'time'" in result.stderr
    assert "asked with its config for mcp" in result.stderr
    assert "check it in the settings" in result.stderr
    assert "Traceback" not in result.stderr


def mcp_behavior_with_env(folder: Path, variable: str) -> Path:
    """The mcp behavior, but letting its service see ``variable`` (service.env)."""
    shipped = yaml.safe_load((ROOT / "services/amplifier-mcp/behaviors/mcp.yaml").read_text())
    behavior = shipped["behavior"]
    behavior.update(ref="mcp-env", uuid="9a7e2c41-3b5d-4f60-8e1a-0c2d4b6f8a13")
    behavior["service"].update(source=str(ROOT / "services/amplifier-mcp"), env=[variable], name="mcp")
    path = folder / "mcp-env.yaml"
    path.write_text(yaml.safe_dump({"behavior": behavior}))
    return path


def test_tool_list_gives_the_service_the_variables_its_definition_asks_for_as_a_run_does(
    cli: Cli, tmp_path: Path
) -> None:
    behavior = mcp_behavior_with_env(tmp_path, "AMP_GAPS_TZ")
    settings = cli.cwd / ".amplifier" / "settings.yaml"
    settings.parent.mkdir()
    server = {"name": "time", "command": TIME_SERVER, "args": ["--local-timezone", "${AMP_GAPS_TZ}"]}
    settings.write_text(
        yaml.safe_dump({"behaviors": [str(behavior)], "config": {"mcp": {"servers": [server]}}})
    )
    cli.env.pop("AMP_GAPS_TZ", None)
    unset = cli("tool", "list", "--agent", "minimal")
    assert unset.returncode == 0, unset.stderr
    assert not TIME_TOOLS & set(listed(unset))
    assert "${AMP_GAPS_TZ}, which is not set for the mcp service" in unset.stderr
    cli.env["AMP_GAPS_TZ"] = "UTC"
    given = cli("tool", "list", "--agent", "minimal")
    assert given.returncode == 0, given.stderr
    assert set(listed(given)) >= TIME_TOOLS
