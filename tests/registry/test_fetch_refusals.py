"""A URL that answers something other than a definition is refused, and nothing of it is cached (bug 6)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from amplifier_ipc.registry.errors import DefinitionError, ResolutionError
from amplifier_ipc.registry.locations import fetch_definition

SIGN_IN_PAGE = b"<!DOCTYPE html>\n<html><body>Sign in</body></html>\n"
BEHAVIOR = b"behavior:\n  ref: late\n  uuid: 8f0c54c4-4371-4638-87d0-fc0985efdfa5\n"


class Server:
    """A loopback server answering every GET with ``body`` and ``content_type``, counting requests."""

    def __init__(self) -> None:
        self.body = SIGN_IN_PAGE
        self.content_type = "text/html; charset=utf-8"
        self.requests = 0
        self.url = ""


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            self.send_response(200)
            self.send_header("Content-Type", state.content_type)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/behaviors/late.yaml"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_html_page_is_refused_naming_its_content_type_and_is_not_cached(server: Server, tmp_path: Path):
    cache = tmp_path / "cache"
    with pytest.raises(ResolutionError) as caught:
        fetch_definition(server.url, cache)
    assert caught.value.message == (
        f"{server.url} returned an HTML page (Content-Type text/html), not YAML: "
        "'<!DOCTYPE html> <html><body>Sign in</body></html>'"
    )
    assert "raw YAML file" in caught.value.hint
    assert not cache.exists()


def test_an_html_page_served_as_plain_text_is_refused_too(server: Server, tmp_path: Path):
    server.content_type = "text/plain"
    with pytest.raises(ResolutionError, match=r"returned an HTML page \(Content-Type text/plain\), not YAML"):
        fetch_definition(server.url, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_yaml_that_is_not_a_definition_is_refused_and_not_cached(server: Server, tmp_path: Path):
    server.body, server.content_type = b"just: a mapping\n", "application/yaml"
    with pytest.raises(DefinitionError, match="exactly one top-level key"):
        fetch_definition(server.url, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_a_url_refused_once_is_fetched_again_and_cached_once_it_serves_a_definition(
    server: Server, tmp_path: Path
):
    cache = tmp_path / "cache"
    with pytest.raises(ResolutionError):
        fetch_definition(server.url, cache)
    server.body, server.content_type = BEHAVIOR, "application/yaml"
    assert fetch_definition(server.url, cache).raw == BEHAVIOR
    assert fetch_definition(server.url, cache).raw == BEHAVIOR
    assert server.requests == 2, "the definition is read from the cache the second time"
