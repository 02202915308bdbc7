"""Decorators that mark a service's components.

They return what they decorate unchanged; the mark lives in a registry that
discovery reads. ``@tool`` also accepts a plain async function, whose input
schema comes from its type hints and docstring::

    @tool
    async def greet(name: str, times: int = 1) -> str:
        \"\"\"Greet someone.

        Args:
            name: who to greet
            times: how many times
        \"\"\"
        return " ".join([f"hello {name}"] * times)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

__all__ = [
    "ComponentMark",
    "KINDS",
    "tool",
    "hook",
    "provider",
    "orchestrator",
    "context_manager",
    "mark_of",
]

KINDS = ("tool", "hook", "provider", "orchestrator", "context_manager")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ComponentMark:
    kind: str
    name: str | None = None
    events: tuple[str, ...] = ()
    priority: int = 0
    options: dict[str, Any] = field(default_factory=dict)


_MARKS: dict[object, ComponentMark] = {}


def mark_of(obj: object) -> ComponentMark | None:
    """The mark a decorator put on ``obj``, or None."""
    try:
        return _MARKS.get(obj)
    except TypeError:  # unhashable objects are never components
        return None


def _marker(kind: str, **fields: Any) -> Callable[[T], T]:
    def apply(target: T) -> T:
        if not callable(target):
            raise TypeError(f"@{kind} marks a class or an async function, not {type(target).__name__}")
        _MARKS[target] = ComponentMark(kind=kind, **fields)
        return target

    return apply


@overload
def tool(target: T, /) -> T: ...
@overload
def tool(*, name: str | None = None, description: str | None = None) -> Callable[[T], T]: ...
def tool(target: Any = None, /, *, name: str | None = None, description: str | None = None) -> Any:
    """Mark a tool: a class with ``name``, ``description``, ``input_schema`` and
    ``async execute(input)``, or an async function."""
    options = {"description": description} if description is not None else {}
    apply = _marker("tool", name=name, options=options)
    return apply(target) if target is not None else apply


def hook(*, events: Iterable[str], priority: int = 0, name: str | None = None) -> Callable[[T], T]:
    """Mark a hook: a class with ``async handle(event, data)`` returning a HookResult."""
    event_list = tuple(events)
    if not event_list or not all(isinstance(e, str) and e for e in event_list):
        raise ValueError("@hook needs events=[...] with at least one event name (or '*')")
    return _marker("hook", name=name, events=event_list, priority=int(priority))


def _simple(kind: str, doc: str) -> Any:
    def decorator(target: Any = None, /, *, name: str | None = None) -> Any:
        apply = _marker(kind, name=name)
        return apply(target) if target is not None else apply

    decorator.__name__ = kind
    decorator.__doc__ = doc
    return decorator


@overload
def provider(target: T, /) -> T: ...
@overload
def provider(*, name: str | None = None, raw_request: bool = False) -> Callable[[T], T]: ...
def provider(target: Any = None, /, *, name: str | None = None, raw_request: bool = False) -> Any:
    """Mark a provider: a class with ``async complete(request)`` and optionally ``info()``.

    ``complete`` receives a ``ChatRequest`` model, or with ``raw_request=True``
    the request's JSON object as it came over the wire (PROTOCOL §9): a
    provider that only hands the request on to an SDK then never imports the
    pydantic models (about 170 ms on a 2-core machine, paid every turn)."""
    options = {"raw_request": True} if raw_request else {}
    apply = _marker("provider", name=name, options=options)
    return apply(target) if target is not None else apply


orchestrator = _simple(
    "orchestrator",
    "Mark an orchestrator: a class with ``async execute(prompt, system_prompt, session_id, config)``.",
)
context_manager = _simple(
    "context_manager",
    "Mark a context manager: a class with add_message, set_messages, get_messages and clear.",
)
