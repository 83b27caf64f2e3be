"""The console's command panel, generated from the request schemas of the station's OCPP version.

Every action a CSMS may send in that version (the generated catalog: direction CSMS to station or both, no
SEND) gets a form built from its request type. The generated Structs are the OCA JSON schemas in code
(``scripts/codegen.py`` carries every type, enum, bound, length, pattern and required flag over), and they
ship with the package where ``schemas/`` does not, so the form is read from them with ``msgspec.inspect``:
strings, enums as selects, integers and numbers, booleans, date-times, nested objects as fieldsets, arrays
whose items can be added and removed, required fields marked. ``customData`` is left out.

Form fields are named ``f.`` + the JSON path with dots (``f.getVariableData.0.component.name``). A POST is
turned back into wire JSON along the same tree (empty fields are left out, a whole empty optional object or
array item too), the easy mistakes (not a number, a required field empty) are all reported at once, then the
payload goes through :meth:`CommandService.send_action`: the protocol core's own schema validation, the
CSMS's rules, the command log, the station. A refusal of the schema names the field by its JSON path, which
puts the message next to that field.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
import msgspec.inspect as mi

from chargeplane.csms.blocks.remote_control.service import CommandService, InvalidCommand, SentCommand
from chargeplane.ocpp.catalog import ActionCatalog
from chargeplane.ocpp.messages.base import RFC3339_PATTERN, CustomData, Direction
from chargeplane.ocpp.redaction import redact
from chargeplane.ocpp.versions import Version

PREFIX = "f."
MAX_DEPTH = 10  # no OCPP type nests deeper; a guard against a recursive type all the same
MAX_ITEMS = 200  # array items one form may send
_PATH_IN_DESCRIPTION = re.compile(r" at \$(?P<path>[.\[][^ ]*)?\s*$")
_LOCAL_MINUTES = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}\Z")
_LOCAL_SECONDS = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\Z")


class _Unset:
    """Nothing entered for a field: left out of the payload."""


UNSET = _Unset()


@dataclass(frozen=True, slots=True)
class FieldNode:
    """One field of a request as the form shows it."""

    kind: str  # object, array, string, datetime, integer, number, boolean, enum, json
    name: str  # the JSON name ("" for the request itself and for array items)
    required: bool
    options: tuple[str, ...] = ()  # an enum's values
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    min_items: int = 0
    max_items: int | None = None
    children: tuple[FieldNode, ...] = ()  # an object's fields
    item: FieldNode | None = None  # an array's items
    depth: int = 0  # arrays above it: names the placeholder of an item template (__i0__, __i1__, ...)


def _bounds(info: mi.IntType | mi.FloatType) -> tuple[float | None, float | None]:
    low = info.ge if info.ge is not None else info.gt
    high = info.le if info.le is not None else info.lt
    return low, high


def _node(info: mi.Type, name: str, required: bool, depth: int, level: int) -> FieldNode:
    if level > MAX_DEPTH:
        return FieldNode("json", name, required, depth=depth)
    if isinstance(info, mi.StructType):
        children = tuple(
            _node(f.type, f.encode_name, f.required, depth, level + 1)
            for f in info.fields
            if not (isinstance(f.type, mi.CustomType) and f.type.cls is CustomData)
        )
        return FieldNode("object", name, required, children=children, depth=depth)
    if isinstance(info, mi.ListType):
        item = _node(info.item_type, "", False, depth + 1, level + 1)  # an empty item is left out
        return FieldNode(
            "array",
            name,
            required,
            min_items=info.min_length or 0,
            max_items=info.max_length,
            item=item,
            depth=depth,
        )
    if isinstance(info, mi.EnumType):
        return FieldNode("enum", name, required, options=tuple(str(m.value) for m in info.cls), depth=depth)
    if isinstance(info, mi.LiteralType):
        return FieldNode("enum", name, required, options=tuple(str(v) for v in info.values), depth=depth)
    if isinstance(info, mi.StrType):
        kind = "datetime" if info.pattern == RFC3339_PATTERN else "string"
        return FieldNode(kind, name, required, max_length=info.max_length, depth=depth)
    if isinstance(info, mi.BoolType):
        return FieldNode("boolean", name, required, depth=depth)
    if isinstance(info, mi.IntType):
        low, high = _bounds(info)
        return FieldNode("integer", name, required, minimum=low, maximum=high, depth=depth)
    if isinstance(info, mi.FloatType):
        low, high = _bounds(info)
        return FieldNode("number", name, required, minimum=low, maximum=high, depth=depth)
    return FieldNode("json", name, required, depth=depth)  # free-form (DataTransfer's data): JSON text


def csms_actions(version: Version) -> list[str]:
    """The actions a CSMS may send in ``version``, by name."""
    catalog = ActionCatalog.for_version(version)
    return sorted(
        action
        for action, spec in catalog.actions.items()
        if spec.direction is not Direction.STATION_TO_CSMS and not spec.is_send
    )


@functools.cache
def request_form(version: Version, action: str) -> FieldNode | None:
    """The form of ``action``'s request in ``version``; ``None`` when a CSMS does not send that action."""
    if action not in csms_actions(version):
        return None
    spec = ActionCatalog.for_version(version).actions[action]
    return _node(mi.type_info(spec.request), "", True, 0, 0)


