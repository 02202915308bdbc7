"""content.read / content.list never let a path escape the content folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from amplifier_ipc_protocol.content import (
    MAX_CONTENT_BYTES,
    list_content,
    parse_front_matter,
    read_content,
    resolve_content_path,
)
from amplifier_ipc_protocol.errors import InvalidParams


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "context").mkdir()
    (tmp_path / "context" / "a.md").write_text("é")
    (tmp_path / "secret.txt").write_text("secret")
    (tmp_path / "context" / "link.md").symlink_to(tmp_path / "secret.txt")
    return tmp_path


def test_a_file_in_a_content_folder_is_read_as_text(root: Path) -> None:
    assert read_content(str(root), "context/a.md") == "é"


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("../secret.txt", "must not contain '..'"),
        ("context/../secret.txt", "must not contain '..'"),
        ("context\\..\\secret.txt", "must not contain '..'"),
        ("/etc/passwd", "must be relative"),
        ("secret.txt", "outside the content folders"),
        ("context/link.md", "resolves outside the service's content"),
        ("context/a\x00.md", "NUL"),
        ("", "non-empty string"),
        (3, "non-empty string"),
        ("context/missing.md", "no content file context/missing.md"),
    ],
)
def test_a_path_outside_the_content_is_refused_saying_why(root: Path, path: object, problem: str) -> None:
    with pytest.raises(InvalidParams) as caught:
        read_content(str(root), path)
    assert problem in caught.value.message


def test_a_file_over_the_size_limit_is_refused(root: Path) -> None:
    with open(root / "context" / "big.md", "wb") as handle:
        handle.truncate(MAX_CONTENT_BYTES + 1)
    with pytest.raises(InvalidParams, match="larger than"):
        read_content(str(root), "context/big.md")


def test_the_resolved_path_stays_under_its_folder(root: Path) -> None:
    assert resolve_content_path(str(root), "context/a.md") == os.path.realpath(root / "context" / "a.md")


def test_listing_filters_by_prefix() -> None:
    paths = ["agents/x.md", "context/a.md", "context/b.md"]
    assert list_content(paths) == paths
    assert list_content(paths, "context/") == ["context/a.md", "context/b.md"]
    with pytest.raises(InvalidParams, match="prefix must be a string"):
        list_content(paths, 5)


def test_front_matter_is_split_from_the_markdown_body() -> None:
    header, body = parse_front_matter(
        "---\nname: plan\ntools: [read_file]\n---\n\n# Plan\nThink first.\n", origin="m.md"
    )
    assert header == {"name": "plan", "tools": ["read_file"]}
    assert body == "# Plan\nThink first."


def test_an_empty_header_is_an_empty_mapping() -> None:
    assert parse_front_matter("---\n\n---\nbody", origin="m.md") == ({}, "body")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("# no header\n", "m.md: no YAML header (the file must start with a line '---')"),
        ("---\nname: [unclosed\n---\nbody", "m.md: the YAML header does not parse"),
        ("---\n- a list\n---\nbody", "m.md: the YAML header must be a mapping of fields"),
    ],
)
def test_a_missing_or_malformed_header_names_the_file(text: str, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_front_matter(text, origin="m.md")
    assert str(caught.value).startswith(problem)
