"""The per-version registries: one action per schema pair, built from the types generated from those files."""

from __future__ import annotations

from types import MappingProxyType

import msgspec
import pytest

from chargeplane.ocpp.messages import VERSIONS, registry_for
from chargeplane.ocpp.messages.base import Direction
from tests.ocpp.messages.conftest import CASES, SchemaCase


def expected_class_name(case: SchemaCase) -> str:
    if case.folder == "v16" and case.role == "request":
        return f"{case.path.stem}Request"
    return case.path.stem


@pytest.mark.parametrize(("version", "folder"), [("1.6", "v16"), ("2.0.1", "v201"), ("2.1", "v21")])
def test_registry_covers_every_schema_file(version: str, folder: str) -> None:
    registry = registry_for(version)
    cases = [case for case in CASES if case.folder == folder]
    assert isinstance(registry, MappingProxyType)
    assert set(registry) == {case.action for case in cases}
    covered = set()
    for spec in registry.values():
        covered.add(spec.request)
        if spec.response is not None:
            covered.add(spec.response)
    assert len(covered) == len(cases)  # every file has its own type, no file is left out


@pytest.mark.parametrize("case", CASES, ids=str)
def test_action_types_are_generated_from_their_schema_file(case: SchemaCase) -> None:
    cls = case.payload_type
    assert cls.__name__ == expected_class_name(case)
    assert cls.__module__ == f"chargeplane.ocpp.messages.{case.folder}.messages"
    fields = msgspec.structs.fields(cls)
    properties = case.schema.get("properties", {})
    assert [f.encode_name for f in fields] == list(properties)
    assert {f.encode_name for f in fields if f.required} == set(case.schema.get("required", []))
    assert cls.__struct_config__.forbid_unknown_fields is (case.schema.get("additionalProperties") is False)
    assert cls.__struct_config__.frozen
    assert cls.__struct_config__.omit_defaults


def test_notify_periodic_event_stream_is_a_send_message() -> None:
    spec = registry_for("2.1")["NotifyPeriodicEventStream"]
    assert spec.response is None
    assert spec.response_decoder is None
    assert spec.is_send
    assert spec.direction is Direction.STATION_TO_CSMS
    assert [a for a, s in registry_for("2.1").items() if s.is_send] == ["NotifyPeriodicEventStream"]
    assert not any(s.is_send for v in ("1.6", "2.0.1") for s in registry_for(v).values())


@pytest.mark.parametrize("version", VERSIONS)
def test_directions(version: str) -> None:
    registry = registry_for(version)
    assert registry["DataTransfer"].direction is Direction.BOTH
    assert [a for a, s in registry.items() if s.direction is Direction.BOTH] == ["DataTransfer"]
    assert registry["BootNotification"].direction is Direction.STATION_TO_CSMS
    assert registry["Heartbeat"].direction is Direction.STATION_TO_CSMS
    assert registry["Reset"].direction is Direction.CSMS_TO_STATION
    assert registry["GetLog"].direction is Direction.CSMS_TO_STATION
    assert registry["SignCertificate"].direction is Direction.STATION_TO_CSMS


def test_spot_checked_directions() -> None:
    v16, v21 = registry_for("1.6"), registry_for("2.1")
    assert v16["StopTransaction"].direction is Direction.STATION_TO_CSMS
    assert v16["RemoteStartTransaction"].direction is Direction.CSMS_TO_STATION
    assert v16["ExtendedTriggerMessage"].direction is Direction.CSMS_TO_STATION
    assert v16["SignedFirmwareStatusNotification"].direction is Direction.STATION_TO_CSMS
    assert v21["TransactionEvent"].direction is Direction.STATION_TO_CSMS
    assert v21["SetDERControl"].direction is Direction.CSMS_TO_STATION
    assert v21["VatNumberValidation"].direction is Direction.STATION_TO_CSMS


def test_unknown_version_key() -> None:
    with pytest.raises(LookupError, match="unknown OCPP version"):
        registry_for("2.0")
