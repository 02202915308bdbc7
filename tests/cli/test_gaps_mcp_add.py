"""`mcp add` warns when a server refers to a variable the mcp service will not see."""

from __future__ import annotations

from pathlib import Path

import yaml

from .conftest import Cli

ROOT = Path(__file__).resolve().parents[2]


def test_mcp_add_warns_about_a_variable_the_mcp_behavior_does_not_list(fresh_cli: Cli) -> None:
    assert fresh_cli("discover", str(ROOT / "services"), "--register").returncode == 0
    result = fresh_cli(
        "mcp", "add", "gh", "--env", "TOKEN=${GH_TOKEN}", "--", "gh-mcp", "--user", "${GH_USER}"
    )
    assert result.returncode == 0, result.stderr
    warning = " ".join(result.stderr.split())
    assert "warning: gh refers to ${GH_TOKEN}, ${GH_USER}" in warning
    assert "lists in service.env (none)" in warning and "register COPY --alias mcp" in warning
    # The server is still written: the warning says what else it needs.
    settings = yaml.safe_load((fresh_cli.cwd / ".amplifier" / "settings.yaml").read_text())
    assert settings["config"]["mcp"]["servers"][0]["env"] == {"TOKEN": "${GH_TOKEN}"}


def test_mcp_add_does_not_warn_when_the_registered_mcp_behavior_lists_the_variable(
    fresh_cli: Cli, tmp_path: Path
) -> None:
    shipped = yaml.safe_load((ROOT / "services/amplifier-mcp/behaviors/mcp.yaml").read_text())
    shipped["behavior"]["service"].update(source=str(ROOT / "services/amplifier-mcp"), env=["GH_TOKEN"])
    copy = tmp_path / "mcp-copy.yaml"
    copy.write_text(yaml.safe_dump(shipped))
    assert fresh_cli("register", str(copy), "--alias", "mcp").returncode == 0
    listed = fresh_cli("mcp", "add", "gh", "--env", "TOKEN=${GH_TOKEN}", "--", "gh-mcp")
    assert listed.returncode == 0, listed.stderr
    assert "warning" not in listed.stderr
    unlisted = fresh_cli("mcp", "add", "gh", "--", "gh-mcp", "${OTHER}")
    assert "warning: gh refers to ${OTHER}" in " ".join(unlisted.stderr.split())
    assert "(GH_TOKEN)" in unlisted.stderr
    plain = fresh_cli("mcp", "add", "time", "--", "uvx", "mcp-server-time")
    assert "warning" not in plain.stderr
