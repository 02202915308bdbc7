"""AMPLIFIER_HOME: definitions, aliases, environments (uv), settings, and the session config they build.

Modules are imported lazily by the CLI; import from the submodules directly
(``from amplifier_ipc.registry.home import AmplifierHome``) to keep start-up fast.
"""

from __future__ import annotations

__all__: list[str] = []
