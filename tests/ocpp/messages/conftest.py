"""Shared fixtures of the message codec tests: the schema files, their decoders and the jsonschema oracle."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import HealthCheck, settings
from jsonschema import Draft4Validator, Draft6Validator, FormatChecker
from jsonschema.protocols import Validator

from chargeplane.ocpp.messages import registry_for
from chargeplane.ocpp.messages.base import ActionSpec
from tests.ocpp.messages.schema_strategies import SchemaStrategies

REPO = Path(__file__).resolve().parents[3]
SCHEMAS = REPO / "schemas"

# (version key of registry_for, schema folder)
VERSIONS = (("1.6", "v16"), ("2.0.1", "v201"), ("2.1", "v21"))

# Per-schema-file example counts. Every schema file gets its own test, so even the default profile runs
# some 387 x (valid + mutated) examples; HYPOTHESIS_PROFILE=thorough digs deeper.
settings.register_profile(
    "default",
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def _strict_integer(_checker: Any, instance: object) -> bool:
    # Deviation (b): draft-06 counts 1.0 as an integer; OCPP integers are written without a fraction
    # (2.0.1 Part 2 §2.1.4 / OCPP-J), msgspec's int rejects a JSON float, and we keep it that way.
    # The oracle uses draft-04's rule (no floats) for every version, so both sides agree.
    return isinstance(instance, int) and not isinstance(instance, bool)


def _decimal_multiple_of(
    validator: Validator, step: float, instance: object, _schema: Any
) -> Iterator[jsonschema.ValidationError]:
    # Deviation (a): multipleOf in decimal arithmetic, as base.check_multiple_of does. Binary floating point
    # (plain jsonschema) rejects 6.3 as a multiple of 0.1. Both sides look at the shortest repr of the
    # parsed float, i.e. the decimal text the sender most likely wrote.
    if not validator.is_type(instance, "number"):
        return
    assert isinstance(instance, int | float)
    if Decimal(repr(instance)) % Decimal(repr(step)) != 0:
        yield jsonschema.ValidationError(f"{instance!r} is not a multiple of {step!r}")


def _oracle_class(base: type[Any]) -> type[Any]:
    return jsonschema.validators.extend(
        base,
        validators={"multipleOf": _decimal_multiple_of},
        type_checker=base.TYPE_CHECKER.redefine("integer", _strict_integer),
    )


# 1.6 schemas are draft-04, 2.x draft-06. (The 1.6 security-extension files declare draft-06; with the
# integer rule above the two drafts behave the same on every keyword these schemas use.)
ORACLES = {
    "v16": _oracle_class(Draft4Validator),
    "v201": _oracle_class(Draft6Validator),
    "v21": _oracle_class(Draft6Validator),
}
DATE_TIME_ONLY = FormatChecker(formats=["date-time"])  # 1.6 "uri" is left unchecked, as in the codec


@dataclass(frozen=True)
class SchemaCase:
    """One schema file, with the codec decoder and the oracle for it."""

    version: str  # registry key
    folder: str  # v16 / v201 / v21
    path: Path

    def __str__(self) -> str:
        return f"{self.folder}/{self.path.name}"

    @cached_property
    def schema(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        return result

    @cached_property
    def action(self) -> str:
        stem = self.path.stem
        for suffix in ("Request", "Response"):
            if stem.endswith(suffix):
                return stem.removesuffix(suffix)
        return stem

    @cached_property
    def role(self) -> str:
        stem = self.path.stem
        if stem.endswith("Response"):
            return "response"
        if self.folder == "v16" or stem.endswith("Request"):
            return "request"
        return "send"

    @cached_property
    def spec(self) -> ActionSpec:
        return registry_for(self.version)[self.action]

    @cached_property
    def payload_type(self) -> type[Any]:
        if self.role == "response":
            assert self.spec.response is not None
            return self.spec.response
        return self.spec.request

    def decode(self, data: bytes) -> Any:
        decoder = self.spec.response_decoder if self.role == "response" else self.spec.request_decoder
        assert decoder is not None
        return decoder.decode(data)

    @cached_property
    def oracle(self) -> Any:
        return ORACLES[self.folder](self.schema, format_checker=DATE_TIME_ONLY)

    @cached_property
    def strategies(self) -> SchemaStrategies:
        return SchemaStrategies(self.schema)


CASES = tuple(
    SchemaCase(version, folder, path)
    for version, folder in VERSIONS
    for path in sorted((SCHEMAS / folder).glob("*.json"))
)
