"""The OCPP 1.6 station: the same state machine as 2.x (:class:`StationCore`), other messages.

1.6 differences handled here:

* transactions use the 1.6-compatible points (start PowerPathClosed, stop EVConnected,Authorized) and the
  messages StartTransaction / StopTransaction / MeterValues (1.6 §4.8, §4.10, §4.7); there is no
  ``offline`` flag;
* the Central System assigns the transactionId. A transaction that starts while offline gets a local
  negative id; when the StartTransaction.conf arrives, the queued StopTransaction / MeterValues that carry
  the local id are rewritten (in memory and in storage) with the real one;
* connector statuses are the 1.6 ChargePointStatus values (Preparing, Charging, SuspendedEV, Finishing...)
  with connectorId = EVSE id (one connector per EVSE);
* configuration keys (GetConfiguration / ChangeConfiguration) are a view on the device model
  (:mod:`.config16`); idTags are kept with the token type ``idTag``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from chargeplane.ocpp.messages.base import Payload, present
from chargeplane.ocpp.timestamps import from_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core import config16
from chargeplane.station.core.authorization import ACCEPTED, AuthEntry
from chargeplane.station.core.device_model import (
    Definitions,
    StationLayout,
    VariableKey,
    standard_variables,
)
from chargeplane.station.core.model import Evse, SetLock, Token, tx_to_json
from chargeplane.station.core.station import StationCore
from chargeplane.station.core.storage import Storage

ID_TAG = "idTag"

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


@functools.cache
def _definitions16(layout: StationLayout) -> Definitions:
    """The 2.x device model plus the 1.6-only keys, shared by every 1.6 station of the layout."""
    return Definitions(standard_variables(layout) + config16.ocpp16_variables(layout))


class Station16Core(StationCore):
    __slots__ = ("_finishing", "_tx_map")
    offline_flag = False

    def __init__(self, storage: Storage, now: datetime, layout: StationLayout | None = None) -> None:
        self._finishing: set[int] = set()
        self._tx_map: dict[int, int] = {}
        super().__init__(Version.V16, storage, now, layout)
        self._tx_map = {int(k): v for k, v in json.loads(storage.get_state("tx_map") or "{}").items()}

    # ------------------------------------------------------------------ hooks
    def _definitions(self) -> list[Any]:
        return _definitions16(dataclasses.replace(self.layout, serial_number=""))

    def _configure(self) -> None:
        self.model.put(VariableKey("TxCtrlr", "TxStartPoint"), "PowerPathClosed")
        self.model.put(VariableKey("TxCtrlr", "TxStopPoint"), "EVConnected,Authorized")

    def _boot_request(self) -> Payload:
        layout = self.layout
        request: Payload = self.m.BootNotificationRequest(
            charge_point_vendor=layout.vendor[:20],
            charge_point_model=layout.model[:20],
            charge_point_serial_number=layout.serial_number,
            firmware_version=layout.firmware_version,
        )
        return request

    def _authorize_request(self, token: Token) -> Payload:
        request: Payload = self.m.AuthorizeRequest(id_tag=token.value)
        return request

    def _info_fields(self, info: Any) -> tuple[str, str | None, str | None, list[int] | None]:
        return str(info.status), present(info.parent_id_tag), present(info.expiry_date), None

    def _auth_info(self, response: Any) -> Any:
        return response.id_tag_info

    def _connector_status(self, evse: Evse, connector_id: int) -> str:
        """1.6 §4.9 ChargePointStatus."""
        if evse.faulted:
            return "Faulted"
        if not evse.operative or not self._station_operative:
            return "Unavailable"
        if evse.tx is not None:
            if evse.contactor:
                return "SuspendedEV" if evse.flowed_since_close and not evse.flowing else "Charging"
            return "SuspendedEVSE"
        if evse.plugged is not None:
            return "Finishing" if evse.id in self._finishing else "Preparing"
        if evse.authorized is not None:
            return "Preparing"
        if self._reservation_on(evse.id) is not None:
            return "Reserved"
        return "Available"

    def _status_request(self, evse: Evse, connector_id: int, status: str, now: datetime) -> Payload:
        request: Payload = self.m.StatusNotificationRequest(
            connector_id=evse.id,
            error_code="OtherError" if evse.faulted else "NoError",
            status=status,
            timestamp=self._ts(now),
        )
        return request

    def _idle_meter_values(self, evse: Evse, value: Any) -> Payload:
        request: Payload = self.m.MeterValuesRequest(connector_id=evse.id, meter_value=[value])
        return request

    def _reservation_update(self, reservation_id: int, update: str) -> Payload | None:
        return None  # 1.6 has no ReservationStatusUpdate: the connector simply becomes Available

    def _id_token(self, token: Token) -> Any:
        return token.value

    def token_presented(
        self, value: str, now: datetime, token_type: str = ID_TAG, evse_id: int | None = None
    ) -> None:
        super().token_presented(value, now, ID_TAG, evse_id)

    def ev_unplugged(self, evse_id: int, now: datetime) -> None:
        self._finishing.discard(evse_id)
        super().ev_unplugged(evse_id, now)

    # ------------------------------------------------------------------ transaction messages
    def _tx_event(
        self,
        evse: Evse,
        event_type: str,
        trigger: str,
        now: datetime,
        *,
        stopped_reason: str | None = None,
        context: str | None = None,
        with_token: bool = False,
        measurands: list[str] | None = None,
    ) -> None:
        tx = evse.tx
        assert tx is not None
        tx.charging_state = self._charging_state(evse)
        meter_wh = round(evse.meter.energy_wh)
        if event_type == "Started":
            if not tx.id.lstrip("-").isdigit():
                tx.id = str(self._local_tx_id())
            tx.token_sent = tx.evse_sent = True
            self._finishing.discard(evse.id)
            fields: dict[str, Any] = {}
            if tx.reservation_id is not None:
                fields["reservation_id"] = tx.reservation_id
            request = self.m.StartTransactionRequest(
                connector_id=evse.id,
                id_tag=tx.token.value if tx.token else "",
                meter_start=meter_wh,
                timestamp=self._ts(now),
                **fields,
            )
            self.storage.set_state(f"tx:{evse.id}", json.dumps(tx_to_json(tx)))
            self._enqueue(request, now)
            self.storage.set_state(f"start16:{self.queue[-1].key}", tx.id)  # which local id it starts
        elif event_type == "Ended":
            fields = {}
            if tx.token is not None:
                fields["id_tag"] = tx.token.value
            reason = REASONS.get(stopped_reason or "Local", "Other")
            if reason != "Local":
                fields["reason"] = reason
            ended = (
                measurands
                if measurands is not None
                else self.model.members("SampledDataCtrlr", "TxEndedMeasurands")
            )
            value = self._meter_value(evse, ended, "Transaction.End", now) if ended else None
            if value is not None:
                fields["transaction_data"] = [value]
            if evse.plugged is not None:
                self._finishing.add(evse.id)
            request = self.m.StopTransactionRequest(
                transaction_id=int(tx.id), meter_stop=meter_wh, timestamp=self._ts(now), **fields
            )
            self._enqueue(request, now)
        elif trigger in ("MeterValuePeriodic", "MeterValueClock", "Trigger"):
            value = self._meter_value(evse, measurands or [], context or "Sample.Periodic", now)
            if value is None:
                return
            request = self.m.MeterValuesRequest(
                connector_id=evse.id, transaction_id=int(tx.id), meter_value=[value]
            )
            if trigger == "Trigger":
                self._send(request, now)
            else:
                self._enqueue(
                    request, now
                )  # 1.6 §3.7: periodic and clock-aligned values are transaction-related
        # other 2.x "Updated" events have no 1.6 message: the StatusNotification tells the change

    def _local_tx_id(self) -> int:
        counter = int(self.storage.get_state("local_tx_counter") or "0") - 1
        self.storage.set_state("local_tx_counter", str(counter))
        return counter

    def _meter_value(self, evse: Evse, measurands: list[str], context: str, now: datetime) -> Any:
        """1.6 MeterValue: values as strings, ``unit`` instead of ``unitOfMeasure``."""
        samples = [
            self.d.SampledValue(value=f"{value:g}", context=context, measurand=measurand, unit=unit)
            for measurand, value, unit in self._samples(evse, measurands)
        ]
        if not samples:
            return None
        return self.d.MeterValue(timestamp=self._ts(now), sampled_value=samples)

    def _on_transaction_response(self, request: Any, response: Any, now: datetime, key: int = 0) -> None:
        if not isinstance(request, self.m.StartTransactionRequest):
            return
        real = int(response.transaction_id)
        local_text = self.storage.get_state(f"start16:{key}")
        self.storage.set_state(f"start16:{key}", None)
        local = int(local_text) if local_text else None
        evse = self.evses.get(request.connector_id)
        if local is not None:
            self._tx_map[local] = real
            self.storage.set_state("tx_map", json.dumps(self._tx_map))
            if evse is not None and evse.tx is not None and evse.tx.id == str(local):
                evse.tx.id = str(real)
                self.storage.set_state(f"tx:{evse.id}", json.dumps(tx_to_json(evse.tx)))
            for queued in self.queue:
                payload: Any = queued.request
                if getattr(payload, "transaction_id", None) == local:
                    queued.request = msgspec.structs.replace(payload, transaction_id=real)
                    self.storage.queue_replace(queued.key, msgspec.json.encode(queued.request))
        if evse is not None and evse.tx is not None and evse.tx.id != str(real):
            evse = None  # the answer is about an older transaction
        info = response.id_tag_info
        token = Token(request.id_tag, ID_TAG, present(info.parent_id_tag))
        self._remember(token, info, now)
        if str(info.status) != ACCEPTED and evse is not None and evse.tx is not None:
            if self.model.flag("TxCtrlr", "StopTxOnInvalidId"):  # 1.6 StopTransactionOnInvalidId
                evse.forced_stop = ("DeAuthorized", "Deauthorized")
                evse.authorized = None
            else:
                evse.suspended_invalid = True
            self._evaluate(evse, now, "Deauthorized")

    # ------------------------------------------------------------------ Central System CALLs
    def _handlers(self) -> dict[type[Payload], Callable[[Any, datetime], Payload]]:
        m = self.m
        return {
            m.GetConfigurationRequest: self._get_configuration,
            m.ChangeConfigurationRequest: self._change_configuration,
            m.ResetRequest: self._reset16,
            m.ChangeAvailabilityRequest: self._change_availability16,
            m.RemoteStartTransactionRequest: self._remote_start16,
            m.RemoteStopTransactionRequest: self._remote_stop16,
            m.UnlockConnectorRequest: self._unlock16,
            m.TriggerMessageRequest: self._trigger16,
            m.ReserveNowRequest: self._reserve_now16,
            m.CancelReservationRequest: self._cancel_reservation,
            m.SendLocalListRequest: self._send_local_list16,
            m.GetLocalListVersionRequest: self._get_local_list_version16,
            m.ClearCacheRequest: self._clear_cache,
            m.DataTransferRequest: self._data_transfer,
        }

    def _get_configuration(self, request: Any, now: datetime) -> Any:
        """1.6 §5.8: known keys and the unknown ones."""
        known, unknown = config16.get_configuration(self.model, present(request.key))
        fields: dict[str, Any] = {}
        if known:
            fields["configuration_key"] = [
                self.d.KeyValue(key=k.key, readonly=k.readonly, value=k.value[:500]) for k in known
            ]
        if unknown:
            fields["unknown_key"] = unknown
        return self.m.GetConfigurationResponse(**fields)

    def _change_configuration(self, request: Any, now: datetime) -> Any:
        """1.6 §5.3: readonly -> Rejected, unknown -> NotSupported."""
        status = config16.change_configuration(self.model, request.key, request.value)
        return self.m.ChangeConfigurationResponse(status=str(status))

    def _reset16(self, request: Any, now: datetime) -> Any:
        """1.6 §5.13: stop every transaction (HardReset / SoftReset), then reboot."""
        reason = "HardReset" if str(request.type) == "Hard" else "SoftReset"
        for evse in self.evses.values():
            if evse.tx is not None:
                evse.forced_stop = (reason, "ResetCommand")
                self._evaluate(evse, now, "ResetCommand")
        self._reboot("RemoteReset")
        return self.m.ResetResponse(status="Accepted")

    def _change_availability16(self, request: Any, now: datetime) -> Any:
        operative = str(request.type) == "Operative"
        return self.m.ChangeAvailabilityResponse(
            status=self._availability(request.connector_id, None, operative, now)
        )

    def _remote_start16(self, request: Any, now: datetime) -> Any:
        """1.6 §5.11 (AuthorizeRemoteTxRequests decides on an Authorize first)."""
        connector = present(request.connector_id)
        status, _ = self._remote_start(Token(request.id_tag, ID_TAG), connector or None, None, now)
        return self.m.RemoteStartTransactionResponse(status=status)

    def _remote_stop16(self, request: Any, now: datetime) -> Any:
        """1.6 §5.12."""
        for evse in self.evses.values():
            if evse.tx is not None and evse.tx.id == str(request.transaction_id):
                evse.forced_stop = ("Remote", "RemoteStop")
                evse.authorized = None
                self._evaluate(evse, now, "RemoteStop")
                return self.m.RemoteStopTransactionResponse(status="Accepted")
        return self.m.RemoteStopTransactionResponse(status="Rejected")

    def _unlock16(self, request: Any, now: datetime) -> Any:
        """1.6 §5.18: a transaction on the connector is stopped first (reason UnlockCommand)."""
        evse = self.evses.get(request.connector_id)
        if evse is None:
            return self.m.UnlockConnectorResponse(status="NotSupported")
        if evse.tx is not None:
            evse.forced_stop = ("UnlockCommand", "UnlockCommand")
            self._evaluate(evse, now, "UnlockCommand")
        self._actions.append(SetLock(evse.id, 1, False))
        return self.m.UnlockConnectorResponse(status="Unlocked")

    def _trigger16(self, request: Any, now: datetime) -> Any:
        """1.6 §5.17."""
        what = str(request.requested_message)
        connector = present(request.connector_id)
        evses = [self.evses[connector]] if connector in self.evses else list(self.evses.values())
        if connector is not None and connector not in self.evses:
            return self.m.TriggerMessageResponse(status="Rejected")
        if what == "BootNotification":
            self._boot_inflight = False
            self._send_boot(now)
        elif what == "Heartbeat":
            self._send(self.m.HeartbeatRequest(), now, self._on_heartbeat, force=True)
        elif what == "StatusNotification":
            for evse in evses:
                status = self._connector_status(evse, 1)
                self._send(self._status_request(evse, 1, status, now), now, force=True)
        elif what == "MeterValues":
            measurands = self.model.members("SampledDataCtrlr", "TxUpdatedMeasurands")
            for evse in evses:
                value = self._meter_value(evse, measurands, "Trigger", now)
                if value is None:
                    continue
                fields: dict[str, Any] = {}
                if evse.tx is not None:
                    fields["transaction_id"] = int(evse.tx.id)
                self._send(
                    self.m.MeterValuesRequest(connector_id=evse.id, meter_value=[value], **fields), now
                )
        else:
            return self.m.TriggerMessageResponse(status="NotImplemented")
        return self.m.TriggerMessageResponse(status="Accepted")

    def _reserve_now16(self, request: Any, now: datetime) -> Any:
        """1.6 §5.13 ReserveNow (connector 0 = any connector is not supported)."""
        if request.connector_id == 0:
            return self.m.ReserveNowResponse(status="Rejected")
        status = self._reserve(
            request.reservation_id,
            request.connector_id,
            request.expiry_date,
            Token(request.id_tag, ID_TAG),
            present(request.parent_id_tag),
            now,
        )
        return self.m.ReserveNowResponse(status=status)

    def _send_local_list16(self, request: Any, now: datetime) -> Any:
        """1.6 §5.15."""
        if not self.model.flag("LocalAuthListCtrlr", "Enabled"):
            return self.m.SendLocalListResponse(status="NotSupported")
        updates = []
        for item in present(request.local_authorization_list) or []:
            info = present(item.id_tag_info)
            entry = None
            if info is not None:
                expiry = present(info.expiry_date)
                entry = AuthEntry(
                    item.id_tag,
                    ID_TAG,
                    str(info.status),
                    from_wire(expiry).isoformat() if expiry else None,
                    present(info.parent_id_tag),
                )
            updates.append((item.id_tag, ID_TAG, entry))
        status = self.local_list.apply(request.list_version, str(request.update_type) == "Full", updates)
        return self.m.SendLocalListResponse(status=status)

    def _get_local_list_version16(self, request: Any, now: datetime) -> Any:
        """1.6 §5.10: -1 when the list is disabled, 0 when empty."""
        if not self.model.flag("LocalAuthListCtrlr", "Enabled"):
            return self.m.GetLocalListVersionResponse(list_version=-1)
        return self.m.GetLocalListVersionResponse(list_version=self.local_list.version)
