"""Builders of the messages the tool sends as a charging station (OCPP 2.0.1 generated Structs).

The tool's transaction bookkeeping lives here too: :func:`transaction_event` numbers ``seqNo`` from 0 per
transaction (E01.FR.07 / TC_E_53), puts the EVSE in the first event only and forgets the transaction once it
has sent ``Ended``.
"""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from typing import Any, TypeVar

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from msgspec import UNSET

from chargeplane.ocpp.messages.base import CustomData, Payload
from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import utc_now
from chargeplane.tools.conformance.checks import StepFailed
from chargeplane.tools.conformance.declaration import Configured
from chargeplane.tools.conformance.steps import CsmsTool, Transaction

_event_ids = itertools.count(1)
_notify_seq = itertools.count(0)

R = TypeVar("R", bound=Payload)


def id_token(value: str, token_type: str) -> dt.IdTokenType:
    return dt.IdTokenType(id_token=value, type=en.IdTokenEnumType(token_type))


def valid_token(configured: Configured) -> dt.IdTokenType:
    return id_token(configured.valid_idtoken, configured.valid_idtoken_type)


def boot_notification(
    configured: Configured, reason: en.BootReasonEnumType = en.BootReasonEnumType.POWER_UP
) -> msg.BootNotificationRequest:
    station = dt.ChargingStationType(model=configured.model, vendor_name=configured.vendor_name)
    return msg.BootNotificationRequest(charging_station=station, reason=reason)


def status_notification(
    status: en.ConnectorStatusEnumType, evse_id: int, connector_id: int, custom_data: CustomData | None = None
) -> msg.StatusNotificationRequest:
    return msg.StatusNotificationRequest(
        timestamp=utc_now(),
        connector_status=status,
        evse_id=evse_id,
        connector_id=connector_id,
        custom_data=UNSET if custom_data is None else custom_data,
    )


def delta_event(
    component: str, variable: str, value: str, evse_id: int | None = None, connector_id: int | None = None
) -> msg.NotifyEventRequest:
    """A NotifyEvent reporting a Delta of ``component.variable``."""
    evse = (
        UNSET
        if evse_id is None
        else dt.EVSEType(id=evse_id, connector_id=UNSET if connector_id is None else connector_id)
    )
    event = dt.EventDataType(
        event_id=next(_event_ids),
        timestamp=utc_now(),
        trigger=en.EventTriggerEnumType.DELTA,
        actual_value=value,
        event_notification_type=en.EventNotificationEnumType.HARD_WIRED_NOTIFICATION,
        component=dt.ComponentType(name=component, evse=evse),
        variable=dt.VariableType(name=variable),
    )
    return msg.NotifyEventRequest(generated_at=utc_now(), seq_no=next(_notify_seq), event_data=[event])


def availability_event(
    value: str, component: str = "Connector", evse_id: int | None = None, connector_id: int | None = None
) -> msg.NotifyEventRequest:
    """The AvailabilityState Delta Part 6 sends beside every StatusNotification."""
    return delta_event(component, "AvailabilityState", value, evse_id, connector_id)


def authorize(token: dt.IdTokenType) -> msg.AuthorizeRequest:
    return msg.AuthorizeRequest(id_token=token)


def energy_reading(
    context: en.ReadingContextEnumType, wh: float = 1000.0, timestamp: str | None = None
) -> dt.MeterValueType:
    sample = dt.SampledValueType(
        value=wh, context=context, measurand=en.MeasurandEnumType.ENERGY_ACTIVE_IMPORT_REGISTER
    )
    return dt.MeterValueType(sampled_value=[sample], timestamp=timestamp or utc_now())


def start_transaction(tool: CsmsTool) -> Transaction:
    """A new transaction of the tool (its id is a fresh UUID, its seqNo starts at 0)."""
    tool.transaction = Transaction(id=str(uuid.uuid4()))
    return tool.transaction


