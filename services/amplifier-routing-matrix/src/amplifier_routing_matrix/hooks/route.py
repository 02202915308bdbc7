"""Picks the provider and model of each provider request from the model role
it asks for, using the configured routing matrix (docs/routing.md).

Reads ``data.model_role`` (else ``data.request.metadata.model_role``), and
``data.available_providers`` when present. A request that asks for no role
keeps the session's provider and model: the user's choice (``--provider``,
settings) is never overridden by a matrix nobody asked for. A role the matrix
does not know uses its ``default`` role. Writes ``data.provider``,
``data.model``, ``data.request.model`` and ``data.routing`` and answers
MODIFY; answers CONTINUE when it has nothing to choose.
"""

from __future__ import annotations

import sys
from typing import Any

from amplifier_ipc_protocol import hook

from ..matrix import DEFAULT_MATRIX, DEFAULT_ROLE, Matrix, MatrixError, load_matrix


def role_of(data: dict[str, Any]) -> str | None:
    role = data.get("model_role")
    if isinstance(role, str) and role:
        return role
    request = data.get("request")
    metadata = request.get("metadata") if isinstance(request, dict) else None
    role = metadata.get("model_role") if isinstance(metadata, dict) else None
    return role if isinstance(role, str) and role else None


@hook(events=["provider:request"], priority=-10, name="routing")
class RoutingHook:
    config: dict[str, Any]
    host: Any

    def __init__(self) -> None:
        self._matrix: Matrix | None = None

    def configure(self, config: dict[str, Any]) -> None:
        name = config.get("matrix", DEFAULT_MATRIX)
        if not isinstance(name, str) or not name:
            raise ValueError("routing config 'matrix' must be a matrix name or a path to a YAML file")
        available = config.get("providers")
        if available is not None and not (
            isinstance(available, list) and all(isinstance(p, str) for p in available)
        ):
            raise ValueError("routing config 'providers' must be a list of provider names")
        self._matrix = load_matrix(name)  # a bad matrix fails configure, with its reason

    def _loaded(self) -> Matrix:
        if self._matrix is None:
            self.configure(self.config or {})
        assert self._matrix is not None
        return self._matrix

    async def handle(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        try:
            matrix = self._loaded()
        except (MatrixError, ValueError) as exc:
            sys.stderr.write(f"[amplifier-routing-matrix] routing disabled: {exc}\n")
            return {"action": "CONTINUE"}
        asked = role_of(data)
        if asked is None:
            return {"action": "CONTINUE"}
        role = asked if asked in matrix.roles else DEFAULT_ROLE
        available = data.get("available_providers")
        if not isinstance(available, list):
            available = self.config.get("providers") if isinstance(self.config, dict) else None
        route = matrix.choose(role, available)
        if route is None:
            if asked is not None:
                sys.stderr.write(
                    f"[amplifier-routing-matrix] matrix {matrix.name!r} has no available route for role "
                    f"{asked!r}; the request keeps its provider and model\n"
                )
            return {"action": "CONTINUE"}
        modified = dict(data)
        modified["provider"] = route.provider
        modified["model"] = route.model
        request = data.get("request")
        if isinstance(request, dict):
            modified["request"] = {**request, "model": route.model}
        modified["routing"] = {
            "matrix": matrix.name,
            "role": role,
            "requested_role": asked,
            "provider": route.provider,
            "model": route.model,
        }
        return {"action": "MODIFY", "data": modified}
