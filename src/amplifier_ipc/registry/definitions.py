"""Agent and behavior definitions: parse the YAML and validate every field.

The format is documented in docs/definitions.md. Parsing never touches the
network or the disk beyond the text it is given; resolving behaviors is
``resolver.py``'s job.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from amplifier_ipc_protocol.yamlcache import YAMLError, load_yaml

from .errors import DefinitionError

__all__ = [
    "BehaviorRef",
    "Definition",
    "ServiceDecl",
    "parse_definition",
    "definition_id",
]

KINDS = ("agent", "behavior")
REF_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
COMPONENT_REF_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$")
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
INSTALLERS = ("uv",)

COMMON_FIELDS = (
    "ref",
    "local_ref",
    "uuid",
    "description",
    "behaviors",
    "service",
    "config",
    "instructions",
    "context",
)
AGENT_ONLY_FIELDS = ("orchestrator", "context_manager", "provider", "model", "tools")
# A tool name (letters, digits, '_', '-', '.') or a glob of one ('*', '?', '[...]').
TOOL_SELECTOR_PATTERN = re.compile(r"^[A-Za-z0-9_.*?\[\]!-]{1,128}$")
SERVICE_FIELDS = ("installer", "stack", "source", "command", "env", "name")


@dataclass(slots=True)
class BehaviorRef:
    """One entry of ``behaviors:``: an alias and where to find it."""

    alias: str
    location: str
    """A registered alias, a relative path, ``file://``, ``https://`` or ``git+https://`` URL."""


@dataclass(slots=True)
class ServiceDecl:
    """How to install and start the service a definition brings."""

    name: str
    installer: str
    source: str
    command: list[str]
    env: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Definition:
    """A parsed, validated agent or behavior definition."""

    kind: str
    ref: str
    uuid: str
    origin: str
    """Where it was read from (a file path or URL): relative locations resolve against it."""
    sha256: str
    description: str = ""
    orchestrator: str | None = None
    context_manager: str | None = None
    provider: str | None = None
    model: str | None = None
    behaviors: list[BehaviorRef] = field(default_factory=list)
    service: ServiceDecl | None = None
    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    instructions: str = ""
    context: list[str] = field(default_factory=list)
    tools: list[str] | None = None
    """Tool names or globs the model is offered (an agent's ``tools:``); None offers every tool."""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return definition_id(self.kind, self.ref, self.uuid)


def definition_id(kind: str, ref: str, uuid: str) -> str:
    """The stable id of a definition: ``<kind>_<ref>_<uuid>``."""
    return f"{kind}_{ref}_{uuid}"


def parse_definition(raw: bytes | str, origin: str) -> Definition:
    """Parse and validate one definition; ``origin`` names it in errors."""
    data = raw.encode() if isinstance(raw, str) else raw
    try:
        doc = load_yaml(data)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise DefinitionError(
            origin, "<document>", f"valid YAML{where}: {getattr(exc, 'problem', exc)}"
        ) from None
    if not isinstance(doc, dict):
        raise DefinitionError(origin, "<document>", "a mapping with an 'agent:' or 'behavior:' key", doc)
    meta = doc.get("_meta") or {}
    kinds = [k for k in KINDS if k in doc]
    extra = sorted(str(k) for k in doc if k not in (*KINDS, "_meta"))
    if len(kinds) != 1 or extra:
        raise DefinitionError(
            origin,
            "<document>",
            "exactly one top-level key, 'agent' or 'behavior'",
            sorted(str(k) for k in doc if k != "_meta"),
        )
    kind = kinds[0]
    body = doc[kind]
    if not isinstance(body, dict):
        raise DefinitionError(origin, kind, "a mapping of fields", body)
    return _parse_body(kind, body, origin, hashlib.sha256(data).hexdigest(), meta)


