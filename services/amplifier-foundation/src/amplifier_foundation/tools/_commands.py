"""Which shell commands a profile refuses, and which are read-only.

Profiles: ``off`` refuses nothing; ``standard`` (default) refuses commands
that destroy a system or a disk; ``strict`` also refuses privilege changes,
piping downloads into a shell, force pushes and history rewrites.
"""

from __future__ import annotations

import re
import shlex

__all__ = ["PROFILES", "refusal", "is_read_only"]

_STANDARD = [
    (
        # Any options around a recursive flag (-rf, -r -f, --recursive, --no-preserve-root), then / ~ or $HOME.
        r"\brm\s+(-\S*\s+)*(-[a-zA-Z]*[rR][a-zA-Z]*|--recursive)\s+(-\S*\s+)*(/\*?|~/?|\$HOME/?|\$\{HOME\}/?)(\s|$)",
        "deletes the root or home folder",
    ),
    (r"\bmkfs(\.\w+)?\b", "formats a filesystem"),
    (r"\bdd\b.*\bof=/dev/(sd|nvme|hd|vd|xvd|disk)", "writes raw bytes to a disk"),
    (r">\s*/dev/(sd|nvme|hd|vd|xvd)[a-z0-9]*", "overwrites a disk device"),
    (r":\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:", "is a fork bomb"),
    (r"\b(shutdown|reboot|halt|poweroff)\b", "stops the machine"),
    (r"\bchmod\s+(-[a-zA-Z]*\s+)*-?R?\s*0?777\s+/(\s|$)", "opens every file of the system to everyone"),
    (r"\bchown\s+-R\s+\S+\s+/(\s|$)", "changes the owner of every file of the system"),
]
_STRICT = [
    *_STANDARD,
    (r"\b(sudo|su|doas)\b", "changes privileges"),
    (r"\b(curl|wget)\b[^|]*\|\s*(ba|z|da)?sh\b", "runs a downloaded script"),
    (r"\bgit\s+push\b.*(--force\b|-f\b|--force-with-lease)", "force-pushes"),
    (r"\bgit\s+(reset\s+--hard|clean\s+-[a-zA-Z]*f)", "discards work irreversibly"),
    (r"\brm\s+(-[a-zA-Z]*\s+)*-[a-zA-Z]*[rR]", "deletes folders recursively"),
]

PROFILES: dict[str, list[tuple[re.Pattern[str], str]]] = {
    "off": [],
    "standard": [(re.compile(p), why) for p, why in _STANDARD],
    "strict": [(re.compile(p), why) for p, why in _STRICT],
}

# Commands that only look; the approval hook lets them run without asking.
READ_ONLY_COMMANDS = frozenset(
    {
        "ls",
        "pwd",
        "cat",
        "head",
        "tail",
        "wc",
        "echo",
        "whoami",
        "date",
        "which",
        "file",
        "stat",
        "tree",
        "du",
        "df",
        "env",
        "printenv",
        "uname",
        "rg",
        "grep",
        "find",
        "true",
    }
)
READ_ONLY_GIT = frozenset(
    {"status", "diff", "log", "show", "branch", "blame", "remote", "rev-parse", "ls-files"}
)
# Shell syntax that can write or chain into something else.
_UNSAFE_SYNTAX = re.compile(r"[;&|<>`]|\$\(")


def refusal(command: str, profile: str) -> str | None:
    """Why ``profile`` refuses ``command``, or None when it may run."""
    if profile not in PROFILES:
        known = ", ".join(PROFILES)
        return f"unknown bash profile {profile!r} (known: {known}); fix the bash config"
    for pattern, why in PROFILES[profile]:
        if pattern.search(command):
            return f"refused by the {profile!r} safety profile: the command {why}"
    return None


def is_read_only(command: str) -> bool:
    """True for a single command that only reads (``ls -la``, ``git status``)."""
    if _UNSAFE_SYNTAX.search(command):
        return False
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    if not words:
        return False
    if words[0] == "git":
        return len(words) > 1 and words[1] in READ_ONLY_GIT
    if words[0] == "find" and any(w in ("-exec", "-execdir", "-delete", "-ok") for w in words):
        return False
    return words[0] in READ_ONLY_COMMANDS
