"""Errors of the registry: each says what happened and what to do.

RegistryError                 anything the registry refuses; ``hint`` says what to do
├── DefinitionError           a definition file is malformed (file, field, expected)
├── ResolutionError           a behavior cannot be found, fetched, or forms a cycle
├── InstallError              uv could not build a service's environment
├── SettingsError             a settings or keys file is malformed or unsafe
└── NotRegisteredError        an alias names nothing registered
"""

from __future__ import annotations

__all__ = [
    "RegistryError",
    "DefinitionError",
    "ResolutionError",
    "InstallError",
    "SettingsError",
    "NotRegisteredError",
]


class RegistryError(Exception):
    """A registry operation failed; ``hint`` tells the user what to do about it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class DefinitionError(RegistryError):
    """A definition does not match the format: names the file, the field and what is expected."""

    def __init__(self, file: str, field: str, expected: str, got: object = ...) -> None:
        detail = "" if got is ... else f", got {_short(got)}"
        super().__init__(
            f"{file}: field '{field}': expected {expected}{detail}",
            hint="fix the definition (format: docs/definitions.md)",
        )
        self.file = file
        self.field = field
        self.expected = expected


class ResolutionError(RegistryError):
    """A behavior reference cannot be resolved, or behaviors include each other."""


class InstallError(RegistryError):
    """Building a service environment failed."""


class SettingsError(RegistryError):
    """A settings file or keys file is malformed, or its permissions are unsafe."""


class NotRegisteredError(RegistryError):
    """No agent or behavior is registered under that name."""


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
