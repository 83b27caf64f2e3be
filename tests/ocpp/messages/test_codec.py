"""The generated codec against the official schemas, for every schema file of 1.6, 2.0.1 and 2.1.

* Round trip: ``encode(decode(x)) == x`` (as parsed JSON) for generated valid payloads.
* Fidelity: the codec accepts exactly what the schema accepts. The oracle is jsonschema (draft-04 for 1.6,
  draft-06 for 2.x) with the ``date-time`` format checker (rfc3339-validator), run on valid payloads and on
  payloads with one violation each (see ``schema_strategies.MUTATIONS``).

Deliberate deviations from plain jsonschema, each pinned by a test at the bottom of this file:

(a) ``multipleOf`` is decimal (conftest ``_decimal_multiple_of`` gives the oracle the same rule);
(b) a JSON float with no fraction (``1.0``) is not an ``integer`` for us; draft-06 says it is
    (conftest ``_strict_integer`` gives the oracle draft-04's rule);
(c) date-time: the oracle's checker lets a trailing newline through (Python's ``$``); we follow RFC 3339.
    (Year 0000 and leap seconds are refused by both: base.py follows the oracle and Python's datetime.)
(d) JSON text that jsonschema never sees as such: a ``number`` beyond the float range (``1e400``, which
    ``json.loads`` turns into ``inf``, or a 400-digit integer) and lone UTF-16 surrogates (``"\\ud800"``)
    are refused by msgspec; neither is interoperable JSON (RFC 8259 §6, §8.2) and OCPP-J requires UTF-8.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import msgspec
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from chargeplane.ocpp.messages import encode
from tests.ocpp.messages.conftest import CASES, SchemaCase


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def codec_accepts(case: SchemaCase, value: Any) -> bool:
    try:
        case.decode(dumps(value))
    except msgspec.ValidationError:
        return False
    return True


def oracle_errors(case: SchemaCase, value: Any) -> list[str]:
    return [error.message for error in case.oracle.iter_errors(value)]


@pytest.mark.parametrize("case", CASES, ids=str)
@given(data=st.data())
def test_valid_payloads_round_trip(case: SchemaCase, data: st.DataObject) -> None:
    payload = data.draw(case.strategies.valid(), label="payload")
    assert oracle_errors(case, payload) == [], "the strategy produced a payload the schema rejects"

    decoded = case.decode(dumps(payload))

    assert isinstance(decoded, case.payload_type)
    assert json.loads(encode(decoded)) == payload


@pytest.mark.parametrize("case", CASES, ids=str)
@given(data=st.data())
def test_codec_rejects_what_the_schema_rejects(case: SchemaCase, data: st.DataObject) -> None:
    label, payload = data.draw(case.strategies.mutated(), label="mutated payload")
    event(label)  # pytest --hypothesis-show-statistics lists how often each kind of mutation ran
    errors = oracle_errors(case, payload)
    assert errors, f"mutation {label!r} left the payload valid"

    assert not codec_accepts(case, payload), f"codec accepted a payload with {label}: {errors[0]}"


# -- deviations and corner cases, pinned -------------------------------------------------------------------


def case_named(name: str) -> SchemaCase:
    return next(case for case in CASES if str(case) == name)


SET_CHARGING_PROFILE = case_named("v16/SetChargingProfile.json")
HEARTBEAT_201 = case_named("v201/HeartbeatResponse.json")
RESERVE_NOW_201 = case_named("v201/ReserveNowRequest.json")


def charging_profile(limit: Any) -> dict[str, Any]:
    return {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
            },
        },
    }


@pytest.mark.parametrize(
    ("limit", "valid"), [(32.0, True), (32, True), (6.3, True), (0.3, True), (6.35, False)]
)
def test_deviation_a_multiple_of_is_decimal(limit: float, valid: bool) -> None:
    payload = charging_profile(limit)
    assert codec_accepts(SET_CHARGING_PROFILE, payload) is valid
    assert (oracle_errors(SET_CHARGING_PROFILE, payload) == []) is valid
    # Plain jsonschema divides in binary floating point: 0.3 / 0.1 == 2.9999999999999996.
    plain = jsonschema.Draft4Validator(SET_CHARGING_PROFILE.schema)
    if limit in (0.3, 6.3):
        assert not plain.is_valid(payload)


def test_deviation_b_integral_float_is_not_an_integer() -> None:
    payload = {"connectorId": 1.0, "csChargingProfiles": charging_profile(32.0)["csChargingProfiles"]}
    assert not codec_accepts(SET_CHARGING_PROFILE, payload)
    assert not jsonschema.Draft4Validator(SET_CHARGING_PROFILE.schema).is_valid(payload)  # draft-04 agrees

    reserve = {
        "id": 1.0,
        "expiryDateTime": "2024-01-01T00:00:00Z",
        "idToken": {"idToken": "x", "type": "Local"},
    }
    assert jsonschema.Draft6Validator(RESERVE_NOW_201.schema).is_valid(reserve)  # draft-06 does not
    assert not codec_accepts(RESERVE_NOW_201, reserve)
    assert codec_accepts(RESERVE_NOW_201, {**reserve, "id": 1})


@pytest.mark.parametrize(
    ("timestamp", "codec", "oracle"),
    [
        ("2024-02-29T23:59:59.123+05:30", True, True),
        ("2024-01-01t00:00:00z", True, True),
        ("2023-02-29T00:00:00Z", False, False),
        ("2000-02-29T00:00:00Z", True, True),
        ("0000-01-01T00:00:00Z", False, False),  # there is no year 0
        ("2016-12-31T23:59:60Z", False, False),  # leap seconds: neither (Python's datetime has none)
        ("2024-01-01T00:00:00Z\n", False, True),  # deviation (c)
        ("\uff12\uff10\uff12\uff14-01-01T00:00:00Z", False, False),  # full-width digits
    ],
)
def test_date_time_corner_cases(timestamp: str, codec: bool, oracle: bool) -> None:
    payload = {"currentTime": timestamp}
    assert codec_accepts(HEARTBEAT_201, payload) is codec
    assert (oracle_errors(HEARTBEAT_201, payload) == []) is oracle


def test_deviation_d_json_text_jsonschema_never_sees() -> None:
    meter_values = case_named("v201/MeterValuesRequest.json")
    template = '{"evseId": 1, "meterValue": [{"timestamp": "2024-01-01T00:00:00Z", "sampledValue": [{"value": %s}]}]}'
    assert meter_values.decode((template % "1e308").encode())
    for number in ("1e400", "1" + "0" * 400):
        text = template % number
        # json.loads gives inf / a huge int: a number to jsonschema.
        assert oracle_errors(meter_values, json.loads(text)) == []
        with pytest.raises(msgspec.ValidationError, match="out of range"):
            meter_values.decode(text.encode())

    transfer = case_named("v201/DataTransferRequest.json")
    lone_surrogate = '{"vendorId": "\\ud800"}'
    assert oracle_errors(transfer, json.loads(lone_surrogate)) == []
    with pytest.raises(msgspec.DecodeError):
        transfer.decode(lone_surrogate.encode())


def test_optional_null_is_rejected_but_untyped_data_may_be_null() -> None:
    transfer = case_named("v201/DataTransferRequest.json")
    assert not codec_accepts(transfer, {"vendorId": "v", "messageId": None})
    assert codec_accepts(transfer, {"vendorId": "v", "data": None})  # "data" has no type: any JSON
    assert json.loads(encode(transfer.decode(b'{"vendorId": "v", "data": null}'))) == {
        "vendorId": "v",
        "data": None,
    }


def test_custom_data_keeps_vendor_properties() -> None:
    payload = {
        "currentTime": "2024-01-01T00:00:00Z",
        "customData": {"vendorId": "com.example", "x": [1, {"y": None}]},
    }
    decoded = HEARTBEAT_201.decode(dumps(payload))
    assert decoded.custom_data.vendor_id == "com.example"
    assert json.loads(encode(decoded)) == payload
    for bad in ({"x": 1}, {"vendorId": 5}, {"vendorId": "v" * 256}, [], None):
        assert not codec_accepts(HEARTBEAT_201, {**payload, "customData": bad})
