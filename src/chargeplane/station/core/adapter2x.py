"""The 2.0.1 / 2.1 wire format of the station, written once for both (generic in the :data:`Dialect`).

mypy checks this class once per dialect: a 2.0.1 datatype inside a 2.1 message is a type error. 2.1 only
adds optional fields the station does not send, so one body serves both.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Generic

import msgspec
from msgspec import UNSET, UnsetType

from chargeplane.ocpp.messages import v21, v201
from chargeplane.ocpp.messages.base import Payload, present
from chargeplane.ocpp.messages.v2x import Dialect
from chargeplane.ocpp.messages.v21 import datatypes as d21
from chargeplane.ocpp.messages.v201 import datatypes as d201
from chargeplane.station.core import (
    authorization,
    der_control,
    metering,
    offline_queue,
    payments,
    tariff_cost,
    transactions,
    tx_limits,
    tx_rules,
)
from chargeplane.station.core import v2x as v2x_control
from chargeplane.station.core.adapter import BootAnswer, IdInfo, Sample, TxEvent, TxEventKind, narrow
from chargeplane.station.core.context import Context
from chargeplane.station.core.device_model import DeviceModel, StationLayout, VariableDef
from chargeplane.station.core.model import ACCEPTED, ContractHash, Evse, Token, tx_to_json

SAMPLED = "SampledDataCtrlr"


def _id_token(token: Token) -> dict[str, object]:
    """An IdTokenType on the wire; converted (and checked) by msgspec because its ``type`` is an enum in
    2.0.1 and any string in 2.1."""
    wire: dict[str, object] = {"idToken": token.value, "type": token.type}
    if token.details:  # C18.FR.04/06: the payment details in additionalInfo
        wire["additionalInfo"] = [{"additionalIdToken": v, "type": kind} for kind, v in token.details]
    return wire


def _content(message: d201.MessageContentType | d21.MessageContentType | UnsetType) -> str | None:
    return None if isinstance(message, UnsetType) else message.content


class Adapter2x(Generic[Dialect]):
    offline_flag = True

    def __init__(self, ns: Dialect) -> None:
        self.ns: Dialect = ns

    def extra_variables(self, layout: StationLayout) -> list[VariableDef]:
        """2.1 only: DCDERCtrlr (R01.FR.01)."""
        return der_control.variables(layout) if self.ns is v21.Messages else []

    def configure(self, model: DeviceModel) -> None:
        """Nothing fixed: TxStartPoint / TxStopPoint are the CSMS's to set."""

    def token_type(self, given: str) -> str:
        return given

    # ------------------------------------------------------------------ provisioning and heartbeat
    def boot_request(self, layout: StationLayout, reason: str) -> Payload:
        ns = self.ns
        station = ns.ChargingStationType(
            model=layout.model,
            vendor_name=layout.vendor,
            serial_number=layout.serial_number,
            firmware_version=layout.firmware_version,
        )
        return ns.BootNotificationRequest(charging_station=station, reason=ns.BootReasonEnumType(reason))

    def boot_answer(self, response: Payload) -> BootAnswer:
        answer = narrow(response, self.ns.BootNotificationResponse)
        return BootAnswer(str(answer.status), answer.current_time, answer.interval)

    def heartbeat_request(self) -> Payload:
        return self.ns.HeartbeatRequest()

    def current_time(self, response: Payload) -> str:
        return narrow(response, self.ns.HeartbeatResponse).current_time

    # ------------------------------------------------------------------ authorization
    def authorize_request(
        self, token: Token, contract: tuple[ContractHash, ...] = (), certificate: str | None = None
    ) -> Payload:
        ns = self.ns
        id_token = msgspec.convert(_id_token(token), ns.IdTokenType)
        chain = [  # C07.FR.02: the eMAID and the OCSP data of the contract chain
            ns.OCSPRequestDataType(
                hash_algorithm=ns.HashAlgorithmEnumType(c.hash_algorithm),
                issuer_name_hash=c.issuer_name_hash,
                issuer_key_hash=c.issuer_key_hash,
                serial_number=c.serial_number,
                responder_url=c.responder_url,
            )
            for c in contract
        ]
        if certificate is not None:  # C07.FR.06: the contract chain (PEM) for the CSMS to validate
            if not chain:
                return ns.AuthorizeRequest(id_token=id_token, certificate=certificate)
            return ns.AuthorizeRequest(
                id_token=id_token, certificate=certificate, iso15118_certificate_hash_data=chain
            )
        if not chain:
            return ns.AuthorizeRequest(id_token=id_token)
        return ns.AuthorizeRequest(id_token=id_token, iso15118_certificate_hash_data=chain)

    def authorize_answer(self, response: Payload) -> IdInfo:
        answer = narrow(response, self.ns.AuthorizeResponse)
        info = self._info(answer.id_token_info)
        if isinstance(answer, v21.messages.AuthorizeResponse) and present(answer.tariff) is not None:
            return dataclasses.replace(info, tariff=msgspec.to_builtins(answer.tariff))  # I08
        return info

    @staticmethod
    def _info(info: d201.IdTokenInfoType | d21.IdTokenInfoType) -> IdInfo:
        group: d201.IdTokenType | d21.IdTokenType | None = (
            None if isinstance(_v := info.group_id_token, UnsetType) else _v
        )
        return IdInfo(
            str(info.status),
            group.id_token if group is not None else None,
            present(info.cache_expiry_date_time),
            tuple(present(info.evse_id) or ()),
            present(info.language1),
            _content(info.personal_message),
        )

    # ------------------------------------------------------------------ availability
    def connector_status(self, evse: Evse, connector_id: int, station_operative: bool, reserved: bool) -> str:
        """G01: the 2.x ConnectorStatusEnumType."""
        if evse.faulted:
            return "Faulted"
        if not evse.operative or not station_operative or evse.resetting:
            return "Unavailable"
        if evse.plugged == connector_id or evse.tx is not None:
            return "Occupied"
        return "Reserved" if reserved else "Available"

    def status_request(self, evse: Evse, connector_id: int, status: str, timestamp: str) -> Payload:
        ns = self.ns
        return ns.StatusNotificationRequest(
            timestamp=timestamp,
            connector_status=ns.ConnectorStatusEnumType(status),
            evse_id=evse.id,
            connector_id=connector_id,
        )

    # ------------------------------------------------------------------ metering
    def meter_value(self, samples: list[Sample], context: str, timestamp: str) -> Payload | None:
        return self._meter_value(samples, context, timestamp)

    def _meter_value(
        self, samples: list[Sample], context: str, timestamp: str
    ) -> d201.MeterValueType | d21.MeterValueType | None:
        """J01-J03: a MeterValue of the samples (None without any)."""
        ns = self.ns
        if not samples:
            return None
        sampled = [
            ns.SampledValueType(
                value=value,
                context=ns.ReadingContextEnumType(context),
                measurand=ns.MeasurandEnumType(measurand),
                unit_of_measure=ns.UnitOfMeasureType(unit=unit),
            )
            for measurand, value, unit in samples
        ]
        return ns.MeterValueType(sampled_value=sampled, timestamp=timestamp)

    def idle_meter_values(self, evse_id: int, value: Payload) -> Payload:
        ns = self.ns
        return ns.MeterValuesRequest(evse_id=evse_id, meter_value=[narrow(value, ns.MeterValueType)])

    # ------------------------------------------------------------------ transactions
    def transaction_event(self, ctx: Context, evse: Evse, event: TxEvent, now: datetime) -> None:
        """E01-E15: one TransactionEvent, into the durable queue."""
        ns = self.ns
        tx = evse.tx
        assert tx is not None
        state = tx_rules.charging_state(evse, ended=event.kind is TxEventKind.ENDED)
        changed = state != tx.charging_state or event.kind is TxEventKind.STARTED  # E01.FR.18 when it changes
        if changed:
            tx.charging_state = state
        with_state = changed or event.trigger == "Trigger"  # F06.FR.07: a triggered event always has it
        stopped = (
            event.stopped_reason if event.stopped_reason != "Local" else None
        )  # E06.FR.09 Local may be left out
        remote_start: int | UnsetType = UNSET
        if tx.remote_start_id is not None and not tx.remote_start_sent:  # F02.FR.01 remoteStartId once
            remote_start = tx.remote_start_id
            tx.remote_start_sent = True
        info = ns.TransactionType(
            transaction_id=tx.id,
            charging_state=ns.ChargingStateEnumType(state) if with_state else UNSET,
            stopped_reason=ns.ReasonEnumType(stopped) if stopped is not None else UNSET,
            remote_start_id=remote_start,
        )
        send_evse = not tx.evse_sent  # E01.FR.16 evse once
        tx.evse_sent = True
        token = tx.token if not tx.token_sent or event.with_token else None  # E03.FR.01 / E07.FR.02
        if token is not None:
            tx.token_sent = True
        measurands = event.measurands
        if measurands is None and event.kind is not TxEventKind.UPDATED:
            which = "TxStartedMeasurands" if event.kind is TxEventKind.STARTED else "TxEndedMeasurands"
            own = tuple(ctx.model.members(SAMPLED, which))
            measurands = ctx.get(metering.Metering).with_extra(evse, which, own, now)  # V2X: Q01.FR.33/34
        value = None
        if measurands:
            found = metering.samples(evse, measurands, ctx.layout.supply_phases)
            value = self._meter_value(found, event.context or "Sample.Periodic", ctx.ts(now))
        values = [narrow(value, ns.MeterValueType)] if value is not None else []
        if event.kind is TxEventKind.ENDED:  # J01/J02: the TxEndedInterval readings, then the end value
            kept = [self._meter_value(list(s), context, ts) for context, ts, s in tx.ended_readings]
            values = [narrow(v, ns.MeterValueType) for v in kept if v is not None] + values
        reservation = tx.reservation_id if event.kind is TxEventKind.STARTED else None
        request = ns.TransactionEventRequest(
            event_type=ns.TransactionEventEnumType(event.kind),
            timestamp=ctx.ts(now),
            trigger_reason=ns.TriggerReasonEnumType(event.trigger),
            seq_no=tx.seq_no,  # E01.FR.07: from 0, +1 per message
            transaction_info=info,
            evse=ns.EVSEType(id=evse.id, connector_id=tx.connector_id) if send_evse else UNSET,
            id_token=msgspec.convert(_id_token(token), ns.IdTokenType) if token else UNSET,
            reservation_id=reservation if reservation is not None else UNSET,
            meter_value=values if values else UNSET,
        )
        queued: Payload = request
        if isinstance(request, v21.messages.TransactionEventRequest):  # I12: tariffId, costDetails
            terminal = ctx.get(payments.Payments)
            terminal.before_event(evse, request)  # C18.FR.06: maxCost = the amount the card holds
            limited = ctx.get(tx_limits.TxLimits).decorate(evse, request)  # E16: transactionLimit once
            queued = ctx.get(tariff_cost.TariffCost).decorate(evse, narrow(limited, type(request)), now)
            queued = ctx.get(v2x_control.V2x).decorate(evse, narrow(queued, type(request)))
            terminal.after_event(evse, queued, now)  # C20-C22: settled with the local cost
        tx.seq_no += 1
        if event.kind is not TxEventKind.ENDED:
            ctx.storage.set_state(f"tx:{evse.id}", json.dumps(tx_to_json(tx)))
        ctx.get(offline_queue.OfflineQueue).push(queued, now)

    def transaction_answered(
        self, ctx: Context, request: Payload, response: Payload, now: datetime, key: int
    ) -> None:
        """E05 / C15: the CSMS's verdict on the token; non-Accepted ends or suspends the transaction."""
        ns = self.ns
        if not isinstance(request, ns.TransactionEventRequest):
            return
        ctx.get(tariff_cost.TariffCost).answered(request, response, now)  # I02.FR.04, I03.FR.03, I06.FR.03
        if isinstance(request, v21.messages.TransactionEventRequest):  # E16: cost update, the CSMS's limit
            answer = narrow(response, v21.messages.TransactionEventResponse)
            ctx.get(tx_limits.TxLimits).answered(request, answer, now)
            ctx.get(payments.Payments).answered(request, answer, now)  # C21: the CSMS's final cost
        info = present(narrow(response, ns.TransactionEventResponse).id_token_info)
        token = present(request.id_token)
        if info is None or token is None:
            return
        verdict = self._info(info)
        known = Token(token.id_token, str(token.type), verdict.group)
        ctx.get(authorization.Authorization).remember(known, verdict, now)
        if verdict.status != ACCEPTED:
            ctx.get(transactions.Transactions).token_rejected(request.transaction_info.transaction_id, now)


ADAPTER_201 = Adapter2x(v201.Messages)
ADAPTER_21 = Adapter2x(v21.Messages)
