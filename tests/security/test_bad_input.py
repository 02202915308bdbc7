"""The bad input corpus: each case gets its exact error message, and nothing on disk changes."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HINT = "hint: fix the definition (format: docs/definitions.md)"
AGENT_HEAD = "agent:\n  ref: {ref}\n  uuid: {uuid}\n  orchestrator: a:b\n  context_manager: a:c\n"
# A prompt this big (5 MB) cannot fit any model's context window.
HUGE_PROMPT_BYTES = 5 * 1024 * 1024
# How long one raw JSON-RPC exchange with a service may take (a cold Python start).
RPC_TIMEOUT_S = 60.0


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (symlinks not followed), for before/after
    comparisons; not the parsed-YAML cache, whose entries are keyed by the
    parsed bytes' digest, so adding one changes nothing (registry/yamlio.py)."""
    out: dict[str, bytes] = {}
    if not folder.exists():
        return out
    for dirpath, dirnames, filenames in os.walk(folder):
        if Path(dirpath) == folder / "cache":
            dirnames[:] = [d for d in dirnames if d != "yaml"]
        for name in filenames:
            path = Path(dirpath) / name
            out[str(path.relative_to(folder))] = (
                path.read_bytes() if not path.is_symlink() else b"-> " + str(path.readlink()).encode()
            )
    return out


@pytest.fixture
def empty(tmp_path: Path, h: Any) -> Any:
    """The CLI on an empty AMPLIFIER_HOME, in a project folder with a definitions folder."""
    work = tmp_path / "project"
    (work / "defs").mkdir(parents=True)
    return h.Cli(tmp_path / "home", work)


def unchanged(cli: Any, *args: str, input: str = "") -> subprocess.CompletedProcess[str]:
    """Run the CLI and assert it left AMPLIFIER_HOME and the project folder as they were."""
    before = (tree(cli.home), tree(cli.cwd))
    done = cli(*args, input=input)
    after = (tree(cli.home), tree(cli.cwd))
    assert after[0] == before[0], f"AMPLIFIER_HOME changed: {sorted(set(after[0]) ^ set(before[0]))}"
    assert after[1] == before[1], f"the project changed: {sorted(set(after[1]) ^ set(before[1]))}"
    assert "Traceback" not in done.stderr, done.stderr
    return done


DEFINITIONS = {
    "invalid-yaml": (
        "agent:\n  ref: x\n  uuid: [unclosed\n",
        "field '<document>': expected valid YAML (line 4, column 1): did not find expected ',' or ']'",
    ),
    "missing-field": (
        "agent:\n  uuid: 3f0c54c4-4371-4638-87d0-fc0985efdfa5\n",
        "field 'agent.ref': expected a name such as 'foundation' (field missing)",
    ),
    "bad-uuid": (
        AGENT_HEAD.format(ref="x", uuid="not-a-uuid"),
        "field 'agent.uuid': expected a UUID like 3f0c9a52-1b2d-4c8e-9f00-0123456789ab, got 'not-a-uuid'",
    ),
    "unknown-key": (
        AGENT_HEAD.format(ref="x", uuid="3f0c54c4-4371-4638-87d0-fc0985efdfa5") + "  colour: blue\n",
        "field 'agent.colour': expected one of the fields ref, local_ref, uuid, description, behaviors, service, "
        "config, instructions, context, orchestrator, context_manager, provider, model, tools (unknown field)",
    ),
}


@pytest.mark.parametrize("case", sorted(DEFINITIONS))
def test_a_bad_definition_is_refused_naming_the_file_and_field(empty, case):
    text, message = DEFINITIONS[case]
    path = empty.cwd / "defs" / f"{case}.yaml"
    path.write_text(text)
    done = unchanged(empty, "register", str(path))
    assert done.returncode == 2
    assert done.stderr == f"error: {path}: {message}\n{HINT}\n"


def test_behaviors_that_form_a_cycle_are_an_error_naming_the_cycle(empty):
    defs = empty.cwd / "defs"
    (defs / "b1.yaml").write_text(
        "behavior:\n  ref: b1\n  uuid: 4f0c54c4-4371-4638-87d0-fc0985efdfa5\n  behaviors:\n    - b2: ./b2.yaml\n"
    )
    (defs / "b2.yaml").write_text(
        "behavior:\n  ref: b2\n  uuid: 5f0c54c4-4371-4638-87d0-fc0985efdfa5\n  behaviors:\n    - b1: ./b1.yaml\n"
    )
    agent = defs / "cyc.yaml"
    agent.write_text(
        AGENT_HEAD.format(ref="cyc", uuid="6f0c54c4-4371-4638-87d0-fc0985efdfa5")
        + "  behaviors:\n    - b1: ./b1.yaml\n"
    )
    done = unchanged(empty, "run", "--agent", str(agent), "hi")
    assert done.returncode == 2
    assert (
        done.stderr
        == f"error: behaviors form a cycle: cyc -> b1 -> b2 -> b1\nhint: remove 'b1' from the behaviors of {defs / 'b2.yaml'}\n"
    )


SIGN_IN_PAGE = b"<!DOCTYPE html>\n<html><body>Sign in</body></html>\n"