# -- the POSTed form -> wire JSON --------------------------------------------------------------------------


@dataclass(slots=True)
class Parsed:
    payload: Any
    errors: dict[str, str] = field(default_factory=dict)  # form path -> message ("" for the whole form)


def form_values(form: Mapping[str, Any]) -> dict[str, str]:
    """The panel's fields of a POSTed form: form path (without the prefix) -> text."""
    return {
        key[len(PREFIX) :]: value
        for key, value in form.items()
        if isinstance(key, str) and key.startswith(PREFIX) and isinstance(value, str)
    }


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path and name else path or name


def _indices(values: Mapping[str, str], path: str) -> list[int]:
    start = path + "." if path else ""
    found: set[int] = set()
    for key in values:
        if key.startswith(start):
            head = key[len(start) :].split(".", 1)[0]
            if head.isdigit() and len(head) < 6:
                found.add(int(head))
    return sorted(found)


def _scalar(node: FieldNode, text: str, path: str, errors: dict[str, str]) -> Any:
    if node.kind == "integer":
        try:
            return int(text.strip())
        except ValueError:
            errors[path] = "Not a whole number."
            return UNSET
    if node.kind == "number":
        try:
            number = float(text.strip())
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            errors[path] = "Not a number."
            return UNSET
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    if node.kind == "boolean":
        if text not in ("true", "false"):
            errors[path] = "Choose true or false."
            return UNSET
        return text == "true"
    if node.kind == "datetime":
        text = text.strip()
        if _LOCAL_MINUTES.match(text):  # what a datetime-local input gives: taken as UTC
            return text + ":00Z"
        return text + "Z" if _LOCAL_SECONDS.match(text) else text
    if node.kind == "json":
        try:
            return msgspec.json.decode(text)
        except msgspec.DecodeError:
            errors[path] = "Not JSON."
            return UNSET
    return text


def _entered(values: Mapping[str, str], path: str) -> bool:
    """Whether anything was typed at ``path`` or under it."""
    start = path + "."
    return any(text != "" and (key == path or key.startswith(start)) for key, text in values.items())


