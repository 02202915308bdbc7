"""The ``mode`` tool: list, show, set and clear the session's active mode."""

from __future__ import annotations

from typing import Any

from amplifier_ipc_protocol import tool

from ..catalog import STATE_KEY, extra_dirs_from, load_catalog


@tool
class ModeTool:
    name = "mode"
    description = (
        "Work in a mode (for example plan, review, code): a mode limits which tools run and adds "
        "instructions. operation: 'list' the modes, 'current' to see the active one, "
        "'set' with a name, or 'clear' to leave the mode."
    )
    input_schema = {
        "type": "object",
        "properties": {
            "operation": {"type": "string", "enum": ["list", "current", "set", "clear"]},
            "name": {"type": "string", "description": "the mode to set (operation 'set')"},
        },
        "required": ["operation"],
    }
    config: dict[str, Any]
    host: Any

    async def execute(self, input: dict[str, Any]) -> dict[str, Any]:
        operation = input["operation"]
        if operation == "clear":
            previous = await self.host.state_get(STATE_KEY)
            await self.host.state_set(STATE_KEY, None)
            return _ok({"active": None, "previous": previous})
        if operation == "current":
            active = await self.host.state_get(STATE_KEY)
            if active is None:
                return _ok({"active": None})
            catalog = load_catalog(extra_dirs_from(self.config))
            mode = catalog.modes.get(active)
            if mode is None:
                return _fail(
                    f"the active mode {active!r} no longer exists; "
                    f"available: {', '.join(catalog.names()) or 'none'}"
                )
            return _ok({"active": active, **mode.summary()})
        catalog = load_catalog(extra_dirs_from(self.config))
        if operation == "list":
            active = await self.host.state_get(STATE_KEY)
            return _ok(
                {
                    "active": active,
                    "modes": [{"name": m.name, "description": m.description} for m in catalog.modes.values()],
                    "problems": catalog.problems,
                }
            )
        name = input.get("name")
        if not isinstance(name, str) or not name:
            return _fail("operation 'set' needs a mode name; call with operation 'list' to see them")
        if name not in catalog.modes:
            hint = f" ({'; '.join(catalog.problems)})" if catalog.problems else ""
            return _fail(f"no mode named {name!r}; available: {', '.join(catalog.names()) or 'none'}{hint}")
        await self.host.state_set(STATE_KEY, name)
        mode = catalog.modes[name]
        return _ok({"active": name, "description": mode.description, "instruction": mode.instruction})


def _ok(output: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, "output": output, "error": None}


def _fail(message: str) -> dict[str, Any]:
    return {"success": False, "output": None, "error": {"message": message, "type": "ModeError"}}