@pytest.fixture
def html_server(tmp_path: Path) -> Iterator[str]:
    """A loopback web server that answers every path with ``served[0]``: a sign-in page at first."""
    served = [SIGN_IN_PAGE]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = served[0]
            self.send_response(200)
            self.send_header("Content-Type", "text/html" if body.startswith(b"<") else "application/yaml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", served
    server.shutdown()
    server.server_close()


def test_a_behavior_url_that_returns_html_is_refused_with_what_came_back(empty, html_server):
    url = f"{html_server[0]}/behaviors/web.yaml"
    agent = empty.cwd / "defs" / "web.yaml"
    agent.write_text(
        AGENT_HEAD.format(ref="web", uuid="7f0c54c4-4371-4638-87d0-fc0985efdfa5")
        + f"  behaviors:\n    - w: {url}\n"
    )
    named_in = f"behavior 'w' named in {agent} cannot be resolved: "
    for args, context in ((("register", url), ""), (("run", "--agent", str(agent), "hi"), named_in)):
        done = unchanged(empty, *args)
        assert done.returncode == 2
        assert done.stderr == (
            f"error: {context}{url} returned an HTML page (Content-Type text/html), not YAML: "
            "'<!DOCTYPE html> <html><body>Sign in</body></html>'\n"
            "hint: give the URL of the raw YAML file (a 'raw' link), not of a web page; "
            "a sign-in page means the file is not public\n"
        )


SETTINGS = {
    "unknown": (
        "colour: blue\n",
        "unknown setting 'colour'\nhint: known settings: agent, provider, model, config, "
        "allowed_write_paths, denied_write_paths, approval, services, routing, behaviors",
    ),
    "approval": (
        "approval: sometimes\n",
        "setting 'approval' must be one of ask, auto, deny, not 'sometimes'",
    ),
    "paths": (
        "allowed_write_paths: /tmp\n",
        "setting 'allowed_write_paths' must be a list of strings (directories the agent may write)",
    ),
    "not-yaml": ("config: [\n", None),
}


@pytest.mark.parametrize("case", sorted(SETTINGS))
def test_bad_project_settings_are_refused_naming_the_file(empty, case):
    text, message = SETTINGS[case]
    settings = empty.cwd / ".amplifier" / "settings.yaml"
    settings.parent.mkdir()
    settings.write_text(text)
    done = unchanged(empty, "run", "hi")
    assert done.returncode == 2
    if message is None:
        assert done.stderr.startswith(f"error: {settings}: not valid YAML: ")
        assert done.stderr.endswith("hint: fix or delete the file\n")
    else:
        assert done.stderr == f"error: {settings}: {message}\n"


@pytest.mark.parametrize("flag", ["fault_probe=1", ".mode=1", "fault_probe.=1", "novalue"])
def test_a_malformed_component_flag_is_a_usage_error(cli, flag):
    done = unchanged(cli, "run", "--agent", "faulty", "-C", flag, "hi")
    assert done.returncode == 2
    assert (
        done.stderr
        == f"error: -C {flag}: expected COMPONENT.KEY=VALUE\nhint: for example -C bash.timeout=120\n"
    )


def test_a_component_flag_naming_a_missing_script_fails_the_turn_naming_the_file(cli, h):
    turn = cli.turn("- text: never\n", "-C", "scripted.script=missing.yaml")
    assert turn.returncode == 1
    assert turn.result["error"] == (
        "service providers failed describe: scripted: the script missing.yaml does not exist "
        f"(looked in {cli.cwd / 'missing.yaml'}); give a YAML file path relative to the working directory"
    )


@pytest.mark.parametrize("session_id", ["../../etc/passwd", "../x", "/etc", "a/b", "..", "x\0y"])
def test_a_session_id_with_path_tricks_is_refused_everywhere_and_touches_nothing(cli, h, session_id):
    real = cli.turn("- text: 'a real session'\n").session_id  # something that a trick could reach
    for args in (
        ("session", "show", session_id),
        ("session", "delete", session_id),
        ("run", "--session", session_id, "hi"),
    ):
        if "\0" in session_id:
            with pytest.raises(ValueError):  # the OS refuses NUL in argv before the CLI sees it
                cli(*args)
            continue
        done = unchanged(cli, *args)
        assert done.returncode == 2
        assert (
            done.stderr
            == f"error: invalid session id {session_id!r}\nhint: give a session id or a prefix of one\n"
        )
    assert h.metadata(cli.home, real)["status"] == "completed"


def test_tool_input_that_violates_the_schema_is_refused_before_the_tool_runs(cli, h):
    script = "- text: x\n  tool_calls: [{name: read_file, arguments: {}}, {name: read_file, arguments: {path: 5}}]\n- text: Done.\n"
    turn = cli.turn(script)
    assert turn.returncode == 0
    by_id = {r["id"]: r for r in turn.of_type("tool_result")}
    results = [by_id[c["id"]] for c in turn.of_type("tool_call")]
    assert [r["success"] for r in results] == [False, False]
    assert results[0]["output"]["message"] == "invalid input for tool read_file: input.path: is required"
    assert results[1]["output"]["message"].startswith("invalid input for tool read_file: input.path: ")
    h.assert_transcript_valid(h.transcript(cli.home, turn.session_id))


def test_non_utf8_bytes_in_tool_output_become_replacement_characters_and_the_transcript_stays_json(cli, h):
    script = "- text: x\n  tool_calls: [{name: bash, arguments: {command: \"printf 'ok \\\\377\\\\376 done'\"}}]\n- text: Done.\n"
    turn = cli.turn(script, "--approval", "auto")
    assert turn.returncode == 0, turn.stdout[-2000:]
    assert turn.tool_result("bash")["output"] == "exit code: 0\nok \ufffd\ufffd done"
    raw = (h.session_dir(cli.home, turn.session_id) / "transcript.jsonl").read_bytes()
    raw.decode("utf-8")  # strict: the file is valid UTF-8
    assert "ok \ufffd\ufffd done" in json.dumps(h.transcript(cli.home, turn.session_id), ensure_ascii=False)


def test_non_utf8_bytes_on_the_wire_are_logged_and_skipped(cli, h):
    turn = cli.turn(h.PROBE_SCRIPT, mode="garbage")
    assert turn.returncode == 0
    log = (h.session_dir(cli.home, turn.session_id) / "services.log").read_text(errors="replace")
    assert (
        "[faults] (host) bad line from the other side (line is not valid JSON: str is not valid UTF-8" in log
    )


def test_a_5_mb_prompt_is_refused_before_a_session_is_created(cli):
    sessions = cli.home / "sessions"
    before = set(os.listdir(sessions)) if sessions.exists() else set()
    script = cli.script("- text: 'the model saw it all'\n")
    done = cli(
        "run",
        "--agent",
        "faulty",
        "--provider",
        "scripted",
        "-C",
        f"scripted.script={script}",
        "--output",
        "json",
        input="p" * HUGE_PROMPT_BYTES,
    )
    assert done.returncode == 2, done.stdout[:600]
    assert "prompt" in done.stderr and "too large" in done.stderr, done.stderr
    assert (set(os.listdir(sessions)) if sessions.exists() else set()) == before


def test_a_url_that_answered_html_once_is_fetched_again_once_it_serves_yaml(empty, html_server):
    base, served = html_server
    url = f"{base}/behaviors/late.yaml"
    assert empty("register", url).returncode == 2
    served[0] = b"behavior:\n  ref: late\n  uuid: 8f0c54c4-4371-4638-87d0-fc0985efdfa5\n"
    done = empty("register", url)
    assert done.returncode == 0, done.stderr
    assert "registered behavior late" in done.stdout + done.stderr


# -- content.read, straight to a service process --------------------------------------------


@pytest.fixture
def content_service(tmp_path: Path) -> Path:
    """The protocol's sample service, copied so its content folder can hold symlinks."""
    package = tmp_path / "pkgs" / "sample_svc"
    shutil.copytree(
        ROOT / "protocol" / "tests" / "fixtures" / "sample_svc",
        package,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    secret = tmp_path / "outside.md"
    secret.write_text("outside the content folder")
    (package / "context" / "escape.md").symlink_to(secret)
    (package / "context" / "alias.md").symlink_to(package / "context" / "sample.md")
    return package.parent


def content_reads(pythonpath: Path, paths: list[str]) -> list[dict[str, Any]]:
    """Describe, then ``content.read`` each path; stdin stays open until every answer is in."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sample_svc"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(pythonpath)},
    )
    assert proc.stdin is not None and proc.stdout is not None
    requests = [{"jsonrpc": "2.0", "id": 0, "method": "describe", "params": {}}]
    requests += [
        {"jsonrpc": "2.0", "id": n, "method": "content.read", "params": {"path": p}}
        for n, p in enumerate(paths, 1)
    ]
    proc.stdin.write("".join(json.dumps(r) + "\n" for r in requests))
    proc.stdin.flush()
    answers: dict[int, dict[str, Any]] = {}
    while len(answers) < len(requests):
        answer = json.loads(proc.stdout.readline())
        answers[answer["id"]] = answer
    proc.stdin.close()
    assert proc.wait(timeout=RPC_TIMEOUT_S) == 0
    proc.stdout.close()
    return [answers[n] for n in range(1, len(paths) + 1)]


def test_content_read_refuses_dotdot_absolute_and_symlinks_that_leave_the_content(content_service):
    paths = [
        "context/../__main__.py",
        "/etc/hostname",
        "context/escape.md",
        "__main__.py",
        "context/alias.md",
    ]
    dotdot, absolute, escape, outside, alias = content_reads(content_service, paths)
    assert dotdot["error"]["code"] == -32602
    assert dotdot["error"]["message"] == "content path must not contain '..': context/../__main__.py"
    assert absolute["error"]["message"] == "content path must be relative: /etc/hostname"
    assert (
        escape["error"]["message"] == "content path context/escape.md resolves outside the service's content"
    )
    assert outside["error"]["message"].startswith("content path __main__.py is outside the content folders (")
    assert (
        alias["result"]["content"] == (content_service / "sample_svc" / "context" / "sample.md").read_text()
    )