async def transaction_event(
    tool: CsmsTool,
    step: int | str,
    event_type: en.TransactionEventEnumType,
    trigger_reason: en.TriggerReasonEnumType,
    *,
    charging_state: en.ChargingStateEnumType | None = None,
    token: dt.IdTokenType | None = None,
    stopped_reason: en.ReasonEnumType | None = None,
    remote_start_id: int | None = None,
    meter_value: list[dt.MeterValueType] | None = None,
    timestamp: str | None = None,
    custom_data: CustomData | None = None,
    with_evse: bool = False,
    offline: bool = False,  # an event queued while the connection was down (E14, TC_E_29 / E_31 / E_33)
) -> msg.TransactionEventResponse:
    """Send a TransactionEventRequest of the tool's transaction (started here for a Started event). The EVSE
    goes in the first event, or in any with ``with_evse`` (a triggered one, F06.FR.13)."""
    transaction = tool.transaction
    if transaction is None:
        if event_type is not en.TransactionEventEnumType.STARTED:
            raise StepFailed(step, f"test case bug: {event_type.value} event without a transaction")
        transaction = start_transaction(tool)
    configured = tool.configured
    info: dict[str, Any] = {
        "transaction_id": transaction.id,
        "charging_state": charging_state,
        "stopped_reason": stopped_reason,
        "remote_start_id": remote_start_id,
        "custom_data": custom_data,
    }
    evse = (
        None
        if transaction.evse_sent and not with_evse  # with_evse: as the docstring says (was ignored)
        else dt.EVSEType(id=configured.evse_id, connector_id=configured.connector_id)
    )
    request = msg.TransactionEventRequest(
        event_type=event_type,
        timestamp=timestamp or utc_now(),
        trigger_reason=trigger_reason,
        seq_no=transaction.seq_no,
        transaction_info=dt.TransactionType(**{k: v for k, v in info.items() if v is not None}),
        evse=UNSET if evse is None else evse,
        id_token=UNSET if token is None else token,
        meter_value=UNSET if meter_value is None else meter_value,
        custom_data=UNSET if custom_data is None else custom_data,
        offline=True if offline else UNSET,
    )
    transaction.seq_no += 1
    transaction.evse_sent = True
    response = await tool.send(step, request)
    if event_type is en.TransactionEventEnumType.ENDED:
        tool.transaction = None
    if not isinstance(response, msg.TransactionEventResponse):  # the endpoint decodes by action
        raise StepFailed(step, f"unexpected {type(response).__name__}")
    return response


async def send_as(step: int | str, tool: CsmsTool, request: Payload, response_type: type[R]) -> R:
    """Send ``request`` and return its response, typed as ``response_type``."""
    response = await tool.send(step, request)
    if not isinstance(response, response_type):
        raise StepFailed(step, f"unexpected {type(response).__name__}")
    return response


# -- Signed meter values (TC_E_11, TC_J_04, TC_J_11): the CSMS must take them, not necessarily read them. ----


def signed_meter_value(
    wh: float, timestamp: str, context: en.ReadingContextEnumType
) -> dt.SignedMeterValueType:
    """An OCMF container (signed_meter_values-v10-1 §2.2.2 / §3) of one energy reading, signed with a fresh
    ECDSA secp256r1 key; the signing method is in the container, the public key goes beside it (§3.2.2)."""
    key = ec.generate_private_key(ec.SECP256R1())
    reading = {"TM": f"{timestamp} U", "TX": _OCMF_TX.get(context, "C"), "RV": wh / 1000, "RU": "kWh"}
    payload = json.dumps(
        {
            "FV": "1.0",
            "GI": "Chargeplane conformance",
            "PG": "T1",
            "RD": [dict(reading, RI="1-b:1.8.0", ST="G")],
        },
        separators=(",", ":"),
    )
    signature = key.sign(payload.encode(), ec.ECDSA(hashes.SHA256())).hex().upper()
    container = f"OCMF|{payload}|" + json.dumps(
        {"SA": "ECDSA-secp256r1-SHA256", "SD": signature}, separators=(",", ":")
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    printed = f"oca:base64:asn1:{base64.b64encode(public).decode()}"
    return dt.SignedMeterValueType(
        signed_meter_data=base64.b64encode(container.encode()).decode(),
        signing_method="",
        encoding_method="OCMF",
        public_key=base64.b64encode(printed.encode()).decode(),
    )


_OCMF_TX = {en.ReadingContextEnumType.TRANSACTION_BEGIN: "B", en.ReadingContextEnumType.TRANSACTION_END: "E"}


def signed_energy_reading(
    context: en.ReadingContextEnumType, wh: float = 1000.0, timestamp: str | None = None
) -> dt.MeterValueType:
    """:func:`energy_reading` with its signedMeterValue."""
    at = timestamp or utc_now()
    sample = dt.SampledValueType(
        value=wh,
        context=context,
        measurand=en.MeasurandEnumType.ENERGY_ACTIVE_IMPORT_REGISTER,
        signed_meter_value=signed_meter_value(wh, at, context),
    )
    return dt.MeterValueType(sampled_value=[sample], timestamp=at)
