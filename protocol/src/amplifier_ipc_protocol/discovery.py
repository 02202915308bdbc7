"""Find a service package's components and content.

Components live in conventional folders of the package (``tools/``,
``hooks/``, ``providers/``, ``orchestrators/``, ``context_managers/``),
scanned recursively; content in ``agents/``, ``context/``, ``behaviors/``,
``recipes/``. A component module that fails to import is an error naming the
module, never a silent omission.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

from .decorators import ComponentMark, mark_of
from .schema import check_object_schema

__all__ = [
    "COMPONENT_FOLDERS",
    "CONTENT_FOLDERS",
    "DiscoveryError",
    "Component",
    "Discovered",
    "discover",
    "package_root",
]

COMPONENT_FOLDERS = ("tools", "hooks", "providers", "orchestrators", "context_managers")
CONTENT_FOLDERS = ("agents", "context", "behaviors", "recipes")


class DiscoveryError(Exception):
    """One or more component modules could not be loaded or are malformed."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(slots=True)
class Component:
    """One decorated class (or function tool), instantiated."""

    kind: str
    name: str
    instance: Any
    mark: ComponentMark
    module: str


@dataclass(slots=True)
class Discovered:
    """Everything a service package offers: components and content paths."""

    package: str
    root: str
    components: list[Component] = field(default_factory=list)
    content: list[str] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Component]:
        return [c for c in self.components if c.kind == kind]


def package_root(package: str) -> str:
    """The folder of ``package`` (imported to find it)."""
    module = importlib.import_module(package)
    paths = list(getattr(module, "__path__", []))
    if not paths:
        raise DiscoveryError([f"{package} is a module, not a package; services are packages"])
    return str(paths[0])


def _snake(name: str) -> str:
    # ReadFile -> read_file, HTTPFetch -> http_fetch
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _module_names(package: str, root: str) -> list[str]:
    names: list[str] = []
    for folder in COMPONENT_FOLDERS:
        base = os.path.join(root, folder)
        if not os.path.isdir(base):
            continue
        for directory, subdirs, files in os.walk(base):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith((".", "__")))
            relative = os.path.relpath(directory, root).replace(os.sep, ".")
            for filename in sorted(files):
                if not filename.endswith(".py") or filename.startswith("."):
                    continue
                stem = filename[:-3]
                if stem == "__init__":
                    names.append(f"{package}.{relative}")
                else:
                    names.append(f"{package}.{relative}.{stem}")
    return names


def _list_content(root: str) -> list[str]:
    paths: list[str] = []
    for folder in CONTENT_FOLDERS:
        base = os.path.join(root, folder)
        if not os.path.isdir(base):
            continue
        for directory, subdirs, files in os.walk(base):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith((".", "__")))
            for filename in sorted(files):
                if filename.startswith(".") or filename.endswith((".py", ".pyc")):
                    continue
                full = os.path.join(directory, filename)
                paths.append(os.path.relpath(full, root).replace(os.sep, "/"))
    return paths


def _instantiate(obj: Any, mark: ComponentMark) -> Any:
    if mark.kind == "tool" and not isinstance(obj, type):
        from .function_tool import FunctionTool

        return FunctionTool(obj, name=mark.name, description=mark.options.get("description"))
    if not isinstance(obj, type):
        raise TypeError(f"@{mark.kind} must decorate a class")
    return obj()


def _component_name(instance: Any, obj: Any, mark: ComponentMark) -> str:
    if mark.name:
        return mark.name
    declared = getattr(instance, "name", None)
    if isinstance(declared, str) and declared:
        return declared
    return _snake(getattr(obj, "__name__", type(instance).__name__))


def _check(component: Component) -> None:
    instance = component.instance
    if component.kind == "tool":
        if hasattr(instance, "list_tools"):
            return  # a tool set: its tools are listed at describe time
        check_object_schema(getattr(instance, "input_schema", None), owner=f"tool {component.name}")
        if not callable(getattr(instance, "execute", None)):
            raise TypeError(f"tool {component.name} has no execute(input) method")
    required = {
        "hook": ("handle",),
        "provider": ("complete",),
        "orchestrator": ("execute",),
        "context_manager": ("add_message", "set_messages", "get_messages", "clear"),
    }.get(component.kind, ())
    for method in required:
        if not callable(getattr(instance, method, None)):
            raise TypeError(f"{component.kind} {component.name} has no {method}() method")


def discover(package: str) -> Discovered:
    """Import every component module of ``package`` and collect its components."""
    try:
        root = package_root(package)
    except DiscoveryError:
        raise
    except Exception as exc:
        raise DiscoveryError([f"package {package} failed to import: {type(exc).__name__}: {exc}"]) from exc
    found = Discovered(package=package, root=root, content=_list_content(root))
    problems: list[str] = []
    seen: set[int] = set()
    module_names = _module_names(package, root)
    scanned = set(module_names)
    for module_name in module_names:
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            tb = traceback.format_exc(limit=-3)
            sys.stderr.write(tb)
            problems.append(f"module {module_name} failed to import: {type(exc).__name__}: {exc}")
            continue
        for value in list(vars(module).values()):
            mark = mark_of(value)
            if mark is None or id(value) in seen:
                continue
            home = getattr(value, "__module__", None)
            if home != module_name and home in scanned:
                continue  # imported from another component module, which registers it
            seen.add(id(value))
            try:
                instance = _instantiate(value, mark)
                component = Component(
                    kind=mark.kind,
                    name=_component_name(instance, value, mark),
                    instance=instance,
                    mark=mark,
                    module=module_name,
                )
                _check(component)
            except Exception as exc:
                label = getattr(value, "__qualname__", type(value).__name__)
                problems.append(
                    f"{mark.kind} {label} in {module_name} is malformed: {type(exc).__name__}: {exc}"
                )
                continue
            found.components.append(component)
    problems.extend(_duplicate_names(found.components))
    if problems:
        raise DiscoveryError(problems)
    return found


def _duplicate_names(components: list[Component]) -> list[str]:
    """Two components of one kind with one name: the Host could not address them."""
    first: dict[tuple[str, str], Component] = {}
    problems: list[str] = []
    for component in components:
        key = (component.kind, component.name)
        if key in first:
            problems.append(
                f"{component.kind} name {component.name!r} is used twice "
                f"(in {first[key].module} and {component.module}); give one a different name"
            )
        else:
            first[key] = component
    return problems
