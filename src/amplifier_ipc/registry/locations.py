"""Find and fetch the bytes of a definition or a service source.

A location is one of: a relative or absolute path (relative to the file that
names it), ``file://``, ``https://`` (fetched once, then read from the cache;
only an answer that parsed as a definition is cached, so a sign-in page or a
broken file is fetched again next time) or
``git+https://host/repo@ref#subdirectory=path`` (cloned shallow, once).
A bare name with no slash is an alias, resolved by the caller.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from .definitions import parse_definition
from .errors import ResolutionError

__all__ = [
    "Fetched",
    "GitLocation",
    "is_alias",
    "fetch_definition",
    "join_location",
    "parse_git_url",
    "git_checkout",
    "checkout_dir",
    "checkout_commit",
    "remote_commit",
]

# A definition is a small YAML file; anything larger is not one.
MAX_DEFINITION_BYTES = 1024 * 1024
# How much of a refused web page the error shows: enough to recognise a sign-in page.
HTML_EXCERPT_BYTES = 80
# Long enough for a slow server, short enough that a dead one fails a command promptly.
HTTP_TIMEOUT_S = 30.0
# A shallow clone of one ref; a repository that takes longer is unreachable in practice.
GIT_TIMEOUT_S = 300.0
# A git ref that is a commit id (abbreviated or full) names one commit forever.
COMMIT_ID = re.compile(r"^[0-9a-f]{7,40}$")


@dataclass(slots=True)
class Fetched:
    """The raw bytes of a definition and where they came from."""

    raw: bytes
    source_url: str
    """What the user named, canonicalised (a path, an https or git URL)."""
    local_path: str | None
    """A file on disk that relative locations inside it resolve against, if any."""

    @property
    def base(self) -> str:
        return self.local_path or self.source_url


@dataclass(slots=True)
class GitLocation:
    url: str
    ref: str | None
    subdirectory: str


def is_alias(location: str) -> bool:
    """A bare name (no slash, no scheme, no YAML suffix) names a registered definition."""
    return "/" not in location and "://" not in location and not location.endswith((".yaml", ".yml"))


def join_location(base: str, location: str) -> str:
    """``location`` made absolute against ``base`` (the file or URL naming it)."""
    if "://" in location or location.startswith("git+"):
        return location
    if base.startswith(("https://", "http://")):
        return urljoin(base, location)
    if os.path.isabs(location):
        return os.path.normpath(location)
    return os.path.normpath(os.path.join(os.path.dirname(base), location))


def parse_git_url(location: str) -> GitLocation:
    """Split ``git+https://host/repo.git@ref#subdirectory=path``."""
    rest = location[len("git+") :]
    fragment = ""
    if "#" in rest:
        rest, fragment = rest.split("#", 1)
    subdirectory = ""
    for part in fragment.split("&"):
        if part.startswith("subdirectory="):
            subdirectory = unquote(part[len("subdirectory=") :])
    scheme_end = rest.index("://") + 3 if "://" in rest else 0
    ref = None
    at = rest.rfind("@")
    if at > scheme_end and "/" not in rest[at:]:
        rest, ref = rest[:at], rest[at + 1 :]
    parts = [p for p in subdirectory.split("/") if p]
    if ".." in parts or subdirectory.startswith("/"):
        raise ResolutionError(
            f"{location}: subdirectory must stay inside the repository",
            hint="remove '..' from #subdirectory=",
        )
    return GitLocation(url=rest, ref=ref or None, subdirectory="/".join(parts))


def checkout_dir(git: GitLocation, cache_dir: Path) -> Path:
    """Where ``git_checkout`` keeps the checkout of ``git.url`` at ``git.ref``."""
    key = hashlib.sha256(f"{git.url}@{git.ref or ''}".encode()).hexdigest()[:24]
    return cache_dir / "git" / key


def checkout_commit(folder: Path) -> str | None:
    """The commit checked out in ``folder``, or None when there is no checkout there."""
    if not (folder / ".git").exists():
        return None
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=GIT_TIMEOUT_S
    )
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def remote_commit(git: GitLocation) -> str | None:
    """The commit ``git.ref`` names in the remote repository now, asked without fetching.

    None when the ref is a commit id (it cannot move). A branch or tag the
    remote does not have is an error naming it.
    """
    ref = git.ref or "HEAD"
    if COMMIT_ID.match(ref):
        return None
    done = _git(["git", "ls-remote", git.url, ref], cwd=None, git=git)
    found: dict[str, str] = {}
    for line in done.splitlines():
        commit, _, name = line.partition("\t")
        found[name] = commit
    for name in (f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}", f"refs/heads/{ref}", ref):
        if name in found:
            return found[name]
    if found:
        return next(iter(found.values()))
    raise ResolutionError(
        f"cannot fetch {git.url}@{ref}: the repository has no branch or tag '{ref}'",
        hint="check the ref (branch, tag or commit) in the URL after '@'",
    )


