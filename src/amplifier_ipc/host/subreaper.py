"""Making this process the reaper of orphans below it (Linux ``PR_SET_CHILD_SUBREAPER``).

On its own so the fork server can be started before anything heavy is imported.
"""

from __future__ import annotations

import sys

__all__ = ["become_subreaper"]

# linux/prctl.h: orphans below this process are reparented to it, not to init.
PR_SET_CHILD_SUBREAPER = 36

_subreaper: bool | None = None


def become_subreaper() -> bool:
    """Make this process the reaper of orphans below it (Linux); False where unsupported."""
    global _subreaper
    if _subreaper is None:
        _subreaper = False
        if sys.platform.startswith("linux"):
            import ctypes  # only here: it costs an import on the Host's start otherwise

            try:
                libc = ctypes.CDLL(None, use_errno=True)
                _subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
            except (OSError, AttributeError):
                _subreaper = False
    return _subreaper
