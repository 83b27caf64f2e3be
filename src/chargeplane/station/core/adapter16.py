"""The OCPP 1.6 wire format of the station: the same controllers as 2.x, other messages.

1.6 differences handled here:

* transactions use the 1.6-compatible points (start PowerPathClosed, stop EVConnected,Authorized) and the
  messages StartTransaction / StopTransaction / MeterValues (1.6 §4.8, §4.10, §4.7); there is no
  ``offline`` flag, and a 2.x Updated event without meter values has no 1.6 message (the
  StatusNotification tells the change);
* the Central System assigns the transactionId. A transaction that starts while offline gets a local
  negative id; when the StartTransaction.conf arrives, the queued StopTransaction / MeterValues that carry
  the local id are rewritten (in memory and in storage) with the real one;
* connector statuses are the 1.6 ChargePointStatus values (Preparing, Charging, SuspendedEV, Finishing...)
  with connectorId = EVSE id (one connector per EVSE);
* configuration keys are a view on the device model (:mod:`.config16`); idTags are tokens of type ``idTag``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from datetime import datetime

import msgspec
from msgspec import UNSET

from chargeplane.ocpp.messages import v16
from chargeplane.ocpp.messages.base import Payload, present
from chargeplane.station.core import authorization, config16, metering, offline_queue, transactions, tx_rules
from chargeplane.station.core.adapter import BootAnswer, IdInfo, Sample, TxEvent, TxEventKind, narrow
from chargeplane.station.core.context import Context
from chargeplane.station.core.device_model import DeviceModel, StationLayout, VariableDef, VariableKey
from chargeplane.station.core.model import ACCEPTED, ContractHash, Evse, Token, tx_to_json

M = v16.messages
D = v16.datatypes
E = v16.enums
ID_TAG = "idTag"
SAMPLED = "SampledDataCtrlr"

# 2.x stoppedReason -> 1.6 StopTransaction reason
REASONS = {
    "DeAuthorized": "DeAuthorized",
    "EmergencyStop": "EmergencyStop",
    "EVDisconnected": "EVDisconnected",
    "ImmediateReset": "HardReset",
    "Local": "Local",
    "PowerLoss": "PowerLoss",
    "Reboot": "Reboot",
    "Remote": "Remote",
    "HardReset": "HardReset",
    "SoftReset": "SoftReset",
    "UnlockCommand": "UnlockCommand",
}
SAMPLE_TRIGGERS = ("MeterValuePeriodic", "MeterValueClock", "Trigger")


@functools.cache
def _variables16(layout: StationLayout) -> list[VariableDef]:
    return config16.ocpp16_variables(layout)


class Adapter16:
    offline_flag = False

    def extra_variables(self, layout: StationLayout) -> list[VariableDef]:
        """The 1.6-only keys, shared by every 1.6 station of the layout."""
        return _variables16(dataclasses.replace(layout, serial_number=""))

    def configure(self, model: DeviceModel) -> None:
        """The 1.6-compatible transaction points (2.0.1 Part 2, E: "OCPP 1.6 compatible")."""
        model.put(VariableKey("TxCtrlr", "TxStartPoint"), "PowerPathClosed")
        model.put(VariableKey("TxCtrlr", "TxStopPoint"), "EVConnected,Authorized")

    def token_type(self, given: str) -> str:
        return ID_TAG

    # ------------------------------------------------------------------ boot and heartbeat (1.6 §4.2, §4.6)
    def boot_request(self, layout: StationLayout, reason: str) -> Payload:
        return M.BootNotificationRequest(
            charge_point_vendor=layout.vendor[:20],
            charge_point_model=layout.model[:20],
            charge_point_serial_number=layout.serial_number,
            firmware_version=layout.firmware_version,
        )

    def boot_answer(self, response: Payload) -> BootAnswer:
        answer = narrow(response, M.BootNotificationResponse)
        return BootAnswer(str(answer.status), answer.current_time, answer.interval)

    def heartbeat_request(self) -> Payload:
        return M.HeartbeatRequest()

    def current_time(self, response: Payload) -> str:
        return narrow(response, M.HeartbeatResponse).current_time

    # ------------------------------------------------------------------ authorization (1.6 §4.1)
    def authorize_request(
        self, token: Token, contract: tuple[ContractHash, ...] = (), certificate: str | None = None
    ) -> Payload:
        return M.AuthorizeRequest(id_tag=token.value)  # no ISO 15118 contract in 1.6

    def authorize_answer(self, response: Payload) -> IdInfo:
        return self._info(narrow(response, M.AuthorizeResponse).id_tag_info)

    @staticmethod
    def _info(info: v16.datatypes.IdTagInfo) -> IdInfo:
        return IdInfo(str(info.status), present(info.parent_id_tag), present(info.expiry_date))

    # ------------------------------------------------------------------ statuses (1.6 §4.9)
    def connector_status(self, evse: Evse, connector_id: int, station_operative: bool, reserved: bool) -> str:
        """1.6 §4.9 ChargePointStatus."""
        if evse.faulted:
            return "Faulted"
        if not evse.operative or not station_operative or evse.resetting:
            return "Unavailable"
        if evse.tx is not None:
            if evse.contactor:
                return "SuspendedEV" if evse.flowed_since_close and not evse.flowing else "Charging"
            return "SuspendedEVSE"
        if evse.plugged is not None:
            return "Finishing" if evse.finishing else "Preparing"
        if evse.authorized is not None:
            return "Preparing"
        return "Reserved" if reserved else "Available"

    def status_request(self, evse: Evse, connector_id: int, status: str, timestamp: str) -> Payload:
        return M.StatusNotificationRequest(
            connector_id=evse.id,
            error_code=E.ChargePointErrorCode.OTHER_ERROR
            if evse.faulted
            else E.ChargePointErrorCode.NO_ERROR,
            status=E.ChargePointStatus(status),
            timestamp=timestamp,
        )

    # ------------------------------------------------------------------ metering (1.6 §4.7)
    def meter_value(self, samples: list[Sample], context: str, timestamp: str) -> Payload | None:
        return self._meter_value(samples, context, timestamp)

    @staticmethod
    def _meter_value(samples: list[Sample], context: str, timestamp: str) -> v16.datatypes.MeterValue | None:
        """1.6 MeterValue: values as strings, ``unit`` instead of ``unitOfMeasure``."""
        if not samples:
            return None
        sampled = [
            D.SampledValue(
                value=f"{value:g}",
                context=E.ReadingContext(context),
                measurand=E.Measurand(measurand),
                unit=E.UnitOfMeasure(unit),
            )
            for measurand, value, unit in samples
        ]
        return D.MeterValue(timestamp=timestamp, sampled_value=sampled)

    def idle_meter_values(self, evse_id: int, value: Payload) -> Payload:
        return M.MeterValuesRequest(connector_id=evse_id, meter_value=[narrow(value, D.MeterValue)])

    # ------------------------------------------------------------------ transactions
    def transaction_event(self, ctx: Context, evse: Evse, event: TxEvent, now: datetime) -> None:
        tx = evse.tx
        assert tx is not None
        tx.charging_state = tx_rules.charging_state(evse)
        meter_wh = round(evse.meter.energy_wh)
        queue = ctx.get(offline_queue.OfflineQueue)
        if event.kind is TxEventKind.STARTED:
            if not tx.id.lstrip("-").isdigit():
                tx.id = str(_local_tx_id(ctx))
            tx.token_sent = tx.evse_sent = True
            evse.finishing = False
            start = M.StartTransactionRequest(
                connector_id=evse.id,
                id_tag=tx.token.value if tx.token else "",
                meter_start=meter_wh,
                timestamp=ctx.ts(now),
                reservation_id=tx.reservation_id if tx.reservation_id is not None else UNSET,
            )
            ctx.storage.set_state(f"tx:{evse.id}", json.dumps(tx_to_json(tx)))
            queued = queue.push(start, now)
            ctx.storage.set_state(f"start16:{queued.key}", tx.id)  # which local id it starts
        elif event.kind is TxEventKind.ENDED:
            ended = event.measurands
            if ended is None:
                ended = tuple(ctx.model.members(SAMPLED, "TxEndedMeasurands"))
            value = self._sample(ctx, evse, ended, "Transaction.End", now) if ended else None
            if evse.plugged is not None:
                evse.finishing = True
            reason = REASONS.get(event.stopped_reason or "Local", "Other")
            stop = M.StopTransactionRequest(
                transaction_id=int(tx.id),
                meter_stop=meter_wh,
                timestamp=ctx.ts(now),
                id_tag=tx.token.value if tx.token is not None else UNSET,
                reason=E.Reason(reason) if reason != "Local" else UNSET,
                transaction_data=[value] if value is not None else UNSET,
            )
            queue.push(stop, now)
        elif event.trigger in SAMPLE_TRIGGERS:
            value = self._sample(ctx, evse, event.measurands or (), event.context or "Sample.Periodic", now)
            if value is None:
                return
            values = M.MeterValuesRequest(
                connector_id=evse.id, transaction_id=int(tx.id), meter_value=[value]
            )
            if event.trigger == "Trigger":
                ctx.send(values, now)
            else:
                queue.push(values, now)  # 1.6 §3.7: periodic and clock-aligned values are transaction-related
        # other 2.x "Updated" events have no 1.6 message: the StatusNotification tells the change

    def _sample(
        self, ctx: Context, evse: Evse, measurands: tuple[str, ...], context: str, now: datetime
    ) -> v16.datatypes.MeterValue | None:
        return self._meter_value(
            metering.samples(evse, measurands, ctx.layout.supply_phases), context, ctx.ts(now)
        )

    def transaction_answered(
        self, ctx: Context, request: Payload, response: Payload, now: datetime, key: int
    ) -> None:
        """StartTransaction.conf: the Central System's id replaces the local one; its verdict on the idTag."""
        if not isinstance(request, M.StartTransactionRequest):
            return
        answer = narrow(response, M.StartTransactionResponse)
        real = int(answer.transaction_id)
        local_text = ctx.storage.get_state(f"start16:{key}")
        ctx.storage.set_state(f"start16:{key}", None)
        evse = ctx.evses.get(request.connector_id)
        if local_text:
            _rewrite(ctx, int(local_text), real, evse)
        if evse is not None and evse.tx is not None and evse.tx.id != str(real):
            evse = None  # the answer is about an older transaction
        info = self._info(answer.id_tag_info)
        ctx.get(authorization.Authorization).remember(Token(request.id_tag, ID_TAG, info.group), info, now)
        if info.status != ACCEPTED and evse is not None:
            ctx.get(transactions.Transactions).token_rejected16(evse, now)


def _local_tx_id(ctx: Context) -> int:
    counter = int(ctx.storage.get_state("local_tx_counter") or "0") - 1
    ctx.storage.set_state("local_tx_counter", str(counter))
    return counter


def _rewrite(ctx: Context, local: int, real: int, evse: Evse | None) -> None:
    """Replace the local transaction id by the Central System's everywhere it is still used."""
    storage = ctx.storage
    mapping = {int(k): v for k, v in json.loads(storage.get_state("tx_map") or "{}").items()}
    mapping[local] = real
    storage.set_state("tx_map", json.dumps(mapping))
    if evse is not None and evse.tx is not None and evse.tx.id == str(local):
        evse.tx.id = str(real)
        storage.set_state(f"tx:{evse.id}", json.dumps(tx_to_json(evse.tx)))
    queue = ctx.get(offline_queue.OfflineQueue)
    for queued in queue.items:
        payload = queued.request
        if (
            isinstance(payload, M.StopTransactionRequest | M.MeterValuesRequest)
            and payload.transaction_id == local
        ):
            queue.replace(queued, msgspec.structs.replace(payload, transaction_id=real))


ADAPTER_16 = Adapter16()
