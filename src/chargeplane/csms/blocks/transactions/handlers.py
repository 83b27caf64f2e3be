"""OCPP side of transactions and metering for 1.6, 2.0.1 and 2.1.

2.x: TransactionEvent (E01-E15, J02) and MeterValues (J01), one code path for 2.0.1 and 2.1.
1.6: StartTransaction, StopTransaction and MeterValues, a thin adapter onto the same service.
Every handler returns only after the message's writes are committed (the durability rule).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from chargeplane.csms.blocks.authorization.service import id_tag_info, id_token_info
from chargeplane.csms.blocks.transactions.fold import ENERGY_REGISTER, EventFacts
from chargeplane.csms.blocks.transactions.repository import Sample
from chargeplane.csms.blocks.transactions.service import TransactionService
from chargeplane.ocpp.errors import PropertyConstraintViolation
from chargeplane.ocpp.messages import v2x, v16, v21, v201
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.router import Router, register_2x
from chargeplane.ocpp.timestamps import from_wire
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection


def register(routers: dict[Version, Router[OcppConnection]], service: TransactionService) -> None:
    _register_v16(routers[Version.V16], service)
    _register_v2x(routers, service)


def _text(value: object) -> str | None:
    value = present(value)
    return None if value is None else str(value)


# -- 2.x ------------------------------------------------------------------------------------------------


# Checked by mypy once per version (a union would lose the field types of the nested values).
MeterValue = TypeVar("MeterValue", v201.datatypes.MeterValueType, v21.datatypes.MeterValueType)


def samples_v2x(meter_values: list[MeterValue] | UnsetType) -> list[Sample]:
    """The sampled values of 2.x MeterValueType elements (J02.FR.02, J02.FR.18: one timestamp for all)."""
    samples: list[Sample] = []
    if meter_values is UNSET:
        return samples
    # The hot path of a TransactionEvent: optional fields are tested against UNSET here rather than through
    # present() / _text(), a few function calls less for each of some 30 fields of an event.
    for meter_value in meter_values:
        timestamp = from_wire(meter_value.timestamp)
        for sampled in meter_value.sampled_value:
            unit = sampled.unit_of_measure
            signed = sampled.signed_meter_value
            value = float(sampled.value)
            samples.append(
                Sample(
                    timestamp=timestamp,
                    measurand=ENERGY_REGISTER if sampled.measurand is UNSET else str(sampled.measurand),
                    value=value if math.isfinite(value) else None,
                    phase=None if sampled.phase is UNSET else str(sampled.phase),
                    location=None if sampled.location is UNSET else str(sampled.location),
                    context=None if sampled.context is UNSET else str(sampled.context),
                    unit=None if unit is UNSET or unit.unit is UNSET else str(unit.unit),
                    multiplier=None if unit is UNSET or unit.multiplier is UNSET else unit.multiplier,
                    signed_data=None if signed is UNSET else msgspec.to_builtins(signed),
                )
            )
    return samples


def _token_info(
    token: v201.datatypes.IdTokenType | v21.datatypes.IdTokenType | None,
) -> dict[str, str] | None:
    """The idToken's additionalInfo (a terminal's card details, C18.FR.06), by type."""
    if token is None or not token.additional_info:
        return None
    return {str(i.type): i.additional_id_token for i in token.additional_info}


_V201, _V21 = Version.V201.value, Version.V21.value  # read once: an enum member's value is a property


def _register_v2x(routers: dict[Version, Router[OcppConnection]], service: TransactionService) -> None:
    async def transaction_event(
        request: v2x.TransactionEventRequestT, conn: OcppConnection
    ) -> v2x.TransactionEventResponse:
        ns = v2x.dialect_of(request)
        version = _V201 if issubclass(ns, v201.Messages) else _V21
        info = request.transaction_info
        evse = present(request.evse)
        if evse is not None and evse.id <= 0:
            raise PropertyConstraintViolation("evse.id must be > 0: a transaction takes place on an EVSE")
        token = present(request.id_token)
        facts = EventFacts(
            transaction_id=info.transaction_id,
            event_type=str(request.event_type),
            timestamp=from_wire(request.timestamp),
            seq_no=request.seq_no,
            trigger_reason=str(request.trigger_reason),
            offline=present(request.offline) is True,
            evse_id=evse.id if evse is not None else None,
            connector_id=present(evse.connector_id) if evse is not None else None,
            id_token=token.id_token if token is not None else None,
            token_type=str(token.type) if token is not None else None,
            token_info=_token_info(token),
            charging_state=_text(info.charging_state),
            stopped_reason=_text(info.stopped_reason),
            remote_start_id=present(info.remote_start_id),
            reservation_id=present(request.reservation_id),
            samples=samples_v2x(request.meter_value),
        )
        if isinstance(request, v21.messages.TransactionEventRequest):
            cost = present(request.cost_details)
            limit = present(request.transaction_info.transaction_limit)
            facts = dataclasses.replace(
                facts,
                tariff_id=present(request.transaction_info.tariff_id),
                cost_details=msgspec.to_builtins(cost) if cost is not None else None,
                transaction_limit=msgspec.to_builtins(limit) if limit is not None else None,
                evse_sleep=present(request.evse_sleep),
            )
        outcome = await service.transaction_event(conn.station_id, version, facts)
        extras = await service.response_extras(conn.station_id, version, facts, outcome)
        message = (
            ns.MessageContentType(
                format=ns.MessageFormatEnumType.UTF8,
                content=extras.personal_message[:512],
                language=extras.language or UNSET,
            )
            if extras.personal_message
            else UNSET
        )
        response = ns.TransactionEventResponse(
            id_token_info=id_token_info(outcome.decision, ns) if outcome.decision is not None else UNSET,
            total_cost=float(extras.total_cost) if extras.total_cost is not None else UNSET,
            updated_personal_message=message,
        )
        # E16.FR.02 / F07.FR.02: the limits the API set, once; a block's (payments) under the API's
        limits = (extras.transaction_limit or {}) | (outcome.limit or {})
        if isinstance(response, v21.messages.TransactionEventResponse) and limits:
            limit = msgspec.convert(limits, v21.datatypes.TransactionLimitType, strict=False)
            response = msgspec.structs.replace(response, transaction_limit=limit)
        return response

    async def meter_values(request: v2x.MeterValuesRequestT, conn: OcppConnection) -> v2x.MeterValuesResponse:
        if request.evse_id < 0:
            raise PropertyConstraintViolation("evseId must be >= 0")
        await service.meter_values(conn.station_id, samples_v2x(request.meter_value), evse_id=request.evse_id)
        return v2x.dialect_of(request).MeterValuesResponse()

    register_2x(
        routers,
        (v201.messages.TransactionEventRequest, v21.messages.TransactionEventRequest),
        transaction_event,
    )
    register_2x(routers, (v201.messages.MeterValuesRequest, v21.messages.MeterValuesRequest), meter_values)


# -- 1.6 ------------------------------------------------------------------------------------------------


def samples_v16(meter_values: list[v16.datatypes.MeterValue]) -> list[Sample]:
    """1.6 sampled values: the value is text; SignedData values are kept as signed data, not numbers."""
    samples: list[Sample] = []
    for meter_value in meter_values:
        timestamp = from_wire(meter_value.timestamp)
        for sampled in meter_value.sampled_value:
            signed: dict[str, Any] | None = None
            number: float | None = None
            if _text(sampled.format) == "SignedData":
                signed = {"signedData": sampled.value}
            else:
                try:
                    number = float(sampled.value)
                except ValueError:
                    signed = {"raw": sampled.value}  # not a number: kept verbatim
                if number is not None and not math.isfinite(number):
                    number, signed = None, {"raw": sampled.value}
            samples.append(
                Sample(
                    timestamp=timestamp,
                    measurand=_text(sampled.measurand) or ENERGY_REGISTER,
                    value=number,
                    phase=_text(sampled.phase),
                    location=_text(sampled.location),
                    context=_text(sampled.context),
                    unit=_text(sampled.unit),
                    signed_data=signed,
                )
            )
    return samples


def _register_v16(router: Router[OcppConnection], service: TransactionService) -> None:
    async def start_transaction(
        request: v16.messages.StartTransactionRequest, conn: OcppConnection
    ) -> v16.messages.StartTransactionResponse:
        # C16 §4.8: re-check the idTag, and always answer (sanity checks never refuse the message).
        outcome = await service.start_v16(
            conn.station_id,
            connector_id=request.connector_id,
            id_tag=request.id_tag,
            meter_start=request.meter_start,
            timestamp=from_wire(request.timestamp),
            reservation_id=present(request.reservation_id),
        )
        assert outcome.decision is not None
        return v16.messages.StartTransactionResponse(
            id_tag_info=id_tag_info(outcome.decision), transaction_id=outcome.transaction_key
        )

    async def stop_transaction(
        request: v16.messages.StopTransactionRequest, conn: OcppConnection
    ) -> v16.messages.StopTransactionResponse:
        # C16 §4.10: a stop cannot be refused; an unknown transactionId is answered and recorded.
        outcome = await service.stop_v16(
            conn.station_id,
            transaction_id=request.transaction_id,
            meter_stop=request.meter_stop,
            timestamp=from_wire(request.timestamp),
            id_tag=present(request.id_tag),
            reason=_text(request.reason),
            samples=samples_v16(present(request.transaction_data) or []),
        )
        if outcome.decision is None:
            return v16.messages.StopTransactionResponse()
        return v16.messages.StopTransactionResponse(id_tag_info=id_tag_info(outcome.decision))

    async def meter_values(
        request: v16.messages.MeterValuesRequest, conn: OcppConnection
    ) -> v16.messages.MeterValuesResponse:
        if request.connector_id < 0:
            raise PropertyConstraintViolation("connectorId must be >= 0")
        transaction_id = present(request.transaction_id)
        await service.meter_values(
            conn.station_id,
            samples_v16(request.meter_value),
            transaction_id=str(transaction_id) if transaction_id is not None else None,
            connector_id=request.connector_id,
        )
        return v16.messages.MeterValuesResponse()

    router.register(v16.messages.StartTransactionRequest, start_transaction)
    router.register(v16.messages.StopTransactionRequest, stop_transaction)
    router.register(v16.messages.MeterValuesRequest, meter_values)
