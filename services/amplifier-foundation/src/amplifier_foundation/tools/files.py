"""The ``files`` tool set: read_file, write_file, edit_file, apply_patch, glob, grep.

One component so that one config block holds the session's path policy::

    files:
      allowed_write_paths: [".", "/tmp/scratch"]   # default ["."] (the working directory)
      denied_write_paths: [".git", "secrets"]      # checked first; default []
      read_outside_working_dir: true                # default true
"""

from __future__ import annotations

import asyncio
from typing import Any

from amplifier_ipc_protocol import tool

from ..files.paths import PathPolicy, PathRefused
from ._results import fail

__all__ = ["Files", "FILE_TOOLS"]

_PATH = {"type": "string", "description": "File path, relative to the working directory or absolute."}

FILE_TOOLS: list[dict[str, Any]] = [
    {
        "name": "read_file",
        "description": (
            "Read a text file. Lines come numbered (number, tab, text). At most 2000 lines per call; "
            "use offset (1-based line) and limit to page. Lines over 2000 characters are cut. Binary files are refused."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "path": _PATH,
                "offset": {"type": "integer", "minimum": 1, "description": "First line to return (1-based)."},
                "limit": {"type": "integer", "minimum": 1, "description": "Number of lines (max 2000)."},
            },
            "required": ["path"],
            "additionalProperties": False,
        },
    },
    {
        "name": "write_file",
        "description": (
            "Create or overwrite a file with the given content (parent folders are created). "
            "Prefer edit_file for changes to an existing file."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "path": _PATH,
                "content": {"type": "string", "description": "The whole new file."},
            },
            "required": ["path", "content"],
            "additionalProperties": False,
        },
    },
    {
        "name": "edit_file",
        "description": (
            "Replace an exact piece of text in a file. old_string must match the file exactly (whitespace "
            "included) and be unique, unless replace_all is true. Read the file first."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "path": _PATH,
                "old_string": {"type": "string", "description": "Exact text to replace."},
                "new_string": {"type": "string", "description": "Text to put in its place."},
                "replace_all": {
                    "type": "boolean",
                    "description": "Replace every occurrence (default false).",
                },
            },
            "required": ["path", "old_string", "new_string"],
            "additionalProperties": False,
        },
    },
    {
        "name": "apply_patch",
        "description": (
            "Apply a unified diff (as written by `diff -u` or `git diff`) to one or more files. "
            "Use --- /dev/null to create a file and +++ /dev/null to delete one. "
            "The patch applies completely or not at all."
        ),
        "input_schema": {
            "type": "object",
            "properties": {"patch": {"type": "string", "description": "The unified diff text."}},
            "required": ["patch"],
            "additionalProperties": False,
        },
    },
    {
        "name": "glob",
        "description": (
            "List files matching a glob pattern such as '**/*.py' or 'src/*.md', newest first. "
            ".git, node_modules and virtualenvs are skipped."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "pattern": {"type": "string", "description": "Glob pattern, relative to path."},
                "path": {"type": "string", "description": "Folder to search (default: working directory)."},
            },
            "required": ["pattern"],
            "additionalProperties": False,
        },
    },
    {
        "name": "grep",
        "description": (
            "Search file contents with a regular expression. Results are 'path:line:text' "
            "(or paths, or counts, per output_mode)."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "pattern": {"type": "string", "description": "Regular expression."},
                "path": {
                    "type": "string",
                    "description": "File or folder to search (default: working directory).",
                },
                "glob": {"type": "string", "description": "Only files matching this glob, e.g. '*.py'."},
                "case_insensitive": {"type": "boolean"},
                "output_mode": {"type": "string", "enum": ["content", "files_with_matches", "count"]},
                "max_results": {"type": "integer", "minimum": 1},
            },
            "required": ["pattern"],
            "additionalProperties": False,
        },
    },
]


@tool(name="files")
class Files:
    """Tool set of the file tools; see the module docstring for its config."""

    host: Any  # the HostClient, set by the Server

    def __init__(self) -> None:
        self.config: dict[str, Any] = {}

    def list_tools(self) -> list[dict[str, Any]]:
        return FILE_TOOLS

    async def execute(self, input: dict[str, Any], *, name: str) -> dict[str, Any]:
        from ..files import file_ops, patch, search

        policy = PathPolicy(self.config)
        try:
            if name == "grep":
                return await search.grep(policy, input)
            function = {
                "read_file": file_ops.read_file,
                "write_file": file_ops.write_file,
                "edit_file": file_ops.edit_file,
                "apply_patch": patch.apply_patch,
                "glob": search.glob_files,
            }[name]
            return await asyncio.to_thread(function, policy, input)
        except PathRefused as exc:
            return fail(str(exc), "PathRefused")
        except PermissionError as exc:
            return fail(f"permission denied: {exc.filename or exc}", "PermissionDenied")
        except IsADirectoryError as exc:
            return fail(f"{exc.filename} is a directory", "IsADirectory")
