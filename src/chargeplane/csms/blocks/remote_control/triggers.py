"""Which station-initiated action a TriggerMessage asks for (F06), per version.

The registration gate (:mod:`chargeplane.csms.session`) lets a Pending station send that action once
(B02.FR.02), so the CSMS must know the action name behind each ``requestedMessage`` value.
"""

from __future__ import annotations

from chargeplane.ocpp.messages import v2x, v16, v21, v201
from chargeplane.ocpp.messages.base import Payload

# 2.0.1 / 2.1 MessageTriggerEnumType. The certificate triggers all ask for a SignCertificate request (A02/A03,
# and ISO 15118 certificates); CustomTrigger names nothing the CSMS can know, so it opens nothing.
_V2X = {
    "BootNotification": "BootNotification",
    "LogStatusNotification": "LogStatusNotification",
    "FirmwareStatusNotification": "FirmwareStatusNotification",
    "Heartbeat": "Heartbeat",
    "MeterValues": "MeterValues",
    "SignChargingStationCertificate": "SignCertificate",
    "SignV2GCertificate": "SignCertificate",
    "SignV2G20Certificate": "SignCertificate",
    "SignCombinedCertificate": "SignCertificate",
    "StatusNotification": "StatusNotification",
    "TransactionEvent": "TransactionEvent",
    "PublishFirmwareStatusNotification": "PublishFirmwareStatusNotification",
}

# 1.6 TriggerMessage (core): every value is the name of the action it asks for.
_V16 = {
    name: name
    for name in (
        "BootNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StatusNotification",
    )
}

# 1.6 security extension ExtendedTriggerMessage (whitepaper MessageTriggerEnumType): FirmwareStatusNotification
# asks for the signed-firmware status message, SignChargePointCertificate for SignCertificate.
_V16_EXTENDED = {
    "BootNotification": "BootNotification",
    "LogStatusNotification": "LogStatusNotification",
    "FirmwareStatusNotification": "SignedFirmwareStatusNotification",
    "Heartbeat": "Heartbeat",
    "MeterValues": "MeterValues",
    "SignChargePointCertificate": "SignCertificate",
    "StatusNotification": "StatusNotification",
}

_TABLES: dict[type[Payload], dict[str, str]] = {
    v16.messages.TriggerMessageRequest: _V16,
    v16.messages.ExtendedTriggerMessageRequest: _V16_EXTENDED,
    v201.messages.TriggerMessageRequest: _V2X,
    v21.messages.TriggerMessageRequest: _V2X,
}
Trigger = (
    v16.messages.TriggerMessageRequest
    | v16.messages.ExtendedTriggerMessageRequest
    | v2x.TriggerMessageRequest
)


def is_trigger(request: Payload) -> bool:
    return type(request) in _TABLES


def triggered_action(request: Payload) -> str | None:
    """The action a trigger request asks the station to send, or ``None`` (not a trigger, or CustomTrigger)."""
    table = _TABLES.get(type(request))
    if table is None or not isinstance(request, Trigger):
        return None
    return table.get(str(request.requested_message))
