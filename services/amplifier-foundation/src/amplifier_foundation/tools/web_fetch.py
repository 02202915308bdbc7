"""The ``web_fetch`` tool: fetch a URL with httpx (imported on first use).

Config::

    web_fetch:
      timeout: 30            # seconds for the whole fetch
      max_bytes: 2000000     # body bytes read; the rest is dropped
      max_output_chars: 50000
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from amplifier_ipc_protocol import tool

from ._results import fail, ok

__all__ = ["WebFetch"]

# Seconds for one whole fetch (connect, redirects, body).
DEFAULT_TIMEOUT_S = 30.0
# Body bytes read; larger pages are cut, so one page cannot exhaust memory.
DEFAULT_MAX_BYTES = 2_000_000
# Characters of extracted text returned to the model.
DEFAULT_MAX_OUTPUT_CHARS = 50_000
# Redirects followed before giving up.
MAX_REDIRECTS = 5
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml", "application/javascript")


@tool(name="web_fetch")
class WebFetch:
    name = "web_fetch"
    description = (
        "Fetch an http(s) URL and return its text: HTML pages are turned into readable text "
        "(scripts and styles dropped); JSON and plain text come as they are. Large pages are cut."
    )
    input_schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "description": "An http:// or https:// URL."},
            "raw": {"type": "boolean", "description": "Return HTML as is instead of extracted text."},
        },
        "required": ["url"],
        "additionalProperties": False,
    }

    host: Any  # the HostClient, set by the Server

    def __init__(self) -> None:
        self.config: dict[str, Any] = {}

    async def execute(self, input: dict[str, Any]) -> dict[str, Any]:
        url = input["url"].strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return fail(f"{url!r} is not an http(s) URL; give a full URL such as https://example.com/page")
        import httpx  # heavy; only this tool needs it

        timeout = float(self.config.get("timeout", DEFAULT_TIMEOUT_S))
        max_bytes = int(self.config.get("max_bytes", DEFAULT_MAX_BYTES))
        deadline = time.monotonic() + timeout
        body = bytearray()
        truncated = False
        try:
            async with (
                httpx.AsyncClient(
                    follow_redirects=True, max_redirects=MAX_REDIRECTS, timeout=timeout
                ) as client,
                client.stream("GET", url, headers={"User-Agent": "amplifier-ipc web_fetch"}) as response,
            ):
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > max_bytes:
                        truncated = True
                        del body[max_bytes:]
                        break
                    if time.monotonic() > deadline:
                        return fail(f"fetching {url} took longer than {timeout:g}s", "Timeout")
        except httpx.TimeoutException:
            return fail(f"fetching {url} timed out after {timeout:g}s", "Timeout")
        except httpx.HTTPError as exc:
            return fail(f"fetching {url} failed: {type(exc).__name__}: {exc}", "FetchError")
        content_type = response.headers.get("content-type", "").lower()
        if content_type and not content_type.startswith(_TEXT_TYPES):
            return fail(f"{url} returned {content_type}, not text; web_fetch only returns text", "NotText")
        text = bytes(body).decode(response.encoding or "utf-8", errors="replace")
        if "html" in content_type and not input.get("raw"):
            from ..web_text import html_to_text

            text = html_to_text(text)
        limit = int(self.config.get("max_output_chars", DEFAULT_MAX_OUTPUT_CHARS))
        if len(text) > limit:
            text, truncated = text[:limit], True
        header = f"URL: {response.url}\nStatus: {response.status_code}\n"
        if truncated:
            header += "Note: the page was cut to fit the size limit.\n"
        result = header + "\n" + text
        if response.status_code >= 400:
            return fail(f"{url} answered HTTP {response.status_code}", "HTTPStatus", output=result)
        return ok(result)
