"""Error codes per version (DIGEST 1.4), version negotiation, validation mapping, wire timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest

from chargeplane.ocpp import errors
from chargeplane.ocpp.catalog import CSMS, STATION
from chargeplane.ocpp.timestamps import from_wire, to_wire, utc_now
from chargeplane.ocpp.validation import decode_payload, error_for_validation
from chargeplane.ocpp.versions import Version, negotiate


@pytest.mark.parametrize(
    ("error", "v16", "v2x"),
    [
        (errors.FormatViolation(), "FormationViolation", "FormatViolation"),
        (
            errors.OccurrenceConstraintViolation(),
            "OccurenceConstraintViolation",
            "OccurrenceConstraintViolation",
        ),
        (errors.RpcFrameworkError(), "FormationViolation", "RpcFrameworkError"),
        (errors.MessageTypeNotSupported(), "FormationViolation", "MessageTypeNotSupported"),
        (errors.NotImplementedAction(), "NotImplemented", "NotImplemented"),
        (errors.NotSupported(), "NotSupported", "NotSupported"),
        (errors.TypeConstraintViolation(), "TypeConstraintViolation", "TypeConstraintViolation"),
        (errors.ProtocolError(), "ProtocolError", "ProtocolError"),
    ],
)
def test_each_error_has_its_code_per_version(error: errors.OcppError, v16: str, v2x: str) -> None:
    assert error.code_for(Version.V16) == v16
    assert error.code_for(Version.V201) == v2x
    assert error.code_for(Version.V21) == v2x


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("FormationViolation", errors.FormatViolation),
        ("FormatViolation", errors.FormatViolation),
        ("OccurenceConstraintViolation", errors.OccurrenceConstraintViolation),
        ("OccurrenceConstraintViolation", errors.OccurrenceConstraintViolation),
        ("NotImplemented", errors.NotImplementedAction),
        ("RpcFrameworkError", errors.RpcFrameworkError),
        ("SecurityError", errors.SecurityError),
    ],
)
def test_both_spellings_are_accepted_on_receive(code: str, cls: type) -> None:
    error = errors.error_from_wire(code, "why", {"a": 1})
    assert type(error) is cls
    assert (error.description, error.details) == ("why", {"a": 1})


def test_unknown_received_code_is_kept() -> None:
    error = errors.error_from_wire("Weird", "", {})
    assert isinstance(error, errors.UnknownErrorCode)
    assert error.received_code == "Weird"
    assert error.code_for(Version.V201) == "GenericError"


def test_description_is_cut_to_255_and_has_defaults() -> None:
    assert len(errors.GenericError("x" * 300).description) == 255
    assert errors.InternalError().description == "An internal error occurred"
    assert repr(errors.SecurityError("s")) == "SecurityError('s')"


def test_negotiation_picks_newest_common_version() -> None:
    everything = list(Version)
    assert negotiate(["ocpp1.6", "ocpp2.0.1"], everything) is Version.V201
    assert negotiate(["ocpp2.0.1", "ocpp2.1"], everything) is Version.V21
    assert negotiate(["ocpp2.1"], [Version.V16, Version.V201]) is None
    assert negotiate(["ocpp1.5", "junk"], everything) is None
    assert negotiate([], everything) is None


def test_version_names() -> None:
    assert Version.V201.subprotocol == "ocpp2.0.1"
    assert Version.from_subprotocol("ocpp1.6") is Version.V16
    assert Version.from_subprotocol("ocpp1.5") is None
    assert Version.parse("2.1") is Version.V21
    assert Version.parse("ocpp2.0.1") is Version.V201
    assert not Version.V16.is_2x
    with pytest.raises(ValueError, match="unknown OCPP version"):
        Version.parse("3.0")


def test_validation_messages_map_to_codes() -> None:
    def code(message: str, version: Version = Version.V201) -> str:
        return error_for_validation(message, version).code_for(version)

    assert code("Invalid enum value 'x' - at `$.status`") == "PropertyConstraintViolation"
    assert code("Expected `str` matching regex '\\A...' - at `$.t`") == "PropertyConstraintViolation"
    assert error_for_validation(
        "Expected `str` matching regex '\\A...' - at `$.t`", Version.V201
    ).description == ("Expected `str` in the required format at $.t")
    assert (
        code("Expected `float` that's a multiple of 0.1 for `limit` - at `$.x`")
        == "PropertyConstraintViolation"
    )
    assert code("Expected `object`, got `array` - at `$.x`") == "TypeConstraintViolation"
    assert code("Expected `object`, got `array`", Version.V16) == "FormationViolation"


def test_wire_timestamps() -> None:
    moment = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert to_wire(moment) == "2024-05-01T12:00:00.123Z"
    assert to_wire(moment.replace(microsecond=0)) == "2024-05-01T12:00:00Z"
    assert to_wire(datetime(2024, 5, 1, 14, tzinfo=timezone(timedelta(hours=2)))) == "2024-05-01T12:00:00Z"
    with pytest.raises(ValueError, match="naive"):
        to_wire(datetime(2024, 5, 1))
    assert from_wire("2024-05-01T12:00:00.1Z") == datetime(2024, 5, 1, 12, 0, 0, 100000, tzinfo=UTC)
    assert from_wire("2024-05-01t12:00:00.123456789z") == datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert from_wire("2024-05-01T14:00:00-02:00") == datetime(2024, 5, 1, 16, tzinfo=UTC)
    with pytest.raises(ValueError, match="without offset"):
        from_wire("2024-05-01T12:00:00")
    assert from_wire(utc_now()).tzinfo is not None
    # RFC 3339 allows a lower-case z, which Python's own parser refuses: read by the slower path
    assert from_wire("2024-05-01t12:00:00z") == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert from_wire("2024-05-01t13:00:00.5+01:00") == datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)
    with pytest.raises(ValueError, match="without offset"):
        from_wire("2024-05-01t12:00:00")
    with pytest.raises(ValueError, match="isoformat"):
        from_wire("not a time")


def test_decode_payload_reports_broken_json_as_formatviolation() -> None:
    decoder = msgspec.json.Decoder(dict[str, int])
    with pytest.raises(errors.FormatViolation):
        decode_payload(decoder, b"{", Version.V201)
    assert decode_payload(decoder, b'{"a":1}', Version.V201) == {"a": 1}


def test_roles_send_and_receive_opposite_directions() -> None:
    assert CSMS.sends == STATION.receives
    assert repr(CSMS) == "Role(CSMS)"


def test_decode_payload_reports_nesting_beyond_the_limit_as_formatviolation() -> None:
    decoder = msgspec.json.Decoder(dict[str, Any])
    deep = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(errors.FormatViolation, match="nested too deeply"):
        decode_payload(decoder, deep, Version.V201)
