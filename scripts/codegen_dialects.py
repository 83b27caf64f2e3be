"""The cross-version part of scripts/codegen.py: per-version namespace classes and the 2.x ``v2x`` module.

Kept apart from codegen.py, which renders each version on its own; this module only needs the names the
builders found. The rendered text goes through ``ruff format`` in codegen.py like every generated file.

* ``<version>/namespace.py``: ``class Messages`` with every enum, datatype and message of the version as a
  class attribute, so that code written once can take the version as a value (``ns.HeartbeatResponse``);
* ``v2x.py``: ``Dialect`` (a constrained TypeVar over the 2.0.1 and 2.1 namespaces), per shared action a
  constrained request TypeVar and request/response unions, and ``dialect_of`` / ``dialect_for``, which
  give the exact namespace of a 2.x payload or a 2.x :class:`~chargeplane.ocpp.versions.Version`.

mypy checks a function whose parameter is a constrained TypeVar once per constraint, so a handler written
once is type-checked against the 2.0.1 types and against the 2.1 types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PACKAGE = "chargeplane.ocpp.messages"
DIALECTS = ("v201", "v21")  # the versions of v2x.py, oldest first
VERSION_MEMBERS = {"v201": "Version.V201", "v21": "Version.V21"}


@dataclass(frozen=True)
class VersionNames:
    """What one version's builder generated: class names per module and the request/response of actions."""

    package: str  # "v201"
    title: str  # "OCPP 2.0.1"
    enums: Sequence[str]
    datatypes: Sequence[str]
    messages: Sequence[str]
    actions: Mapping[str, tuple[str, str | None]]  # action -> (request class, response class or None)


def namespace_module(header: str, names: VersionNames) -> str:
    groups = (("enums", names.enums), ("datatypes", names.datatypes), ("messages", names.messages))
    body = []
    for module, classes in groups:
        body.append(f"    # {module}")
        body.extend(f"    {name} = {module}.{name}" for name in classes)
    doc = (
        f"{names.title}: every generated type as an attribute of one class, :class:`Messages`.\n\n"
        "Code written once for several versions takes the class as a value and builds with\n"
        "``ns.HeartbeatResponse(...)``; see chargeplane.ocpp.messages.v2x.\n"
    )
    return (
        header
        + f'"""{doc}"""\n\n'
        + f"from {PACKAGE}.{names.package} import datatypes, enums, messages\n\n\n"
        + "class Messages:\n"
        + f'    """The enums, datatypes and messages of {names.title}, by their generated names."""\n\n'
        + "\n".join(body)
        + "\n"
    )


def shared_actions(versions: Sequence[VersionNames]) -> list[str]:
    """The request/response actions of every version in ``versions`` (SEND messages are left out)."""
    common = set.intersection(*({a for a, (_, r) in v.actions.items() if r is not None} for v in versions))
    return sorted(common)


def _union(versions: Sequence[VersionNames], pick: str) -> str:
    return " | ".join(f"{v.package}.messages.{pick}" for v in versions)