def _convert(
    node: FieldNode, path: str, values: Mapping[str, str], errors: dict[str, str], force: bool = False
) -> Any:
    """The wire value at ``path``; UNSET when nothing was entered there (an object or array item left empty is
    left out). ``force``: a required object its parent holds, read even when empty to name what it lacks."""
    if node.kind in ("object", "array") and path and not force and not _entered(values, path):
        return UNSET
    if node.kind == "object":
        found: dict[str, Any] = {}
        for child in node.children:
            child_path = _join(path, child.name)
            value = _convert(child, child_path, values, errors)
            if value is not UNSET:
                found[child.name] = value
            elif child.required and child.kind == "object":
                found[child.name] = _convert(child, child_path, values, errors, force=True)
            elif child.required:
                errors.setdefault(child_path, "Required.")
        return found
    if node.kind == "array":
        assert node.item is not None
        indices = _indices(values, path)
        if len(indices) > MAX_ITEMS:
            errors[path] = f"At most {MAX_ITEMS} items."
            return UNSET
        items = [_convert(node.item, _join(path, str(index)), values, errors) for index in indices]
        return [item for item in items if item is not UNSET]
    text = values.get(path, "")
    if text == "":
        return UNSET
    return _scalar(node, text, path, errors)


def parse_form(node: FieldNode, form: Mapping[str, Any]) -> Parsed:
    """The wire-JSON payload the form describes and the fields it could not read (form path -> message)."""
    errors: dict[str, str] = {}
    payload = _convert(node, "", form_values(form), errors)
    return Parsed({} if payload is UNSET else payload, errors)


def form_path(json_path: str | None) -> str:
    """A JSON path of a validation message (``$.a[0].b``) as the form's path (``a.0.b``)."""
    if not json_path:
        return ""
    return re.sub(r"\[(\d+)\]", r".\1", json_path).lstrip("$").lstrip(".")


def refusal_field(description: str) -> tuple[str, str]:
    """(form path, message) of a refusal whose description ends with ``at $.path``; path "" otherwise."""
    match = _PATH_IN_DESCRIPTION.search(description)
    if match is None:
        return "", description
    return form_path(match.group("path")), description[: match.start()]


# -- what the form is filled with again ----------------------------------------------------------------------


def nested_values(values: Mapping[str, str]) -> dict[str, Any]:
    """The flat form values as a tree (array indices as dict keys), for the template to fill fields in."""
    tree: dict[str, Any] = {}
    for key, value in values.items():
        parts = key.split(".")
        at = tree
        for part in parts[:-1]:
            child = at.setdefault(part, {})
            if not isinstance(child, dict):
                break
            at = child
        else:
            at[parts[-1]] = value
    return tree


@dataclass(frozen=True, slots=True)
class PanelResult:
    """What the panel shows after a send: the station's answer, or why there is none."""

    ok: bool
    status: int
    action: str
    request: str | None = None  # JSON text as sent (secrets hidden)
    response: str | None = None  # the station's answer, JSON text
    code: str | None = None  # CALLERROR code or the CSMS's refusal code
    message: str | None = None


def shown_json(payload: Any) -> str:
    return msgspec.json.format(msgspec.json.encode(redact(msgspec.to_builtins(payload))), indent=2).decode()


def answered(sent: SentCommand) -> PanelResult:
    return PanelResult(True, 200, sent.action, shown_json(sent.request), shown_json(sent.response))


async def send_form(
    commands: CommandService, station_id: str, version: Version, action: str, form: Mapping[str, Any]
) -> tuple[PanelResult | None, dict[str, str], dict[str, Any]]:
    """Read the form of ``action`` and send it. Returns the result (``None`` when the form had mistakes), the
    mistakes by form path and the values to fill the form with again. The station's and the CSMS's refusals
    other than the form's raise (the console maps them like the API)."""
    node = request_form(version, action)
    if node is None:
        raise InvalidCommand(
            "NotCsmsAction", f"{action} is not an action a CSMS sends in OCPP {version.value}"
        )
    values = form_values(form)
    parsed = parse_form(node, form)
    if parsed.errors:
        return None, parsed.errors, nested_values(values)
    try:
        sent = await commands.send_action(station_id, action, msgspec.json.encode(parsed.payload))
    except InvalidCommand as error:
        path, message = refusal_field(error.description)
        # At its field, and above the form too: the path may name a field the form does not show.
        errors = {path: f"{message} ({error.code})", "": f"Not sent: {error.description} ({error.code})"}
        return None, errors, nested_values(values)
    return answered(sent), {}, nested_values(values)