def _git(step: list[str], cwd: Path | None, git: GitLocation) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    if shutil.which("git") is None:
        raise ResolutionError(
            f"cannot fetch {git.url}: git is not installed", hint="install git, or use a local path"
        )
    try:
        done = subprocess.run(step, cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        raise ResolutionError(f"cannot fetch {git.url}: git took longer than {GIT_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        raise ResolutionError(
            f"cannot fetch {git.url}@{git.ref or 'HEAD'}: {done.stderr.strip() or 'git failed'}",
            hint="check the URL and the ref (branch, tag or commit)",
        )
    return done.stdout


def git_checkout(git: GitLocation, cache_dir: Path, *, refresh: bool = False) -> Path:
    """A shallow checkout of ``git.url`` at ``git.ref``, cloned once into the cache.

    ``refresh`` fetches again; a checkout already at the fetched commit is kept
    as it is (so the environments installed from it stay current).
    """
    dest = checkout_dir(git, cache_dir)
    if dest.is_dir() and not refresh:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".clone-", dir=dest.parent))
    steps = [
        ["git", "init", "-q"],
        ["git", "fetch", "-q", "--depth", "1", git.url, git.ref or "HEAD"],
        ["git", "checkout", "-q", "FETCH_HEAD"],
    ]
    try:
        for step in steps:
            _git(step, cwd=work, git=git)
    except ResolutionError:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if dest.exists():
        if checkout_commit(dest) == checkout_commit(work):
            shutil.rmtree(work, ignore_errors=True)
            return dest
        shutil.rmtree(dest)
    work.rename(dest)
    return dest


def fetch_definition(location: str, cache_dir: Path, *, refresh: bool = False) -> Fetched:
    """The bytes of the definition at an absolute ``location`` (see ``join_location``)."""
    if location.startswith("git+"):
        git = parse_git_url(location)
        root = git_checkout(git, cache_dir, refresh=refresh)
        target = root / git.subdirectory if git.subdirectory else root
        if target.is_dir():
            target = _single_yaml(target, location)
        return Fetched(raw=_read_file(target, location), source_url=location, local_path=str(target))
    if location.startswith(("https://", "http://")):
        return Fetched(raw=_fetch_http(location, cache_dir, refresh), source_url=location, local_path=None)
    if location.startswith("file://"):
        location = unquote(urlsplit(location).path)
    if "://" in location:
        scheme = location.split("://", 1)[0]
        raise ResolutionError(
            f"{location}: unsupported scheme '{scheme}'",
            hint="use a path, file://, https:// or git+https://...@ref#subdirectory=...",
        )
    path = Path(location)
    if path.is_dir():
        path = _single_yaml(path, location)
    return Fetched(
        raw=_read_file(path, location), source_url=str(path.resolve()), local_path=str(path.resolve())
    )


def _single_yaml(folder: Path, location: str) -> Path:
    found = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
    if len(found) != 1:
        raise ResolutionError(
            f"{location} is a folder with {len(found)} YAML files",
            hint="name the definition file itself",
        )
    return found[0]


def _read_file(path: Path, location: str) -> bytes:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ResolutionError(
            f"{location}: no such file", hint="check the path (relative to the file naming it)"
        ) from None
    except OSError as exc:
        raise ResolutionError(f"{location}: cannot read it: {exc.strerror}") from None
    if size > MAX_DEFINITION_BYTES:
        raise ResolutionError(f"{location}: {size} bytes is too large for a definition")
    return path.read_bytes()


def _fetch_http(url: str, cache_dir: Path, refresh: bool) -> bytes:
    cached = cache_dir / "http" / (hashlib.sha256(url.encode()).hexdigest()[:32] + ".yaml")
    if cached.is_file() and not refresh:
        return cached.read_bytes()
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as response:
            raw: bytes = response.read(MAX_DEFINITION_BYTES + 1)
            content_type = str(response.headers.get("Content-Type") or "")
    except urllib.error.HTTPError as exc:
        raise ResolutionError(
            f"cannot fetch {url}: HTTP {exc.code} {exc.reason}", hint="check the URL"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ResolutionError(
            f"cannot fetch {url}: {reason}", hint="check the URL and your network"
        ) from None
    if len(raw) > MAX_DEFINITION_BYTES:
        raise ResolutionError(f"{url}: more than {MAX_DEFINITION_BYTES} bytes is too large for a definition")
    _refuse_html(url, raw, content_type)
    parse_definition(raw, url)  # raises before anything is cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_bytes(raw)
    tmp.replace(cached)
    return raw


def _refuse_html(url: str, raw: bytes, content_type: str) -> None:
    """A web page (a sign-in page, a repository's file view) where a YAML file was expected."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    looks_html = raw.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html"))
    if media_type in ("text/html", "application/xhtml+xml") or looks_html:
        shown = media_type or "none"
        text = " ".join(raw[:HTML_EXCERPT_BYTES].decode("utf-8", errors="replace").split())
        raise ResolutionError(
            f"{url} returned an HTML page (Content-Type {shown}), not YAML: {text!r}",
            hint="give the URL of the raw YAML file (a 'raw' link), not of a web page; "
            "a sign-in page means the file is not public",
        )
