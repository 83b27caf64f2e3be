"""Step failures and field rules.

Rules address fields by their wire names (``idTokenInfo.status``, ``getVariableData[0].component.name``) so
that a failure reads like the test case table: "step 2: AuthorizeResponse.idTokenInfo.status is Invalid,
expected Accepted".
"""

from __future__ import annotations

import enum
import functools
from typing import Any

import msgspec

from chargeplane.ocpp.messages.base import Payload


class StepFailed(Exception):
    """A step of a test case did not go as the case says. ``step`` is the table's step number (or a label
    such as ``"before"``), ``detail`` what differed."""

    def __init__(self, step: int | str, detail: str) -> None:
        super().__init__(f"step {step}: {detail}")
        self.step = step
        self.detail = detail


class _Absent:
    def __repr__(self) -> str:
        return "absent"


ABSENT: Any = _Absent()  # the value of a field the message leaves out


@functools.cache
def _wire_names(struct_type: type[msgspec.Struct]) -> dict[str, str]:
    return {f.encode_name: f.name for f in msgspec.structs.fields(struct_type)}


def field_value(payload: Payload, path: str) -> Any:
    """The value at ``path`` (wire names, dots, ``[i]`` for list items), or :data:`ABSENT`."""
    value: Any = payload
    for part in path.split("."):
        name, _, index = part.partition("[")
        if isinstance(value, msgspec.Struct):
            attribute = _wire_names(type(value)).get(name)
            if attribute is None:
                raise KeyError(f"{type(value).__name__} has no field {name!r}")
            value = getattr(value, attribute)
        else:
            return ABSENT
        if value is msgspec.UNSET:
            return ABSENT
        if index:
            position = int(index.rstrip("]"))
            if not isinstance(value, list) or position >= len(value):
                return ABSENT
            value = value[position]
    return value


def show(value: Any) -> str:
    if value is ABSENT:
        return "absent"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, msgspec.Struct):
        return msgspec.json.encode(value).decode()
    return str(value)


def expect_field(step: int | str, payload: Payload, path: str, *allowed: Any) -> Any:
    """Fail ``step`` unless the field at ``path`` equals one of ``allowed`` (compared as wire text, so an
    enum member and its string are the same). Returns the value."""
    actual = field_value(payload, path)
    wanted = [show(a) for a in allowed]
    if show(actual) not in wanted:
        raise StepFailed(
            step, f"{type(payload).__name__}.{path} is {show(actual)}, expected {' or '.join(wanted)}"
        )
    return actual


def expect_present(step: int | str, payload: Payload, path: str) -> Any:
    actual = field_value(payload, path)
    if actual is ABSENT:
        raise StepFailed(step, f"{type(payload).__name__}.{path} is absent, expected a value")
    return actual


def expect_absent(step: int | str, payload: Payload, path: str) -> None:
    actual = field_value(payload, path)
    if actual is not ABSENT:
        raise StepFailed(step, f"{type(payload).__name__}.{path} is {show(actual)}, expected it absent")