def v2x_module(header: str, versions: Sequence[VersionNames]) -> str:
    packages = [v.package for v in versions]
    if packages != list(DIALECTS):
        raise ValueError(f"v2x.py covers {DIALECTS}, got {packages}")
    namespaces = ", ".join(f"type[{p}.Messages]" for p in packages)
    namespace_union = " | ".join(f"type[{p}.Messages]" for p in packages)
    lines = [
        f'Dialect = TypeVar("Dialect", {namespaces})',
        '"""The namespace class of 2.0.1 or of 2.1: ``Generic[Dialect]`` classes hold one (annotate it)."""',
        "",
        'T = TypeVar("T")',
        'T_co = TypeVar("T_co", covariant=True)',
        "",
    ]
    for v in versions:
        members = [f"{v.package}.datatypes.{n}" for n in v.datatypes]
        members += [f"{v.package}.messages.{n}" for n in v.messages]
        lines.append(f"{v.package.upper()}Struct: TypeAlias = {' | '.join(members)}")
        lines.append("")
    for action in shared_actions(versions):
        requests = [v.actions[action][0] for v in versions]
        responses = [v.actions[action][1] for v in versions]
        if len(set(requests)) != 1 or len(set(responses)) != 1:
            raise ValueError(f"{action}: the class names differ between versions")
        request, response = requests[0], responses[0]
        assert response is not None
        constraints = ", ".join(f"{v.package}.messages.{request}" for v in versions)
        lines.append(f'{request}T = TypeVar("{request}T", {constraints})')
        lines.append(f"{request}: TypeAlias = {_union(versions, request)}")
        lines.append(f"{response}: TypeAlias = {_union(versions, response)}")
        lines.append("")
    by_module = [
        f'    "{PACKAGE}.{v.package}.{module}": {v.package}.Messages,'
        for v in versions
        for module in ("datatypes", "messages")
    ]
    overloads_of = []
    overloads_for = []
    calls = []
    for v in versions:
        calls.append(
            f"    @overload\n    def __call__(self, dialect: type[{v.package}.Messages], /) -> T_co: ..."
        )
        overloads_of.append(
            f"@overload\ndef dialect_of(payload: {v.package.upper()}Struct) -> type[{v.package}.Messages]: ..."
        )
        overloads_for.append(
            f"@overload\ndef dialect_for(version: Literal[{VERSION_MEMBERS[v.package]}]) -> "
            f"type[{v.package}.Messages]: ..."
        )
    nl = "\n"
    functions = f'''
_BY_MODULE: Mapping[str, {namespace_union}] = {{
{nl.join(by_module)}
}}
_BY_VERSION: Mapping[Version, {namespace_union}] = {{
{nl.join(f"    {VERSION_MEMBERS[v.package]}: {v.package}.Messages," for v in versions)}
}}


{(nl * 2).join(overloads_of)}


def dialect_of(payload: Payload) -> {namespace_union}:
    """The namespace class of the version a 2.0.1 or 2.1 message or datatype belongs to."""
    dialect = _BY_MODULE.get(type(payload).__module__)
    if dialect is None:
        raise TypeError(f"{{type(payload).__qualname__}} is not an OCPP 2.0.1 or 2.1 payload")
    return dialect


{(nl * 2).join(overloads_for)}


def dialect_for(version: Version) -> {namespace_union}:
    """The namespace class of a 2.x version; narrow a ``Version`` first (``if version is Version.V201``)."""
    dialect = _BY_VERSION.get(version)
    if dialect is None:
        raise ValueError(f"OCPP {{version.value}} is not a 2.x version")
    return dialect


class DialectFunction(Protocol[T_co]):
    """A function of one namespace class that is written once for all of them (its parameter is a
    ``Dialect``), so mypy checks it against each."""

{nl.join(calls)}


def with_dialect(version: Version, build: DialectFunction[T]) -> T:
    """``build`` called with the namespace of a 2.x ``version`` known only at run time. ``build`` is
    typically a nested function ``def build(ns: v2x.Dialect) -> v2x.ClearCacheRequest`` closing over its
    arguments; the result is the union of what it returns for each version."""
    if version is Version.V201:
        return build(dialect_for(version))
    if version is Version.V21:
        return build(dialect_for(version))
    raise ValueError(f"OCPP {{version.value}} is not a 2.x version")
'''
    doc = (
        "Typed code written once for OCPP 2.0.1 and 2.1.\n\n"
        "A handler takes the action's request TypeVar and returns the response union; mypy checks its body\n"
        "once with the 2.0.1 types and once with the 2.1 types::\n\n"
        "    async def heartbeat(request: v2x.HeartbeatRequestT, conn: Conn) -> v2x.HeartbeatResponse:\n"
        "        ns = v2x.dialect_of(request)  # v201.Messages or v21.Messages, exactly\n"
        "        return ns.HeartbeatResponse(current_time=now())\n\n"
        "``dialect_for(Version.V201)`` gives the namespace of a version, ``with_dialect(version, build)`` calls\n"
        "a function written once with the namespace of a version known at run time; classes written once\n"
        "take a ``Dialect`` (``Generic[Dialect]``).\n"
    )
    imports = (
        "from collections.abc import Mapping\n"
        "from typing import Literal, Protocol, TypeAlias, TypeVar, overload\n\n"
        f"from {PACKAGE} import {', '.join(sorted(packages, key=len))}\n"
        f"from {PACKAGE}.base import Payload\n"
        "from chargeplane.ocpp.versions import Version\n"
    )
    return header + f'"""{doc}"""\n\n' + imports + "\n" + "\n".join(lines) + functions