def _parse_body(kind: str, body: dict[str, Any], origin: str, sha: str, meta: Any) -> Definition:
    allowed = COMMON_FIELDS + (AGENT_ONLY_FIELDS if kind == "agent" else ())
    for key in body:
        if key not in allowed:
            if kind == "behavior" and key == "tools":
                raise DefinitionError(
                    origin, "behavior.tools", "no such field: only an agent selects the tools offered"
                )
            if kind == "behavior" and key in AGENT_ONLY_FIELDS:
                raise DefinitionError(
                    origin, f"behavior.{key}", "no such field: only an agent names a " + key
                )
            raise DefinitionError(
                origin, f"{kind}.{key}", "one of the fields " + ", ".join(allowed) + " (unknown field)"
            )
    if "ref" in body and "local_ref" in body:
        raise DefinitionError(origin, f"{kind}.local_ref", "either 'ref' or 'local_ref' (synonyms), not both")
    ref = body.get("ref", body.get("local_ref"))
    if ref is None:
        raise DefinitionError(origin, f"{kind}.ref", "a name such as 'foundation' (field missing)")
    if not isinstance(ref, str) or not REF_PATTERN.match(ref):
        raise DefinitionError(
            origin, f"{kind}.ref", "lowercase letters, digits, '.', '_' or '-' (at most 64)", ref
        )
    uuid = body.get("uuid")
    if uuid is None:
        raise DefinitionError(origin, f"{kind}.uuid", "a fixed UUID such as 3f0c9a52-... (field missing)")
    if not isinstance(uuid, str) or not UUID_PATTERN.match(uuid.lower()):
        raise DefinitionError(
            origin, f"{kind}.uuid", "a UUID like 3f0c9a52-1b2d-4c8e-9f00-0123456789ab", uuid
        )
    definition = Definition(
        kind=kind,
        ref=ref,
        uuid=uuid.lower(),
        origin=origin,
        sha256=sha,
        meta=meta if isinstance(meta, dict) else {},
    )
    definition.description = _optional_str(body, "description", kind, origin)
    definition.instructions = _optional_str(body, "instructions", kind, origin)
    definition.model = _optional_str(body, "model", kind, origin) or None
    for key in ("orchestrator", "context_manager", "provider"):
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not COMPONENT_REF_PATTERN.match(value):
            raise DefinitionError(
                origin, f"{kind}.{key}", "'service:component' such as 'foundation:streaming'", value
            )
        setattr(definition, key, value)
    if kind == "agent":
        for key in ("orchestrator", "context_manager"):
            if getattr(definition, key) is None:
                raise DefinitionError(
                    origin, f"agent.{key}", "'service:component' (an agent needs one; field missing)"
                )
    definition.behaviors = _parse_behaviors(body.get("behaviors"), kind, origin)
    if body.get("service") is not None:
        definition.service = _parse_service(body["service"], ref, kind, origin)
    definition.config = _parse_config(body.get("config"), f"{kind}.config", origin)
    definition.context = _parse_str_list(
        body.get("context"), f"{kind}.context", origin, "content such as 'foundation:context/x.md'"
    )
    if "tools" in body:
        definition.tools = _parse_tools(body["tools"], f"{kind}.tools", origin)
    return definition


def _parse_tools(value: Any, where: str, origin: str) -> list[str]:
    """``tools:``: tool names or globs; an empty list offers no tool."""
    what = "a tool name or a glob such as 'read_file' or 'time__*'"
    if not isinstance(value, list):
        raise DefinitionError(origin, where, f"a list of tool names or globs ({what})", value)
    for index, item in enumerate(value):
        if not isinstance(item, str) or not TOOL_SELECTOR_PATTERN.match(item):
            raise DefinitionError(origin, f"{where}[{index}]", what, item)
    return list(value)


