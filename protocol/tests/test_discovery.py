"""Discovery: conventional folders scanned recursively; failures named."""

from __future__ import annotations

from pathlib import Path

import pytest
from amplifier_ipc_protocol.discovery import DiscoveryError, discover
from protocol_testkit import make_package

TOOL = """
from amplifier_ipc_protocol import tool

@tool
class {cls}:
    description = "d"

    @property
    def input_schema(self):
        return {{"type": "object", "properties": {{}}}}

    async def execute(self, input):
        return "{cls}"
"""


def test_components_are_found_in_nested_folders_and_content_is_listed(tmp_path: Path) -> None:
    package = make_package(
        tmp_path,
        {
            "tools/__init__.py": "",
            "tools/files/deep/reader.py": TOOL.format(cls="ReadFile"),
            "hooks/guard.py": "from amplifier_ipc_protocol import hook\n"
            "@hook(events=['tool:pre'], priority=3)\nclass Guard:\n    async def handle(self, event, data):\n        return None\n",
            "context/a.md": "A",
            "agents/sub/b.md": "B",
            "context/.hidden.md": "hidden",
            "recipes/helper.py": "print('not content')",
            "lib/unscanned.py": "raise RuntimeError('never imported')",
        },
    )
    found = discover(package)
    assert [(c.kind, c.name) for c in found.components] == [("tool", "read_file"), ("hook", "guard")]
    assert found.components[0].module == f"{package}.tools.files.deep.reader"
    assert found.content == ["agents/sub/b.md", "context/a.md"]


def test_a_module_that_fails_to_import_is_an_error_naming_the_module_and_the_exception(
    tmp_path: Path,
) -> None:
    package = make_package(
        tmp_path,
        {
            "tools/good.py": TOOL.format(cls="Good"),
            "tools/bad.py": "import no_such_module_here\n",
            "hooks/syntax.py": "def (\n",
        },
    )
    with pytest.raises(DiscoveryError) as caught:
        discover(package)
    problems = caught.value.problems
    assert (
        f"module {package}.tools.bad failed to import: ModuleNotFoundError: No module named 'no_such_module_here'"
        in problems
    )
    assert any(p.startswith(f"module {package}.hooks.syntax failed to import: SyntaxError") for p in problems)


def test_a_tool_whose_schema_is_not_an_object_schema_is_an_error_naming_it(tmp_path: Path) -> None:
    package = make_package(
        tmp_path,
        {
            "tools/odd.py": "from amplifier_ipc_protocol import tool\n@tool\nclass Odd:\n"
            "    input_schema = {'type': 'string'}\n    async def execute(self, input):\n        return 1\n"
        },
    )
    with pytest.raises(
        DiscoveryError,
        match=rf"tool Odd in {package}.tools.odd is malformed: ValueError: "
        r"tool odd: input_schema must have type 'object', got 'string'",
    ):
        discover(package)


def test_a_component_missing_its_method_is_an_error_saying_which(tmp_path: Path) -> None:
    package = make_package(
        tmp_path,
        {"providers/p.py": "from amplifier_ipc_protocol import provider\n@provider\nclass P:\n    pass\n"},
    )
    with pytest.raises(DiscoveryError, match=r"provider p has no complete\(\) method"):
        discover(package)


def test_a_component_imported_by_another_component_module_is_registered_once(tmp_path: Path) -> None:
    package = make_package(
        tmp_path, {"tools/a.py": TOOL.format(cls="Shared"), "tools/b.py": "from .a import Shared\n"}
    )
    assert [c.name for c in discover(package).components] == ["shared"]


def test_a_component_defined_outside_the_folders_is_found_through_the_module_that_imports_it(
    tmp_path: Path,
) -> None:
    package = make_package(
        tmp_path, {"impl/core.py": TOOL.format(cls="Core"), "tools/core.py": "from ..impl.core import Core\n"}
    )
    assert [c.name for c in discover(package).components] == ["core"]


def test_two_components_of_one_kind_with_one_name_are_an_error(tmp_path: Path) -> None:
    package = make_package(
        tmp_path,
        {"tools/a.py": TOOL.format(cls="Same"), "tools/b.py": TOOL.format(cls="Same")},
    )
    with pytest.raises(DiscoveryError, match=r"tool name 'same' is used twice .*give one a different name"):
        discover(package)


def test_the_name_comes_from_the_decorator_then_the_instance_then_the_class(tmp_path: Path) -> None:
    package = make_package(
        tmp_path,
        {
            "tools/names.py": """
from amplifier_ipc_protocol import tool

SCHEMA = {"type": "object", "properties": {}}

@tool(name="by_decorator")
class A:
    name = "ignored"
    input_schema = SCHEMA
    async def execute(self, input): ...

@tool
class B:
    name = "by_instance"
    input_schema = SCHEMA
    async def execute(self, input): ...

@tool
class HTTPFetchTool:
    input_schema = SCHEMA
    async def execute(self, input): ...
"""
        },
    )
    assert [c.name for c in discover(package).components] == [
        "by_decorator",
        "by_instance",
        "http_fetch_tool",
    ]


def test_a_package_that_does_not_import_is_an_error_naming_it(tmp_path: Path) -> None:
    package = make_package(tmp_path, {})
    (tmp_path / package / "__init__.py").write_text("raise ImportError('broken init')\n")
    with pytest.raises(
        DiscoveryError, match=rf"package {package} failed to import: ImportError: broken init"
    ):
        discover(package)


def test_a_module_is_not_a_service_package(tmp_path: Path) -> None:
    (tmp_path / "single_module_svc.py").write_text("")
    import sys

    sys.path.insert(0, str(tmp_path))
    with pytest.raises(DiscoveryError, match="is a module, not a package"):
        discover("single_module_svc")
