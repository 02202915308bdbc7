"""read_file, write_file, edit_file, apply_patch, glob and grep, through the real service."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from amplifier_foundation.files.paths import PathPolicy
from amplifier_foundation.files.search import grep
from amplifier_ipc_protocol.errors import InvalidParams

from .conftest import FakeHost


async def test_read_file_numbers_lines_and_pages_with_offset_and_limit(
    start_host: Any, workdir: Path
) -> None:
    (workdir / "a.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    host: FakeHost = await start_host()
    result = await host.tool("read_file", {"path": "a.txt", "offset": 3, "limit": 2})
    assert result["success"] is True
    assert result["output"].splitlines() == [
        "     3\tline 3",
        "     4\tline 4",
        "[showing lines 3-4 of 10; read on with offset=5]",
    ]


async def test_read_file_caps_lines_and_cuts_long_lines(start_host: Any, workdir: Path) -> None:
    (workdir / "big.txt").write_text("z" * 5000 + "\n" + "short\n" * 2500)
    host: FakeHost = await start_host()
    output = (await host.tool("read_file", {"path": "big.txt"}))["output"].splitlines()
    assert len(output) == 2001
    assert output[0].endswith("[... line cut at 2000 characters]") and len(output[0]) < 2100
    assert output[-1] == "[showing lines 1-2000 of 2501; read on with offset=2001]"


@pytest.mark.parametrize(
    ("setup", "path", "message"),
    [
        (lambda d: (d / "bin.dat").write_bytes(b"\x00\x01binary"), "bin.dat", "binary file"),
        (lambda d: None, "missing.txt", "does not exist"),
        (lambda d: (d / "folder").mkdir(), "folder", "is a directory"),
        (lambda d: (d / "one.txt").write_text("1\n"), "one.txt", None),
    ],
)
async def test_read_file_refuses_what_it_cannot_read_with_a_clear_error(
    start_host: Any, workdir: Path, setup: Any, path: str, message: str | None
) -> None:
    setup(workdir)
    host: FakeHost = await start_host()
    tool_input: dict[str, Any] = {"path": path}
    if message is None:  # an offset past the end
        tool_input["offset"] = 5
        message = "past the end"
    result = await host.tool("read_file", tool_input)
    assert result["success"] is False and message in result["error"]["message"]


async def test_write_file_creates_folders_and_obeys_allowed_and_denied_paths(
    start_host: Any, workdir: Path, tmp_path: Path
) -> None:
    host: FakeHost = await start_host(config={"files": {"denied_write_paths": ["secret"]}})
    ok = await host.tool("write_file", {"path": "new/dir/f.txt", "content": "hi\n"})
    assert ok["success"] and (workdir / "new/dir/f.txt").read_text() == "hi\n"
    denied = await host.tool("write_file", {"path": "secret/x", "content": "no"})
    assert "denied_write_paths" in denied["error"]["message"]
    outside = await host.tool("write_file", {"path": str(tmp_path / "outside.txt"), "content": "no"})
    assert "allowed_write_paths" in outside["error"]["message"]
    escape = await host.tool("write_file", {"path": "../escape.txt", "content": "no"})
    assert escape["success"] is False
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path / "escape.txt").exists()


async def test_reading_outside_the_working_directory_follows_config(
    start_host: Any, workdir: Path, tmp_path: Path
) -> None:
    (tmp_path / "outside.txt").write_text("out\n")
    host: FakeHost = await start_host(config={"files": {"read_outside_working_dir": False}})
    result = await host.tool("read_file", {"path": str(tmp_path / "outside.txt")})
    assert "read_outside_working_dir" in result["error"]["message"]


async def test_edit_file_replaces_a_unique_match_and_reports_the_count_of_a_non_unique_one(
    start_host: Any, workdir: Path
) -> None:
    target = workdir / "code.py"
    target.write_text("x = 1\ny = 1\nx = 1\n")
    host: FakeHost = await start_host()
    many = await host.tool("edit_file", {"path": "code.py", "old_string": "x = 1", "new_string": "x = 2"})
    assert many["success"] is False and "occurs 2 times" in many["error"]["message"]
    one = await host.tool("edit_file", {"path": "code.py", "old_string": "y = 1", "new_string": "y = 3"})
    assert one["success"] and target.read_text() == "x = 1\ny = 3\nx = 1\n"
    every = await host.tool(
        "edit_file", {"path": "code.py", "old_string": "x = 1", "new_string": "x = 9", "replace_all": True}
    )
    assert every["success"] and target.read_text() == "x = 9\ny = 3\nx = 9\n"
    none = await host.tool("edit_file", {"path": "code.py", "old_string": "zzz", "new_string": "q"})
    assert "not found" in none["error"]["message"]


async def test_apply_patch_applies_a_multi_file_diff_and_changes_nothing_when_a_hunk_fails(
    start_host: Any, workdir: Path
) -> None:
    (workdir / "a.txt").write_text("one\ntwo\nthree\n")
    (workdir / "b.txt").write_text("alpha\nbeta\n")
    host: FakeHost = await start_host()
    good = (
        "--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n"
        "--- /dev/null\n+++ b/c.txt\n@@ -0,0 +1,2 @@\n+new\n+file\n"
    )
    result = await host.tool("apply_patch", {"patch": good})
    assert result["success"], result
    assert (workdir / "a.txt").read_text() == "one\nTWO\nthree\n"
    assert (workdir / "c.txt").read_text() == "new\nfile\n"
    bad = (
        "--- a/b.txt\n+++ b/b.txt\n@@ -1,2 +1,2 @@\n-alpha\n+ALPHA\n beta\n"
        "--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-missing\n+x\n"
    )
    failed = await host.tool("apply_patch", {"patch": bad})
    assert failed["success"] is False and "no file was changed" in failed["error"]["message"]
    assert "hunk 1 of a.txt" in failed["error"]["message"]
    assert (workdir / "b.txt").read_text() == "alpha\nbeta\n"


async def test_apply_patch_finds_a_hunk_whose_line_numbers_drifted(start_host: Any, workdir: Path) -> None:
    (workdir / "d.txt").write_text("head\nhead2\none\ntwo\n")
    host: FakeHost = await start_host()
    patch = "--- a/d.txt\n+++ b/d.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+2\n"
    assert (await host.tool("apply_patch", {"patch": patch}))["success"]
    assert (workdir / "d.txt").read_text() == "head\nhead2\none\n2\n"


async def test_apply_patch_without_headers_says_what_a_unified_diff_looks_like(start_host: Any) -> None:
    host: FakeHost = await start_host()
    result = await host.tool("apply_patch", {"patch": "just some text"})
    assert "'--- a/path'" in result["error"]["message"]


async def test_glob_lists_matching_files_and_skips_git(start_host: Any, workdir: Path) -> None:
    (workdir / "src").mkdir()
    (workdir / "src/m.py").write_text("")
    (workdir / ".git").mkdir()
    (workdir / ".git/h.py").write_text("")
    (workdir / "r.md").write_text("")
    host: FakeHost = await start_host()
    result = await host.tool("glob", {"pattern": "**/*.py"})
    assert result["output"].splitlines() == ["src/m.py"]


async def test_grep_finds_lines_files_and_counts(start_host: Any, workdir: Path) -> None:
    (workdir / "a.py").write_text("import os\nprint('Hello')\n")
    (workdir / "b.txt").write_text("hello world\n")
    host: FakeHost = await start_host()
    content = await host.tool("grep", {"pattern": "hello", "case_insensitive": True})
    assert sorted(content["output"].splitlines()) == ["a.py:2:print('Hello')", "b.txt:1:hello world"]
    files = await host.tool("grep", {"pattern": "import", "output_mode": "files_with_matches"})
    assert files["output"] == "a.py"
    only_py = await host.tool(
        "grep", {"pattern": "hello", "case_insensitive": True, "glob": "*.txt", "output_mode": "count"}
    )
    assert only_py["output"] == "b.txt:1"
    bad = await host.tool("grep", {"pattern": "("})
    assert "not a valid regular expression" in bad["error"]["message"]


async def test_a_tool_input_that_breaks_the_schema_is_refused_by_the_service(start_host: Any) -> None:
    host: FakeHost = await start_host()
    with pytest.raises(InvalidParams, match="read_file"):
        await host.tool("read_file", {"path": "a", "bogus": 1})


@pytest.mark.skipif(shutil.which("rg") is None, reason="ripgrep is not installed here")
async def test_ripgrep_and_the_python_fallback_agree(workdir: Path) -> None:
    (workdir / "a.py").write_text("alpha\nbeta\nalphabet\n")
    policy = PathPolicy({}, str(workdir))
    with_rg = await grep(policy, {"pattern": "alpha"}, use_ripgrep=True)
    fallback = await grep(policy, {"pattern": "alpha"}, use_ripgrep=False)
    assert sorted(with_rg["output"].splitlines()) == sorted(fallback["output"].splitlines())