def _optional_str(body: dict[str, Any], key: str, kind: str, origin: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DefinitionError(origin, f"{kind}.{key}", "a string", value)
    return value


def _parse_str_list(value: Any, where: str, origin: str, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DefinitionError(origin, where, f"a list of {what}", value)
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise DefinitionError(origin, f"{where}[{index}]", what, item)
    return list(value)


def _parse_behaviors(value: Any, kind: str, origin: str) -> list[BehaviorRef]:
    where = f"{kind}.behaviors"
    if value is None:
        return []
    if not isinstance(value, list):
        raise DefinitionError(origin, where, "a list of {alias: location} entries", value)
    refs: list[BehaviorRef] = []
    for index, item in enumerate(value):
        if isinstance(item, str) and item:
            refs.append(BehaviorRef(alias=item, location=item))
            continue
        if not isinstance(item, dict) or len(item) != 1:
            raise DefinitionError(
                origin, f"{where}[{index}]", "one {alias: location} pair, or a registered alias", item
            )
        ((alias, location),) = item.items()
        if not isinstance(alias, str) or not REF_PATTERN.match(alias):
            raise DefinitionError(
                origin, f"{where}[{index}]", "an alias of lowercase letters, digits, '.', '_', '-'", alias
            )
        if not isinstance(location, str) or not location:
            raise DefinitionError(
                origin,
                f"{where}[{index}].{alias}",
                "a relative path, file://, https:// or git+https:// URL",
                location,
            )
        refs.append(BehaviorRef(alias=alias, location=location))
    return refs


def _parse_service(value: Any, ref: str, kind: str, origin: str) -> ServiceDecl:
    where = f"{kind}.service"
    if not isinstance(value, dict):
        raise DefinitionError(origin, where, "a mapping {installer, source, command, env}", value)
    for key in value:
        if key not in SERVICE_FIELDS:
            raise DefinitionError(
                origin, f"{where}.{key}", "one of " + ", ".join(SERVICE_FIELDS) + " (unknown field)"
            )
    if "installer" in value and "stack" in value:
        raise DefinitionError(origin, f"{where}.stack", "either 'installer' or 'stack' (synonyms), not both")
    installer = value.get("installer", value.get("stack", "uv"))
    if installer not in INSTALLERS:
        raise DefinitionError(origin, f"{where}.installer", "one of " + ", ".join(INSTALLERS), installer)
    source = value.get("source")
    if not isinstance(source, str) or not source:
        raise DefinitionError(origin, f"{where}.source", "a path, git URL or package name", source)
    command = value.get("command")
    if isinstance(command, str) and command.strip():
        argv = command.split()
    elif isinstance(command, list) and command and all(isinstance(c, str) and c for c in command):
        argv = list(command)
    else:
        raise DefinitionError(
            origin,
            f"{where}.command",
            "the service's script name, such as 'amplifier-foundation-serve'",
            command,
        )
    env = _parse_str_list(value.get("env"), f"{where}.env", origin, "an environment variable name")
    for index, name in enumerate(env):
        if not ENV_NAME_PATTERN.match(name):
            raise DefinitionError(origin, f"{where}.env[{index}]", "an environment variable name", name)
    name = value.get("name", ref)
    if not isinstance(name, str) or not REF_PATTERN.match(name):
        raise DefinitionError(
            origin, f"{where}.name", "a short service name of lowercase letters, digits, '.', '_', '-'", name
        )
    return ServiceDecl(name=name, installer=installer, source=source, command=argv, env=env)


def _parse_config(value: Any, where: str, origin: str) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DefinitionError(origin, where, "a mapping of component name -> {key: value}", value)
    out: dict[str, dict[str, Any]] = {}
    for name, settings in value.items():
        if not isinstance(name, str) or not COMPONENT_REF_PATTERN.match(name):
            raise DefinitionError(origin, f"{where}.{name}", "a component name such as 'bash'", name)
        if not isinstance(settings, dict):
            raise DefinitionError(origin, f"{where}.{name}", "a mapping of settings", settings)
        out[name] = dict(settings)
    return out
