"""The ``load_skill`` tool: list, search, inspect and load skills."""

from __future__ import annotations

from typing import Any

from amplifier_ipc_protocol import tool

from ..catalog import LOADED_KEY, MAX_LISTED_FILES, Catalog, dirs_from, load_catalog


@tool
class LoadSkill:
    name = "load_skill"
    description = (
        "Skills are folders of instructions for specific tasks. operation: 'list' all skills, "
        "'search' with a query, 'info' for a skill's details and files, or 'load' to read its "
        "instructions (then follow them; companion files are in the skill's folder)."
    )
    input_schema = {
        "type": "object",
        "properties": {
            "operation": {"type": "string", "enum": ["list", "search", "info", "load"]},
            "skill_name": {"type": "string", "description": "the skill ('info' and 'load')"},
            "query": {"type": "string", "description": "words to find in names and descriptions ('search')"},
        },
        "required": ["operation"],
    }
    config: dict[str, Any]
    host: Any

    async def execute(self, input: dict[str, Any]) -> dict[str, Any]:
        catalog = load_catalog(dirs_from(self.config))
        operation = input["operation"]
        if operation == "list":
            return _ok(
                {"skills": _rows(catalog, list(catalog.skills.values())), "problems": catalog.problems}
            )
        if operation == "search":
            query = input.get("query")
            if not isinstance(query, str) or not query.strip():
                return _fail("operation 'search' needs a query")
            return _ok({"query": query, "skills": _rows(catalog, catalog.search(query))})
        name = input.get("skill_name")
        if not isinstance(name, str) or not name:
            return _fail(f"operation {operation!r} needs a skill_name; use operation 'list' to see them")
        skill = catalog.skills.get(name)
        if skill is None:
            known = ", ".join(catalog.skills) or "none"
            hint = f" ({'; '.join(catalog.problems)})" if catalog.problems else ""
            return _fail(f"no skill named {name!r}; available: {known}{hint}")
        if operation == "info":
            files = skill.files()
            return _ok(
                {
                    "name": skill.name,
                    "description": skill.description,
                    "folder": str(skill.folder),
                    "header": skill.header,
                    "files": files[:MAX_LISTED_FILES],
                    "more_files": max(0, len(files) - MAX_LISTED_FILES),
                }
            )
        body = skill.body()
        loaded = await self.host.state_get(LOADED_KEY) or []
        if name not in loaded:
            await self.host.state_set(LOADED_KEY, [*loaded, name])
        return _ok(
            f"# Skill: {skill.name}\n(folder: {skill.folder}; companion files are relative to it)\n\n{body}"
        )


def _rows(catalog: Catalog, skills: list[Any]) -> list[dict[str, str]]:
    return [{"name": s.name, "description": s.description} for s in skills]


def _ok(output: Any) -> dict[str, Any]:
    return {"success": True, "output": output, "error": None}


def _fail(message: str) -> dict[str, Any]:
    return {"success": False, "output": None, "error": {"message": message, "type": "SkillError"}}
