"""The convenience routes' requests, translated to the station's version (1.6, 2.0.1, 2.1).

The bodies take the names of either family; each builder writes the request of the station's version, and a
value with no equivalent there is refused (422) with the reason instead of being dropped or sent as it came.
The payloads are then checked against the version's schema like any command (lengths, enumerations).

=============  =======================================================================================
route          translation
=============  =======================================================================================
remote-start   1.6 RemoteStartTransaction {idTag, connectorId}; 2.x RequestStartTransaction {idToken
               {idToken, type}, remoteStartId, evseId}; either with chargingProfile (K05, as given). The type is resolved by the route (the stored
               token's). 2.x has no connectorId; 1.6 has no remoteStartId.
remote-stop    1.6 transactionId is an integer; 2.x a string.
unlock         1.6 connectorId is the EVSE (connector N is EVSE N, connector 1, as ``availability`` maps
               it); 2.x needs evseId and connectorId.
reset          1.6 Hard | Soft; 2.x Immediate | OnIdle (2.1 also ImmediateAndResume). Immediate -> 1.6
               Hard (reboot now, transactions ended); Hard and Soft -> 2.x Immediate (both end the
               transactions and restart now; 2.x has one such reset). OnIdle (wait until no transaction
               runs) has no 1.6 equivalent: Soft would end the transactions. 1.6 resets the whole station
               (no evseId).
trigger        DiagnosticsStatusNotification (1.6) <-> LogStatusNotification (2.x and the 1.6 security
               extension); SignChargePointCertificate (1.6) <-> SignChargingStationCertificate (2.x); 1.6
               core triggers in TriggerMessage, the others in ExtendedTriggerMessage; a trigger the version
               does not have (TransactionEvent on 1.6, customTrigger before 2.1) is refused.
=============  =======================================================================================
"""

from __future__ import annotations

import secrets
from typing import Any

import msgspec

from chargeplane.csms.blocks.remote_control.service import InvalidCommand
from chargeplane.ocpp.messages import v16, v21, v201
from chargeplane.ocpp.versions import Version

Built = tuple[str, dict[str, Any]]  # action, wire payload

NO_EQUIVALENT = "NoEquivalent"  # the 422 code of a value the station's version cannot express


class RemoteStartIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    id_token: str
    token_type: str | None = None  # 2.x IdToken type; the stored token's when absent (1.6 has no type)
    evse_id: int | None = None
    connector_id: int | None = None  # 1.6 only: 2.x starts on an EVSE and the station picks the connector
    remote_start_id: int | None = None  # 2.x; generated when absent (and returned in ``request``)
    # K05 / 1.6 §5.11: a TxProfile for the transaction, in the wire form of the station's version (checked
    # with the command's rules: TxProfile, no transactionId)
    charging_profile: dict[str, Any] | None = None


class RemoteStopIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    transaction_id: str | int


class UnlockIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    connector_id: int
    evse_id: int | None = None  # required by 2.x


class ResetIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    type: str  # Immediate | OnIdle (2.x; 2.1 also ImmediateAndResume) or Hard | Soft (1.6): translated
    evse_id: int | None = None  # 2.x only


class TriggerIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    requested_message: str
    evse_id: int | None = None
    connector_id: int | None = None
    custom_trigger: str | None = None  # 2.1 CustomTrigger


def _no_equivalent(version: Version, what: str) -> InvalidCommand:
    return InvalidCommand(NO_EQUIVALENT, f"OCPP {version.value} has no equivalent of {what}")


def _v16_connector(evse_id: int | None, connector_id: int | None) -> int | None:
    """The 1.6 connectorId of an EVSE / connector pair: 1.6 connector N is EVSE N (its connector 1)."""
    if evse_id is None:
        return connector_id
    if connector_id not in (None, 1, evse_id):
        raise _no_equivalent(
            Version.V16, f"connector {connector_id} of EVSE {evse_id} (1.6 connector N is EVSE N)"
        )
    return evse_id


def remote_start(data: RemoteStartIn, version: Version, token_type: str) -> Built:
    if not version.is_2x:  # 1.6 RemoteStartTransaction: no token type, no remoteStartId
        if data.remote_start_id is not None:
            raise _no_equivalent(version, "remoteStartId")
        payload: dict[str, Any] = {"idTag": data.id_token}
        connector = _v16_connector(data.evse_id, data.connector_id)
        if connector is not None:
            payload["connectorId"] = connector
        if data.charging_profile is not None:
            payload["chargingProfile"] = data.charging_profile
        return "RemoteStartTransaction", payload
    if data.connector_id is not None:
        raise InvalidCommand("NotSupported", "OCPP 2.x starts on an EVSE: give evseId, not connectorId")
    payload = {
        "idToken": {"idToken": data.id_token, "type": token_type},
        "remoteStartId": data.remote_start_id
        if data.remote_start_id is not None
        else secrets.randbelow(2**31 - 1) + 1,
    }
    if data.evse_id is not None:
        payload["evseId"] = data.evse_id
    if data.charging_profile is not None:
        payload["chargingProfile"] = data.charging_profile
    return "RequestStartTransaction", payload


def remote_stop(data: RemoteStopIn, version: Version) -> Built:
    if version.is_2x:
        return "RequestStopTransaction", {"transactionId": str(data.transaction_id)}
    transaction_id = data.transaction_id
    if isinstance(transaction_id, str):
        if not transaction_id.isdigit():
            raise InvalidCommand(
                "TypeConstraintViolation", "1.6 transaction ids are integers at $.transactionId"
            )
        transaction_id = int(transaction_id)
    return "RemoteStopTransaction", {"transactionId": transaction_id}


def unlock(data: UnlockIn, version: Version) -> Built:
    if not version.is_2x:
        return "UnlockConnector", {"connectorId": _v16_connector(data.evse_id, data.connector_id)}
    if data.evse_id is None:
        raise InvalidCommand("OccurrenceConstraintViolation", "OCPP 2.x needs evseId at $.evseId")
    return "UnlockConnector", {"evseId": data.evse_id, "connectorId": data.connector_id}


_V16_RESETS = {member.value for member in v16.enums.ResetType}
_RESET_TO_V16 = {"Immediate": "Hard"}
_RESET_TO_V2X = {"Hard": "Immediate", "Soft": "Immediate"}
_V2X_RESETS = {
    Version.V201: {member.value for member in v201.enums.ResetEnumType},
    Version.V21: {member.value for member in v21.enums.ResetEnumType},
}


def reset(data: ResetIn, version: Version) -> Built:
    if not version.is_2x:
        kind = data.type if data.type in _V16_RESETS else _RESET_TO_V16.get(data.type)
        if kind is None:
            raise _no_equivalent(version, f"reset type {data.type} (1.6: Hard or Soft)")
        if data.evse_id is not None:
            raise InvalidCommand("NotSupported", "OCPP 1.6 resets the whole charge point: no evseId")
        return "Reset", {"type": kind}
    known = _V2X_RESETS[version]
    kind = data.type if data.type in known else _RESET_TO_V2X.get(data.type)
    if kind is None:
        raise _no_equivalent(version, f"reset type {data.type} ({', '.join(sorted(known))})")
    payload: dict[str, Any] = {"type": kind}
    if data.evse_id is not None:
        payload["evseId"] = data.evse_id
    return "Reset", payload


_V16_CORE_TRIGGERS = {member.value for member in v16.enums.MessageTrigger}
_V16_EXTENDED_TRIGGERS = {member.value for member in v16.enums.MessageTriggerEnumType}
_TRIGGER_TO_V16_EXTENDED = {"SignChargingStationCertificate": "SignChargePointCertificate"}
_TRIGGER_TO_V2X = {
    "DiagnosticsStatusNotification": "LogStatusNotification",
    "SignChargePointCertificate": "SignChargingStationCertificate",
}
_V2X_TRIGGERS = {
    Version.V201: {member.value for member in v201.enums.MessageTriggerEnumType},
    Version.V21: {member.value for member in v21.enums.MessageTriggerEnumType},
}


def trigger(data: TriggerIn, version: Version) -> Built:
    message = data.requested_message
    if not version.is_2x:
        if data.custom_trigger is not None:
            raise _no_equivalent(version, "customTrigger")
        payload: dict[str, Any] = {}
        connector = _v16_connector(data.evse_id, data.connector_id)
        if connector is not None:
            payload["connectorId"] = connector
        if message in _V16_CORE_TRIGGERS:
            return "TriggerMessage", {"requestedMessage": message} | payload
        extended = _TRIGGER_TO_V16_EXTENDED.get(message, message)
        if extended not in _V16_EXTENDED_TRIGGERS:
            raise _no_equivalent(version, f"the trigger {message}")
        return "ExtendedTriggerMessage", {"requestedMessage": extended} | payload
    message = message if message in _V2X_TRIGGERS[version] else _TRIGGER_TO_V2X.get(message, "")
    if not message:
        raise _no_equivalent(version, f"the trigger {data.requested_message}")
    if data.custom_trigger is not None and version is not Version.V21:
        raise _no_equivalent(version, "customTrigger (2.1)")
    payload = {"requestedMessage": message}
    if data.evse_id is not None:
        evse: dict[str, Any] = {"id": data.evse_id}
        if data.connector_id is not None:
            evse["connectorId"] = data.connector_id
        payload["evse"] = evse
    elif data.connector_id is not None:
        raise InvalidCommand("OccurrenceConstraintViolation", "a connectorId needs its evseId at $.evse.id")
    if data.custom_trigger is not None:
        payload["customTrigger"] = data.custom_trigger
    return "TriggerMessage", payload
