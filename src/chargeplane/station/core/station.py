"""The sans-I/O charging station (OCPP 2.0.1 and 2.1: one code path, 2.1 only adds optional fields).

Theory of operation
-------------------
Feed events in, with the current time as an argument:

* connection: :meth:`StationCore.connection_opened` / :meth:`connection_closed`;
* hardware: :meth:`ev_plugged`, :meth:`ev_unplugged`, :meth:`token_presented`, :meth:`update_meter`,
  :meth:`fault`;
* CSMS CALLs: :meth:`handle` (returns the response Struct or raises an OCPP error);
* answers to our CALLs: :meth:`call_result` / :meth:`call_failed`;
* time: :meth:`handle_timer` once :meth:`next_deadline` has passed.

Then drain :meth:`take_calls` (CALLs to send, each with a ``ref``) and :meth:`take_actions` (hardware
actions: contactor, lock, display, reboot). Transaction messages go through a durable queue (storage) and
are sent one at a time, in order (E04, E11-E13); everything else is sent at once when allowed by the
registration status (B01-B03) or dropped while offline (connector statuses are re-sent on reconnect, B04).

Each EVSE runs the transaction state machine of E01-E15: the conditions EVConnected, Authorized,
PowerPathClosed, EnergyTransfer (and ParkingBayOccupancy = EVConnected, DataSigned = PowerPathClosed, for
a station without bay sensor or signing meter) are evaluated after every event against TxStartPoint /
TxStopPoint (:meth:`_evaluate`).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from chargeplane.ocpp.catalog import ActionCatalog
from chargeplane.ocpp.errors import SecurityError
from chargeplane.ocpp.messages import v16, v21, v201
from chargeplane.ocpp.messages.base import Payload, present
from chargeplane.ocpp.timestamps import from_wire, to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.authorization import ACCEPTED, AuthCache, AuthEntry, LocalList
from chargeplane.station.core.device_model import (
    DeviceModel,
    GetStatus,
    StationLayout,
    VariableKey,
    standard_variables,
)
from chargeplane.station.core.model import (
    Evse,
    Failure,
    HardwareAction,
    MeterReading,
    OutgoingCall,
    Reboot,
    Registration,
    Reservation,
    SetContactor,
    SetLock,
    ShowMessage,
    Token,
    Transaction,
    tx_from_json,
    tx_to_json,
)
from chargeplane.station.core.storage import Storage

log = logging.getLogger(__name__)

DEFAULT_RETRY_S = 30  # B02.FR.08 / B03.FR.06: interval 0 -> our own non-flooding retry interval
TX_ACTIONS = ("TransactionEvent",)
Callback = Callable[[Any, datetime], None]


@dataclass(slots=True)
class _Queued:
    key: int
    action: str
    request: Payload
    attempts: int = 0
    not_before: datetime | None = None


def _aligned_after(now: datetime, interval_s: int) -> datetime:
    """J01: the next clock-aligned instant (multiples of the interval since midnight UTC)."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = (now - midnight).total_seconds()
    steps = int(elapsed // interval_s) + 1
    return midnight + timedelta(seconds=steps * interval_s)


class StationCore:
    # thousands of cores run in one simulator process: no per-instance __dict__
    __slots__ = (
        "_actions",
        "_boot_at",
        "_boot_inflight",
        "_callbacks",
        "_calls",
        "_last_sent",
        "_next_aligned",
        "_next_ref",
        "_offline_since",
        "_queue_refs",
        "_report_ids",
        "_reset_scheduled",
        "_scheduled_station",
        "_station_operative",
        "_triggered",
        "boot_reason",
        "cache",
        "catalog",
        "clock_offset",
        "d",
        "evses",
        "layout",
        "local_list",
        "m",
        "model",
        "online",
        "queue",
        "registration",
        "reservations",
        "storage",
        "version",
    )

    def __init__(
        self,
        version: Version,
        storage: Storage,
        now: datetime,
        layout: StationLayout | None = None,
        boot_reason: str | None = None,
    ) -> None:
        self.version = version
        self.layout = layout or StationLayout()
        self.storage = storage
        module: Any = {Version.V16: v16, Version.V201: v201, Version.V21: v21}[version]
        self.m: Any = module.messages
        self.d: Any = module.datatypes
        self.catalog = ActionCatalog.for_version(version)
        self.model = DeviceModel(self._definitions(), storage)
        self._configure()
        self.cache = AuthCache(storage)
        self.local_list = LocalList(storage)
        self.registration = Registration.UNKNOWN
        self.online = False
        self.clock_offset = timedelta(0)
        self.boot_reason = boot_reason or storage.get_state("boot_reason") or "PowerUp"
        storage.set_state("boot_reason", None)
        self._boot_at: datetime | None = None
        self._boot_inflight = False
        self._last_sent: datetime | None = None
        self._offline_since: datetime | None = now
        self._calls: list[OutgoingCall] = []
        self._actions: list[HardwareAction] = []
        self._callbacks: dict[int, Callback | None] = {}
        self._queue_refs: dict[int, _Queued] = {}
        self._next_ref = 1
        self._station_operative = storage.get_state("station_operative") != "false"  # B01.FR.07 persisted
        self._scheduled_station: bool | None = None
        self._reset_scheduled = False
        self._next_aligned: datetime | None = None
        self._report_ids: set[int] = set()
        self._triggered: set[str] = set()
        self.evses: dict[int, Evse] = {}
        for evse_id, connectors in enumerate(self.layout.connectors, start=1):
            evse = Evse(evse_id, connectors)
            evse.operative = storage.get_state(f"evse_operative:{evse_id}") != "false"
            self.evses[evse_id] = evse
        self.reservations: dict[int, Reservation] = {}
        for raw in json.loads(storage.get_state("reservations") or "[]"):
            token = Token(*raw.pop("token"))
            self.reservations[raw["id"]] = Reservation(token=token, **raw)
        self.queue: list[_Queued] = []
        for record in storage.queue_load():
            spec = self.catalog.actions[record.action]
            self.queue.append(_Queued(record.key, record.action, spec.request_decoder.decode(record.payload)))
        self._recover_transactions(now)

    # ------------------------------------------------------------------ version hooks (overridden for 1.6)
    offline_flag = True  # 2.x TransactionEvent has ``offline``

    def _definitions(self) -> list[Any]:
        return standard_variables(self.layout)

    def _configure(self) -> None:
        """Fixed settings of the version (1.6: the 1.6-compatible TxStartPoint / TxStopPoint)."""

    def _boot_request(self) -> Payload:
        layout = self.layout
        station = self.d.ChargingStationType(
            model=layout.model,
            vendor_name=layout.vendor,
            serial_number=layout.serial_number,
            firmware_version=layout.firmware_version,
        )
        request: Payload = self.m.BootNotificationRequest(charging_station=station, reason=self.boot_reason)
        return request

    def _authorize_request(self, token: Token) -> Payload:
        request: Payload = self.m.AuthorizeRequest(id_token=self._id_token(token))
        return request

    def _info_fields(self, info: Any) -> tuple[str, str | None, str | None, list[int] | None]:
        """(status, group, expiry, evse ids) of an IdTokenInfo."""
        group = present(info.group_id_token)
        return (
            str(info.status),
            group.id_token if group is not None else None,
            present(info.cache_expiry_date_time),
            present(info.evse_id),
        )

    def _auth_info(self, response: Any) -> Any:
        return response.id_token_info

    def _status_request(self, evse: Evse, connector_id: int, status: str, now: datetime) -> Payload:
        request: Payload = self.m.StatusNotificationRequest(
            timestamp=self._ts(now), connector_status=status, evse_id=evse.id, connector_id=connector_id
        )
        return request

    def _idle_meter_values(self, evse: Evse, value: Any) -> Payload:
        request: Payload = self.m.MeterValuesRequest(evse_id=evse.id, meter_value=[value])
        return request

    def _reservation_update(self, reservation_id: int, update: str) -> Payload | None:
        request: Payload = self.m.ReservationStatusUpdateRequest(
            reservation_id=reservation_id, reservation_update_status=update
        )
        return request

    # ------------------------------------------------------------------ outputs
    def take_calls(self) -> list[OutgoingCall]:
        calls, self._calls = self._calls, []
        return calls

    def take_actions(self) -> list[HardwareAction]:
        actions, self._actions = self._actions, []
        return actions

    def station_time(self, now: datetime) -> datetime:
        """Our clock corrected by the CSMS time (B01 / G02 with TimeSource Heartbeat)."""
        return now + self.clock_offset

    def _ts(self, now: datetime) -> str:
        return to_wire(self.station_time(now))

    # ------------------------------------------------------------------ sending
    def _send(
        self, request: Payload, now: datetime, callback: Callback | None = None, force: bool = False
    ) -> bool:
        """Send a non-transaction CALL if the connection and the registration status allow it (B02.FR.02)."""
        if not self.online:
            return False
        if not force and self.registration is not Registration.ACCEPTED:
            return False
        ref = self._next_ref
        self._next_ref += 1
        self._callbacks[ref] = callback
        self._calls.append(OutgoingCall(ref, request))
        self._last_sent = now
        return True

    def _enqueue(self, request: Payload, now: datetime) -> None:
        """E04/E11: a transaction message goes through the durable queue, marked offline when created offline."""
        if self.offline_flag and (not self.online or self.registration is not Registration.ACCEPTED):
            request = msgspec.structs.replace(request, offline=True)
        action = self.catalog.by_request[type(request)].action
        key = self.storage.queue_push(action, msgspec.json.encode(request))
        self.queue.append(_Queued(key, action, request))
        self._pump_queue(now)

    def _pump_queue(self, now: datetime) -> None:
        if not self.online or self.registration is not Registration.ACCEPTED or not self.queue:
            return
        head = self.queue[0]
        if any(q is head for q in self._queue_refs.values()):
            return
        if head.not_before is not None and head.not_before > now:
            return
        head.not_before = None  # due: no deadline while it is in flight (the timer would spin on it)
        ref = self._next_ref
        self._next_ref += 1
        self._queue_refs[ref] = head
        self._calls.append(OutgoingCall(ref, head.request))
        self._last_sent = now

    def call_result(self, ref: int, response: Payload, now: datetime) -> None:
        queued = self._queue_refs.pop(ref, None)
        if queued is not None:
            self._drop_head(queued)
            self._on_transaction_response(queued.request, response, now, queued.key)
            self._pump_queue(now)
            return
        callback = self._callbacks.pop(ref, None)
        if callback is not None:
            callback(response, now)

    def call_failed(self, ref: int, failure: Failure, now: datetime) -> None:
        queued = self._queue_refs.pop(ref, None)
        if queued is not None:
            if failure is not Failure.OFFLINE:  # E13.FR.01-03: count, back off, then discard
                queued.attempts += 1
                if queued.attempts >= max(
                    1, self.model.number("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent")
                ):
                    log.warning("dropping %s after %d attempts", queued.action, queued.attempts)
                    self._drop_head(queued)
                else:
                    interval = self.model.number(
                        "OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent"
                    )
                    queued.not_before = now + timedelta(seconds=interval * queued.attempts)
            self._pump_queue(now)
            return
        callback = self._callbacks.pop(ref, None)
        if callback == self._on_boot_response:
            self._boot_inflight = False
            self._boot_at = now + timedelta(seconds=DEFAULT_RETRY_S)

    def _drop_head(self, queued: _Queued) -> None:
        self.storage.queue_remove(queued.key)
        if queued in self.queue:
            self.queue.remove(queued)

    # ------------------------------------------------------------------ connection and boot (B01-B04)
    def connection_opened(self, now: datetime) -> None:
        self.online = True
        if self.registration is Registration.ACCEPTED:
            # B04.FR.01-02: after a long offline period report every connector, else only changes
            threshold = self.model.number("OCPPCommCtrlr", "OfflineThreshold")
            long_offline = (
                self._offline_since is None or (now - self._offline_since).total_seconds() > threshold
            )
            self._offline_since = None
            for evse in self.evses.values():
                if long_offline:
                    evse.last_status.clear()
                self._update_status(evse, now)
            self._pump_queue(now)
        elif self._boot_at is None or self._boot_at <= now:
            self._send_boot(now)

    def connection_closed(self, now: datetime) -> None:
        self.online = False
        self._offline_since = now
        self._queue_refs.clear()  # the head is sent again after reconnecting
        if self._on_boot_response in self._callbacks.values():
            self._boot_inflight = False
        self._callbacks.clear()

    def _send_boot(self, now: datetime) -> None:
        """B01.FR.01: the first message on every boot; nothing else before Accepted or Pending (B01.FR.08)."""
        if self._boot_inflight:
            return
        request = self._boot_request()
        if self._send(request, now, self._on_boot_response, force=True):
            self._boot_inflight = True
            self._boot_at = None

    def _on_boot_response(self, response: Any, now: datetime) -> None:
        self._boot_inflight = False
        status = str(response.status)
        self.clock_offset = from_wire(response.current_time) - now
        if status == "Accepted":
            self.registration = Registration.ACCEPTED
            if response.interval > 0:  # B01.FR.?: use the interval as heartbeat interval
                self.model.put(VariableKey("OCPPCommCtrlr", "HeartbeatInterval"), str(response.interval))
            self._offline_since = None
            for evse in self.evses.values():  # B01.FR.05: a status for every connector
                evse.last_status.clear()
                self._update_status(evse, now)
            self._pump_queue(now)
            return
        self.registration = Registration.PENDING if status == "Pending" else Registration.REJECTED
        wait = response.interval if response.interval > 0 else DEFAULT_RETRY_S  # B02.FR.07-08, B03.FR.05-06
        self._boot_at = now + timedelta(seconds=wait)

    # ------------------------------------------------------------------ timers
    def next_deadline(self) -> datetime | None:
        deadlines: list[datetime] = []
        if self.online and self.registration is not Registration.ACCEPTED and self._boot_at is not None:
            deadlines.append(self._boot_at)
        if self.online and self.registration is Registration.ACCEPTED:
            if self._last_sent is not None:
                interval = max(1, self.model.number("OCPPCommCtrlr", "HeartbeatInterval"))
                deadlines.append(self._last_sent + timedelta(seconds=interval))
            if self.queue and self.queue[0].not_before is not None:
                deadlines.append(self.queue[0].not_before)
        for evse in self.evses.values():
            if evse.auth_deadline is not None:
                deadlines.append(evse.auth_deadline)
            if evse.next_sample is not None:
                deadlines.append(evse.next_sample)
        if self._next_aligned is not None:
            deadlines.append(self._next_aligned)
        deadlines.extend(from_wire(r.expiry) - self.clock_offset for r in self.reservations.values())
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: datetime) -> None:
        boot_due = self._boot_at is not None and self._boot_at <= now
        if self.online and self.registration is not Registration.ACCEPTED and boot_due:
            self._send_boot(now)
        if self.online and self.registration is Registration.ACCEPTED:
            interval = max(1, self.model.number("OCPPCommCtrlr", "HeartbeatInterval"))
            if self._last_sent is not None and self._last_sent + timedelta(seconds=interval) <= now:
                self._send(self.m.HeartbeatRequest(), now, self._on_heartbeat)  # G02.FR.01
            self._pump_queue(now)
        for evse in self.evses.values():
            if evse.auth_deadline is not None and evse.auth_deadline <= now:  # E03.FR.05 EVConnectionTimeOut
                evse.auth_deadline = None
                if evse.plugged is None and evse.authorized is not None:
                    self._end_authorization(evse, "Timeout", "EVConnectTimeout", now)
            if evse.next_sample is not None and evse.next_sample <= now:
                self._periodic_sample(evse, now)
        self._aligned_tick(now)
        for reservation in list(self.reservations.values()):
            if from_wire(reservation.expiry) <= self.station_time(now):  # H01.FR.?: expiry
                self._remove_reservation(reservation.id, now, "Expired")

    def _on_heartbeat(self, response: Any, now: datetime) -> None:
        if "Heartbeat" in self.model.members("ClockCtrlr", "TimeSource"):
            self.clock_offset = from_wire(response.current_time) - now

    # ------------------------------------------------------------------ hardware events
    def ev_plugged(self, evse_id: int, connector_id: int, now: datetime) -> None:
        evse = self.evses[evse_id]
        if evse.plugged is not None:
            return
        evse.plugged = connector_id
        evse.auth_deadline = None
        self._evaluate(evse, now, "CablePluggedIn")

    def ev_unplugged(self, evse_id: int, now: datetime) -> None:
        evse = self.evses[evse_id]
        if evse.plugged is None:
            return
        connector_id = evse.plugged
        evse.plugged = None
        evse.flowing = False
        self._evaluate(evse, now, "EVCommunicationLost")
        if evse.tx is None:
            evse.authorized = None
            evse.deauth = None
        if self.model.flag("OCPPCommCtrlr", "UnlockOnEVSideDisconnect"):
            self._actions.append(SetLock(evse_id, connector_id, False))
        self._update_status(evse, now)

    def update_meter(self, evse_id: int, reading: MeterReading, now: datetime) -> None:
        evse = self.evses[evse_id]
        evse.meter = reading
        flowing = evse.contactor and reading.power_w > 1.0
        tx = evse.tx
        limit = None if tx is None or evse.suspended_invalid else tx.invalid_energy_limit_wh
        if tx is not None and limit is not None and reading.energy_wh - tx.meter_start_wh >= limit:
            evse.suspended_invalid = True  # C15: MaxEnergyOnInvalidId reached
            self._evaluate(evse, now, "EnergyLimitReached")
        if flowing != evse.flowing:
            evse.flowing = flowing
            evse.flowed_since_close = evse.flowed_since_close or flowing
            self._evaluate(evse, now, "ChargingStateChanged")

    def fault(self, evse_id: int, faulted: bool, now: datetime) -> None:
        evse = self.evses[evse_id]
        evse.faulted = faulted
        if faulted and evse.tx is not None:
            evse.forced_stop = ("Other", "AbnormalCondition")  # E06.FR.16
        self._evaluate(evse, now, "AbnormalCondition")

    def token_presented(
        self, value: str, now: datetime, token_type: str = "ISO14443", evse_id: int | None = None
    ) -> None:
        """C01 / E02 / E07: a token at the reader (``evse_id`` None: the station's single reader)."""
        token = Token(value, token_type)
        evse = self._evse_for_token(token, evse_id)
        if evse is None:
            self._actions.append(ShowMessage("No EVSE available"))
            return
        current = evse.tx.token if evse.tx is not None and evse.tx.token else evse.authorized
        if current is not None and current.same_holder(token):  # E07: the same token ends it locally
            self._end_authorization(evse, "Local", "StopAuthorized", now)
            return
        entry = self._local_entry(token, now)
        if entry is not None:
            token = Token(value, token_type, entry.group)
            if self._is_master_pass(entry.group):
                self._master_pass(now)
                return
            if current is not None and current.same_holder(token):
                self._end_authorization(evse, "Local", "StopAuthorized", now)
                return
        connected = self.online and self.registration is Registration.ACCEPTED
        local_ok = (connected and self.model.flag("AuthCtrlr", "LocalPreAuthorize")) or (
            not connected and self.model.flag("AuthCtrlr", "LocalAuthorizeOffline")
        )
        if entry is not None and entry.status == ACCEPTED and local_ok:
            self._authorize(evse, token, now, "Authorized")  # C12 / C13 local pre-authorization
            return
        if connected and not self.model.flag("AuthCtrlr", "DisableRemoteAuthorization"):
            self._send_authorize(evse, token, now)
            return
        if entry is None and self.model.flag("AuthCtrlr", "OfflineTxForUnknownIdEnabled"):  # C15.FR.01
            self._authorize(evse, token, now, "Authorized", offline_unknown=True)
            return
        self._actions.append(ShowMessage(f"Token {value} not authorized"))

    def _evse_for_token(self, token: Token, evse_id: int | None) -> Evse | None:
        if evse_id is not None:
            return self.evses.get(evse_id)
        for evse in self.evses.values():
            holder = evse.tx.token if evse.tx is not None and evse.tx.token else evse.authorized
            if holder is not None and holder.value == token.value:
                return evse
        for evse in self.evses.values():
            if evse.plugged is not None and evse.authorized is None:
                return evse
        for evse in self.evses.values():
            if self._available_for(evse, token):
                return evse
        return next(iter(self.evses.values()), None)  # a busy EVSE: still good for a master pass

    def _available_for(self, evse: Evse, token: Token | None) -> bool:
        if evse.faulted or not evse.operative or not self._station_operative:
            return False
        if evse.tx is not None or evse.authorized is not None:
            return False
        reservation = self._reservation_on(evse.id)
        return reservation is None or (token is not None and self._matches_reservation(reservation, token))

    def _local_entry(self, token: Token, now: datetime) -> AuthEntry | None:
        """C13/C14 the Local Authorization List first, then C10-C12 the cache."""
        if self.model.flag("LocalAuthListCtrlr", "Enabled"):
            entry = self.local_list.lookup(token.value, token.type)
            if entry is not None:
                if entry.status == ACCEPTED and entry.expired(self.station_time(now)):
                    return AuthEntry(entry.token, entry.token_type, "Expired", entry.expiry, entry.group)
                return entry
        if self.model.flag("AuthCacheCtrlr", "Enabled"):
            lifetime = self.model.number("AuthCacheCtrlr", "LifeTime")
            return self.cache.lookup(token.value, token.type, self.station_time(now), lifetime)
        return None

    def _is_master_pass(self, group: str | None) -> bool:
        master = self.model.value("AuthCtrlr", "MasterPassGroupId")
        return bool(master) and group == master

    def _master_pass(self, now: datetime) -> None:
        """C16.FR.02: without a UI, a master pass stops every transaction."""
        for evse in self.evses.values():
            if evse.tx is not None:
                evse.forced_stop = ("MasterPass", "StopAuthorized")
                self._evaluate(evse, now, "StopAuthorized")

    def _send_authorize(self, evse: Evse, token: Token, now: datetime) -> None:
        request = self._authorize_request(token)

        def answered(response: Any, at: datetime) -> None:
            info = self._auth_info(response)
            status, group, _, evse_ids = self._info_fields(info)
            known = Token(token.value, token.type, group)
            self._remember(known, info, at)
            if self._is_master_pass(group):  # C16.FR.01 never starts a transaction
                self._master_pass(at)
                return
            holder = evse.tx.token if evse.tx is not None and evse.tx.token else evse.authorized
            if holder is not None and holder.same_holder(known):
                self._end_authorization(evse, "Local", "StopAuthorized", at)
                return
            if status == ACCEPTED:
                if evse_ids and evse.id not in evse_ids:
                    self._actions.append(ShowMessage("Not allowed on this EVSE"))
                    return
                trigger = "RemoteStart" if evse.pending_remote_start is not None else "Authorized"
                self._authorize(evse, known, at, trigger)
            else:
                evse.pending_remote_start = None
                self._actions.append(ShowMessage(f"Token {token.value}: {status}"))

        if not self._send(request, now, answered):
            self._actions.append(ShowMessage("Authorization unavailable"))

    def _remember(self, token: Token, info: Any, now: datetime) -> None:
        """C10.FR.01-05: cache the latest IdTokenInfo of every token, whatever its status."""
        if not self.model.flag("AuthCacheCtrlr", "Enabled"):
            return
        status, _, expiry, _ = self._info_fields(info)
        entry = AuthEntry(
            token.value,
            token.type,
            status,
            from_wire(expiry).isoformat() if expiry else None,
            token.group,
        )
        self.cache.store(entry, self.station_time(now))

    def _id_token(self, token: Token) -> Any:
        return self.d.IdTokenType(id_token=token.value, type=token.type)

    def _authorize(
        self, evse: Evse, token: Token, now: datetime, trigger: str, offline_unknown: bool = False
    ) -> None:
        holder = evse.tx.token if evse.tx is not None and evse.tx.token else evse.authorized
        if holder is not None:
            self._actions.append(ShowMessage("EVSE busy"))
            evse.pending_remote_start = None
            return
        reservation = self._reservation_on(evse.id)
        if reservation is not None and not self._matches_reservation(reservation, token):
            self._actions.append(ShowMessage("EVSE reserved"))  # H01.FR.?: reserved for another token
            evse.pending_remote_start = None
            return
        evse.authorized = token
        evse.deauth = None
        evse.suspended_invalid = False
        if evse.plugged is None:
            timeout = self.model.number("TxCtrlr", "EVConnectionTimeOut")
            evse.auth_deadline = now + timedelta(seconds=timeout) if timeout > 0 else None
        if evse.tx is not None:
            evse.tx.offline_unknown_token = offline_unknown
        self._evaluate(evse, now, trigger)

    def _end_authorization(self, evse: Evse, reason: str, trigger: str, now: datetime) -> None:
        evse.authorized = None
        evse.auth_deadline = None
        evse.deauth = (reason, trigger)
        self._evaluate(evse, now, trigger)
        if evse.tx is None and evse.plugged is None:
            evse.deauth = None

    # ------------------------------------------------------------------ the transaction state machine
    def _conditions(self, evse: Evse) -> dict[str, bool]:
        connected = evse.plugged is not None
        authorized = evse.authorized is not None
        return {
            "EVConnected": connected,
            "ParkingBayOccupancy": connected,
            "Authorized": authorized,
            "PowerPathClosed": connected and authorized,
            "DataSigned": connected and authorized,
            "EnergyTransfer": evse.flowing,
        }

    def _evaluate(self, evse: Evse, now: datetime, trigger: str) -> None:
        conditions = self._conditions(evse)
        start_points = self.model.members("TxCtrlr", "TxStartPoint")
        stop_points = self.model.members("TxCtrlr", "TxStopPoint")
        if evse.plugged is not None and evse.tx is not None:
            evse.tx.ev_seen = True
        stop = self._stop_reason(evse, stop_points) if evse.tx is not None else None
        want_closed = (
            stop is None
            and evse.plugged is not None
            and evse.authorized is not None
            and evse.operative
            and self._station_operative
            and not evse.faulted
            and not evse.suspended_invalid
        )
        self._set_contactor(evse, want_closed)  # before the event, so that it has the new chargingState
        sent = False
        if evse.tx is None:
            evse.forced_stop = None
            may_start = evse.operative and self._station_operative and not evse.faulted
            accepted = self.registration is Registration.ACCEPTED or self.model.flag(
                "TxCtrlr", "TxBeforeAcceptedEnabled"
            )  # B02.FR.03 / B03.FR.01
            if may_start and accepted and any(conditions.get(p, False) for p in start_points):
                self._start_transaction(evse, now, trigger)
                sent = True
        elif stop is not None:
            self._end_transaction(evse, now, stop[0], stop[1])
            self._after_transaction(evse, now)
            self._update_status(evse, now)
            return
        else:
            tx = evse.tx
            if evse.authorized is not None and not tx.token_sent:  # E03.FR.01 idToken once when authorized
                tx.token = evse.authorized
                self._tx_event(evse, "Updated", trigger, now)
                sent = True
            elif evse.deauth is not None and tx.token_sent and tx.token is not None:
                self._tx_event(evse, "Updated", evse.deauth[1], now, with_token=True)  # E07.FR.02
                tx.token = None
                sent = True
            elif evse.plugged is None and trigger == "EVCommunicationLost":
                self._tx_event(evse, "Updated", trigger, now)  # E10: suspended, EV may come back
                sent = True
        current = evse.tx
        if current is not None and not sent and self._charging_state(evse) != current.charging_state:
            reason = "ChargingStateChanged" if trigger != "EnergyLimitReached" else trigger
            self._tx_event(evse, "Updated", reason, now)
        self._update_status(evse, now)

    def _stop_reason(self, evse: Evse, stop_points: list[str]) -> tuple[str, str] | None:
        if evse.forced_stop is not None:
            return evse.forced_stop
        if evse.authorized is None and evse.deauth is not None and evse.deauth[0] == "Timeout":
            return evse.deauth
        seen = evse.tx is not None and evse.tx.ev_seen
        if (
            seen
            and evse.plugged is None
            and (
                any(p in stop_points for p in ("EVConnected", "ParkingBayOccupancy", "PowerPathClosed"))
                or self.model.flag(
                    "TxCtrlr", "StopTxOnEVSideDisconnect"
                )  # E10.FR.?: stop on EV side disconnect
            )
        ):
            return ("EVDisconnected", "EVCommunicationLost")
        if (
            evse.authorized is None
            and evse.deauth is not None
            and any(p in stop_points for p in ("Authorized", "PowerPathClosed"))
        ):
            return evse.deauth
        if "EnergyTransfer" in stop_points and evse.flowed_since_close and not evse.flowing:
            return ("StoppedByEV", "ChargingStateChanged")
        return None

    def _charging_state(self, evse: Evse) -> str:
        if evse.plugged is None:
            return "Idle"
        if evse.contactor:
            if evse.flowing:
                return "Charging"
            return "SuspendedEV" if evse.flowed_since_close else "EVConnected"
        if evse.authorized is not None:
            return "SuspendedEVSE"
        return "EVConnected"

    def _set_contactor(self, evse: Evse, closed: bool) -> None:
        if evse.contactor == closed:
            return
        evse.contactor = closed
        if not closed:
            evse.flowing = False
            evse.flowed_since_close = False
        self._actions.append(SetContactor(evse.id, closed))
        if closed and evse.plugged is not None:
            self._actions.append(SetLock(evse.id, evse.plugged, True))

    def _start_transaction(self, evse: Evse, now: datetime, trigger: str) -> None:
        """E01/E02/E03: Started, with a station-generated id never reused (E01.FR.08)."""
        tx = Transaction(
            id=str(uuid.uuid4()),
            evse_id=evse.id,
            connector_id=evse.plugged or 1,
            started_at=self._ts(now),
            meter_start_wh=evse.meter.energy_wh,
            token=evse.authorized,
            remote_start_id=evse.pending_remote_start,
            ev_seen=evse.plugged is not None,
        )
        reservation = self._reservation_on(evse.id)
        if (
            reservation is not None
            and evse.authorized is not None
            and self._matches_reservation(reservation, evse.authorized)
        ):
            tx.reservation_id = reservation.id  # E01.FR.13 reservationId once
            self._drop_reservation(reservation.id)
        evse.pending_remote_start = None
        evse.tx = tx
        self._tx_event(evse, "Started", trigger, now, context="Transaction.Begin")
        interval = self.model.number("SampledDataCtrlr", "TxUpdatedInterval")
        evse.next_sample = now + timedelta(seconds=interval) if interval > 0 else None

    def _end_transaction(self, evse: Evse, now: datetime, reason: str, trigger: str) -> None:
        tx = evse.tx
        assert tx is not None
        with_token = tx.token is not None and tx.token_sent and trigger in ("StopAuthorized", "Deauthorized")
        self._tx_event(
            evse,
            "Ended",
            trigger,
            now,
            stopped_reason=reason,
            context="Transaction.End",
            with_token=with_token,
        )
        evse.tx = None
        evse.next_sample = None
        evse.forced_stop = None
        evse.authorized = None
        evse.auth_deadline = None
        evse.deauth = None
        evse.suspended_invalid = False
        self.storage.set_state(f"tx:{evse.id}", None)

    def _after_transaction(self, evse: Evse, now: datetime) -> None:
        """G03.FR.05: apply a scheduled availability change; B11/B12: a reset waiting for idle."""
        if evse.scheduled_operative is not None:
            self._set_evse_operative(evse, evse.scheduled_operative, now)
            evse.scheduled_operative = None
        if self._scheduled_station is not None and all(e.tx is None for e in self.evses.values()):
            self._set_station_operative(self._scheduled_station, now)
            self._scheduled_station = None
        if self._reset_scheduled and all(e.tx is None for e in self.evses.values()):
            self._reset_scheduled = False
            self._reboot("RemoteReset")

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
        info: dict[str, Any] = {"transaction_id": tx.id}
        state = self._charging_state(evse) if event_type != "Ended" or evse.plugged else "Idle"
        if event_type == "Ended":
            state = self._charging_state(evse)
        if state != tx.charging_state or event_type == "Started":  # E01.FR.18 when it changes
            info["charging_state"] = state
            tx.charging_state = state
        if stopped_reason is not None and stopped_reason != "Local":  # E06.FR.08 Local is the default
            info["stopped_reason"] = stopped_reason
        if tx.remote_start_id is not None and not tx.remote_start_sent:  # F02.FR.01 remoteStartId once
            info["remote_start_id"] = tx.remote_start_id
            tx.remote_start_sent = True
        fields: dict[str, Any] = {}
        if not tx.evse_sent:  # E01.FR.16 evse once
            fields["evse"] = self.d.EVSEType(id=evse.id, connector_id=tx.connector_id)
            tx.evse_sent = True
        if tx.token is not None and (not tx.token_sent or with_token):  # E03.FR.01 / E07.FR.02
            fields["id_token"] = self._id_token(tx.token)
            tx.token_sent = True
        if tx.reservation_id is not None and event_type == "Started":
            fields["reservation_id"] = tx.reservation_id
        if measurands is None:
            if event_type == "Started":
                measurands = self.model.members("SampledDataCtrlr", "TxStartedMeasurands")
            elif event_type == "Ended":
                measurands = self.model.members("SampledDataCtrlr", "TxEndedMeasurands")
        if measurands:
            value = self._meter_value(evse, measurands, context or "Sample.Periodic", now)
            if value is not None:
                fields["meter_value"] = [value]
        request = self.m.TransactionEventRequest(
            event_type=event_type,
            timestamp=self._ts(now),
            trigger_reason=trigger,
            seq_no=tx.seq_no,  # E01.FR.07: from 0, +1 per message
            transaction_info=self.d.TransactionType(**info),
            **fields,
        )
        tx.seq_no += 1
        if event_type != "Ended":
            self.storage.set_state(f"tx:{evse.id}", json.dumps(tx_to_json(tx)))
        self._enqueue(request, now)

    def _meter_value(self, evse: Evse, measurands: list[str], context: str, now: datetime) -> Any:
        """J01-J03: a MeterValue of the measurands this meter has (the others are skipped)."""
        samples = [
            self.d.SampledValueType(
                value=value,
                context=context,
                measurand=measurand,
                unit_of_measure=self.d.UnitOfMeasureType(unit=unit),
            )
            for measurand, value, unit in self._samples(evse, measurands)
        ]
        if not samples:
            return None
        return self.d.MeterValueType(sampled_value=samples, timestamp=self._ts(now))

    def _samples(self, evse: Evse, measurands: list[str]) -> list[tuple[str, float, str]]:
        reading = evse.meter
        samples = []
        for measurand in measurands:
            unit = None
            if measurand == "Energy.Active.Import.Register":
                value, unit = reading.energy_wh, "Wh"
            elif measurand == "Energy.Active.Import.Interval" and evse.tx is not None:
                value, unit = reading.energy_wh - evse.tx.meter_start_wh, "Wh"
            elif measurand == "Power.Active.Import":
                value, unit = reading.power_w, "W"
            elif measurand == "Voltage":
                value, unit = reading.voltage_v, "V"
            elif measurand == "Current.Import":
                phases = max(1, self.layout.supply_phases)
                value, unit = (
                    reading.power_w / (reading.voltage_v * phases) if reading.voltage_v else 0.0,
                    "A",
                )
            elif measurand == "SoC" and reading.soc is not None:
                value, unit = reading.soc, "Percent"
            else:
                continue
            samples.append((measurand, round(value, 3), unit))
        return samples

    def _periodic_sample(self, evse: Evse, now: datetime) -> None:
        """J02: TxUpdatedMeasurands every TxUpdatedInterval during a transaction (MeterValuePeriodic)."""
        interval = self.model.number("SampledDataCtrlr", "TxUpdatedInterval")
        evse.next_sample = now + timedelta(seconds=interval) if interval > 0 else None
        if evse.tx is None:
            evse.next_sample = None
            return
        measurands = self.model.members("SampledDataCtrlr", "TxUpdatedMeasurands")
        if measurands:
            self._tx_event(
                evse, "Updated", "MeterValuePeriodic", now, context="Sample.Periodic", measurands=measurands
            )

    def _aligned_tick(self, now: datetime) -> None:
        """J01: clock-aligned values (AlignedDataCtrlr.Interval), in the transaction or as MeterValues."""
        interval = self.model.number("AlignedDataCtrlr", "Interval")
        if interval <= 0 or not self.model.flag("AlignedDataCtrlr", "Enabled"):
            self._next_aligned = None
            return
        if self._next_aligned is None:
            self._next_aligned = _aligned_after(self.station_time(now), interval) - self.clock_offset
            return
        if self._next_aligned > now:
            return
        self._next_aligned = _aligned_after(self.station_time(now), interval) - self.clock_offset
        measurands = self.model.members("AlignedDataCtrlr", "Measurands")
        if not measurands:
            return
        for evse in self.evses.values():
            if evse.tx is not None:
                self._tx_event(
                    evse, "Updated", "MeterValueClock", now, context="Sample.Clock", measurands=measurands
                )
            else:
                value = self._meter_value(evse, measurands, "Sample.Clock", now)
                if value is not None:
                    self._send(self._idle_meter_values(evse, value), now)

    def _on_transaction_response(self, request: Any, response: Any, now: datetime, key: int = 0) -> None:
        """E05 / C15: the CSMS's verdict on the token; non-Accepted ends or suspends the transaction."""
        info = present(getattr(response, "id_token_info", msgspec.UNSET))
        token = present(request.id_token)
        if info is None or token is None:
            return
        group_token = present(info.group_id_token)
        known = Token(token.id_token, str(token.type), group_token.id_token if group_token else None)
        self._remember(known, info, now)
        if str(info.status) == ACCEPTED:
            return
        evse = next(
            (
                e
                for e in self.evses.values()
                if e.tx is not None and e.tx.id == request.transaction_info.transaction_id
            ),
            None,
        )
        if evse is None or evse.tx is None or evse.authorized is None:
            return
        stop_points = self.model.members("TxCtrlr", "TxStopPoint")
        if self.model.flag("TxCtrlr", "StopTxOnInvalidId") or any(
            p in stop_points for p in ("Authorized", "PowerPathClosed")
        ):
            self._end_authorization(evse, "DeAuthorized", "Deauthorized", now)  # E05.FR.? / C15.FR.02
            if evse.tx is not None:
                evse.forced_stop = ("DeAuthorized", "Deauthorized")
                self._evaluate(evse, now, "Deauthorized")
            return
        limit = self.model.number("TxCtrlr", "MaxEnergyOnInvalidId")
        if limit > 0:  # C15.FR.?: go on up to MaxEnergyOnInvalidId
            evse.tx.invalid_energy_limit_wh = float(limit)
        else:
            evse.suspended_invalid = True
            self._evaluate(evse, now, "Deauthorized")

    def _recover_transactions(self, now: datetime) -> None:
        """A transaction still open in storage was cut by a power loss or reboot: end it (E06, B11)."""
        for evse in self.evses.values():
            raw = self.storage.get_state(f"tx:{evse.id}")
            if raw is None:
                continue
            evse.tx = tx_from_json(json.loads(raw))
            reason = "Reboot" if self.boot_reason in ("RemoteReset", "LocalReset") else "PowerLoss"
            self._end_transaction(
                evse, now, reason, "AbnormalCondition" if reason == "PowerLoss" else "ResetCommand"
            )

    # ------------------------------------------------------------------ availability and status (G01-G04)
    def _connector_status(self, evse: Evse, connector_id: int) -> str:
        if evse.faulted:
            return "Faulted"
        if not evse.operative or not self._station_operative:
            return "Unavailable"
        if evse.plugged == connector_id or evse.tx is not None:
            return "Occupied"
        if self._reservation_on(evse.id) is not None:
            return "Reserved"
        return "Available"

    def _update_status(self, evse: Evse, now: datetime) -> None:
        for connector_id in range(1, evse.connectors + 1):
            status = self._connector_status(evse, connector_id)
            self.model.put(
                VariableKey("Connector", "AvailabilityState", evse=evse.id, connector=connector_id), status
            )
            if evse.last_status.get(connector_id) == status:
                continue
            if self._send(self._status_request(evse, connector_id, status, now), now):  # G01 / B04
                evse.last_status[connector_id] = status
        evse_status = self._connector_status(evse, evse.plugged or 1)
        self.model.put(VariableKey("EVSE", "AvailabilityState", evse=evse.id), evse_status)

    def _set_evse_operative(self, evse: Evse, operative: bool, now: datetime) -> None:
        evse.operative = operative
        self.storage.set_state(f"evse_operative:{evse.id}", "true" if operative else "false")
        self.model.put(VariableKey("EVSE", "Available", evse=evse.id), "true" if operative else "false")
        self._evaluate(evse, now, "ChargingStateChanged")

    def _set_station_operative(self, operative: bool, now: datetime) -> None:
        self._station_operative = operative
        self.storage.set_state("station_operative", "true" if operative else "false")
        self.model.put(VariableKey("ChargingStation", "Available"), "true" if operative else "false")
        for evse in self.evses.values():
            self._evaluate(evse, now, "ChargingStateChanged")

    # ------------------------------------------------------------------ reservations (H01-H04)
    def _reservation_on(self, evse_id: int) -> Reservation | None:
        return next((r for r in self.reservations.values() if r.evse_id == evse_id), None)

    @staticmethod
    def _matches_reservation(reservation: Reservation, token: Token) -> bool:
        if reservation.token.value == token.value:
            return True
        return reservation.group is not None and reservation.group == token.group

    def _save_reservations(self) -> None:
        data = [
            {
                "id": r.id,
                "evse_id": r.evse_id,
                "expiry": r.expiry,
                "group": r.group,
                "token": [r.token.value, r.token.type, r.token.group],
            }
            for r in self.reservations.values()
        ]
        self.storage.set_state("reservations", json.dumps(data))

    def _drop_reservation(self, reservation_id: int) -> None:
        self.reservations.pop(reservation_id, None)
        self._save_reservations()

    def _remove_reservation(self, reservation_id: int, now: datetime, update: str | None) -> None:
        reservation = self.reservations.pop(reservation_id, None)
        if reservation is None:
            return
        self._save_reservations()
        message = self._reservation_update(reservation_id, update) if update is not None else None
        if message is not None:  # H01.FR.? expiry is reported
            self._send(message, now)
        self._update_status(self.evses[reservation.evse_id], now)

    # ------------------------------------------------------------------ reboot
    def _reboot(self, reason: str) -> None:
        self.storage.set_state("boot_reason", reason)
        self._actions.append(Reboot(reason))

    # ------------------------------------------------------------------ CSMS-initiated CALLs
    def handled_requests(self) -> list[type[Payload]]:
        return list(self._handlers())

    def handle(self, request: Payload, now: datetime) -> Payload:
        """Answer one CSMS CALL. B03.FR.08: while Rejected, every CALL gets SecurityError."""
        if self.registration is Registration.REJECTED:
            raise SecurityError("not accepted by the CSMS")
        handler = self._handlers()[type(request)]
        return handler(request, now)

    def _handlers(self) -> dict[type[Payload], Callable[[Any, datetime], Payload]]:
        m = self.m
        return {
            m.GetVariablesRequest: self._get_variables,
            m.SetVariablesRequest: self._set_variables,
            m.GetBaseReportRequest: self._get_base_report,
            m.ResetRequest: self._reset,
            m.ChangeAvailabilityRequest: self._change_availability,
            m.RequestStartTransactionRequest: self._request_start,
            m.RequestStopTransactionRequest: self._request_stop,
            m.UnlockConnectorRequest: self._unlock,
            m.TriggerMessageRequest: self._trigger,
            m.ReserveNowRequest: self._reserve_now,
            m.CancelReservationRequest: self._cancel_reservation,
            m.SendLocalListRequest: self._send_local_list,
            m.GetLocalListVersionRequest: self._get_local_list_version,
            m.ClearCacheRequest: self._clear_cache,
            m.DataTransferRequest: self._data_transfer,
            m.GetTransactionStatusRequest: self._get_transaction_status,
        }

    @staticmethod
    def _key(component: Any, variable: Any) -> VariableKey:
        evse = present(component.evse)
        return VariableKey(
            component.name,
            variable.name,
            present(component.instance),
            present(variable.instance),
            evse.id if evse is not None else None,
            present(evse.connector_id) if evse is not None else None,
        )

    def _get_variables(self, request: Any, now: datetime) -> Any:
        """B06: one result per requested item."""
        self.model.put(VariableKey("ClockCtrlr", "DateTime"), self._ts(now))
        results = []
        for item in request.get_variable_data:
            result = self.model.get(self._key(item.component, item.variable), present(item.attribute_type))
            fields: dict[str, Any] = {}
            if result.status is GetStatus.ACCEPTED:
                fields["attribute_value"] = result.value or ""
            results.append(
                self.d.GetVariableResultType(
                    attribute_status=str(result.status),
                    attribute_type=result.attribute,
                    component=item.component,
                    variable=item.variable,
                    **fields,
                )
            )
        return self.m.GetVariablesResponse(get_variable_result=results)

    def _set_variables(self, request: Any, now: datetime) -> Any:
        """B05: exactly one result per item, echoing component, variable and attributeType (B05.FR.?)."""
        results = []
        limit = 1000 if self.version is Version.V201 else 2500
        for item in request.set_variable_data:
            result = self.model.set(
                self._key(item.component, item.variable),
                present(item.attribute_type),
                item.attribute_value,
                limit,
            )
            fields: dict[str, Any] = {}
            if result.reason:
                fields["attribute_status_info"] = self.d.StatusInfoType(reason_code=result.reason)
            results.append(
                self.d.SetVariableResultType(
                    attribute_status=str(result.status),
                    attribute_type=result.attribute,
                    component=item.component,
                    variable=item.variable,
                    **fields,
                )
            )
        return self.m.SetVariablesResponse(set_variable_result=results)

    def _get_base_report(self, request: Any, now: datetime) -> Any:
        """B07: Accepted, then NotifyReport parts of ItemsPerMessage items, seqNo from 0, tbc on all but the last."""
        self.model.put(VariableKey("ClockCtrlr", "DateTime"), self._ts(now))
        items = self.model.report(str(request.report_base))
        if items is None:
            return self.m.GetBaseReportResponse(status="NotSupported")
        per_message = max(1, self.model.number("DeviceDataCtrlr", "ItemsPerMessage", "GetReport"))
        chunks = [items[i : i + per_message] for i in range(0, len(items), per_message)] or [[]]
        generated_at = self._ts(now)
        for seq_no, chunk in enumerate(chunks):
            data = [self._report_data(item) for item in chunk]
            fields: dict[str, Any] = {"report_data": data} if data else {}
            if seq_no < len(chunks) - 1:
                fields["tbc"] = True
            # B02.FR.02: NotifyReport is allowed while Pending when the CSMS asked for it
            self._send(
                self.m.NotifyReportRequest(
                    request_id=request.request_id, generated_at=generated_at, seq_no=seq_no, **fields
                ),
                now,
                force=self.registration is Registration.PENDING,
            )
        return self.m.GetBaseReportResponse(status="Accepted")

    def _report_data(self, item: Any) -> Any:
        definition = item.definition
        key = definition.key
        component: dict[str, Any] = {"name": key.component}
        if key.component_instance:
            component["instance"] = key.component_instance
        if key.evse is not None:
            evse: dict[str, Any] = {"id": key.evse}
            if key.connector is not None:
                evse["connector_id"] = key.connector
            component["evse"] = self.d.EVSEType(**evse)
        variable: dict[str, Any] = {"name": key.variable}
        if key.variable_instance:
            variable["instance"] = key.variable_instance
        attributes = []
        for attribute, value in item.attributes:
            fields: dict[str, Any] = {
                "type": attribute,
                "mutability": definition.mutability,
                "persistent": True,
            }
            if value is not None:
                fields["value"] = value
            attributes.append(self.d.VariableAttributeType(**fields))
        characteristics: dict[str, Any] = {"data_type": definition.data_type, "supports_monitoring": False}
        if definition.unit:
            characteristics["unit"] = definition.unit
        if definition.min_limit is not None:
            characteristics["min_limit"] = definition.min_limit
        if definition.max_limit is not None:
            characteristics["max_limit"] = definition.max_limit
        if definition.values_list:
            characteristics["values_list"] = definition.values_list
        return self.d.ReportDataType(
            component=self.d.ComponentType(**component),
            variable=self.d.VariableType(**variable),
            variable_attribute=attributes,
            variable_characteristics=self.d.VariableCharacteristicsType(**characteristics),
        )

    def _reset(self, request: Any, now: datetime) -> Any:
        """B11/B12: Immediate stops transactions (ImmediateReset) and reboots; OnIdle waits for them."""
        if present(request.evse_id) is not None:
            return self.m.ResetResponse(status="Rejected")  # EVSE resets are not supported
        busy = [e for e in self.evses.values() if e.tx is not None]
        if str(request.type) == "OnIdle" and busy:
            self._reset_scheduled = True  # B12.FR.? Scheduled
            return self.m.ResetResponse(status="Scheduled")
        for evse in busy:
            evse.forced_stop = ("ImmediateReset", "ResetCommand")  # B12.FR.?
            self._evaluate(evse, now, "ResetCommand")
        self._reboot("RemoteReset")
        return self.m.ResetResponse(status="Accepted")

    def _change_availability(self, request: Any, now: datetime) -> Any:
        """G03/G04."""
        evse_ref = present(request.evse)
        operative = str(request.operational_status) == "Operative"
        evse_id = evse_ref.id if evse_ref is not None else 0
        connector = present(evse_ref.connector_id) if evse_ref is not None else None
        return self.m.ChangeAvailabilityResponse(
            status=self._availability(evse_id, connector, operative, now)
        )

    def _availability(self, evse_id: int, connector: int | None, operative: bool, now: datetime) -> str:
        """Inoperative while a transaction runs is Scheduled (G03.FR.05); persisted (B01.FR.07)."""
        if evse_id == 0:
            if not operative and any(e.tx is not None for e in self.evses.values()):
                self._scheduled_station = False
                return "Scheduled"
            self._set_station_operative(operative, now)
            return "Accepted"
        evse = self.evses.get(evse_id)
        if evse is None or (connector is not None and not 1 <= connector <= evse.connectors):
            return "Rejected"
        if not operative and evse.tx is not None:
            evse.scheduled_operative = False
            return "Scheduled"
        self._set_evse_operative(evse, operative, now)
        return "Accepted"

    def _request_start(self, request: Any, now: datetime) -> Any:
        """F01/F02: remote start."""
        token = Token(request.id_token.id_token, str(request.id_token.type))
        group = present(request.group_id_token)
        if group is not None:
            token = Token(token.value, token.type, group.id_token)
        status, tx_id = self._remote_start(token, present(request.evse_id), request.remote_start_id, now)
        fields: dict[str, Any] = {"transaction_id": tx_id} if tx_id is not None else {}
        return self.m.RequestStartTransactionResponse(status=status, **fields)

    def _remote_start(
        self, token: Token, evse_id: int | None, remote_start_id: int | None, now: datetime
    ) -> tuple[str, str | None]:
        """Accepted or Rejected, and the id of a transaction that already runs; Rejected while Pending
        (B02.FR.05)."""
        if self.registration is not Registration.ACCEPTED:
            return "Rejected", None
        if evse_id is not None:
            evse = self.evses.get(evse_id)
            if evse is None or evse.authorized is not None or evse.faulted or not evse.operative:
                return "Rejected", None
            reservation = self._reservation_on(evse.id)
            if reservation is not None and not self._matches_reservation(reservation, token):
                return "Rejected", None
        else:
            found = next((e for e in self.evses.values() if e.plugged and e.authorized is None), None)
            found = found or next((e for e in self.evses.values() if self._available_for(e, token)), None)
            if found is None:
                return "Rejected", None
            evse = found
        evse.pending_remote_start = remote_start_id
        tx_id = None
        if evse.tx is not None:  # F01.FR.? cable-first: the transaction already exists
            tx_id = evse.tx.id
            evse.tx.remote_start_id = remote_start_id
        if self.model.flag("AuthCtrlr", "AuthorizeRemoteStart"):  # F01.FR.01-02
            self._send_authorize(evse, token, now)
        else:
            self._authorize(evse, token, now, "RemoteStart")
        return "Accepted", tx_id

    def _request_stop(self, request: Any, now: datetime) -> Any:
        """F03: stop the transaction with stoppedReason Remote (E06.FR.09)."""
        if self.registration is not Registration.ACCEPTED:
            return self.m.RequestStopTransactionResponse(status="Rejected")
        for evse in self.evses.values():
            if evse.tx is not None and evse.tx.id == request.transaction_id:
                evse.forced_stop = ("Remote", "RemoteStop")
                evse.authorized = None
                evse.deauth = ("Remote", "RemoteStop")
                self._evaluate(evse, now, "RemoteStop")
                return self.m.RequestStopTransactionResponse(status="Accepted")
        return self.m.RequestStopTransactionResponse(status="Rejected")

    def _unlock(self, request: Any, now: datetime) -> Any:
        """F05: not while an authorized transaction runs on the connector."""
        evse = self.evses.get(request.evse_id)
        if evse is None or not 1 <= request.connector_id <= evse.connectors:
            return self.m.UnlockConnectorResponse(status="UnknownConnector")
        if evse.tx is not None and evse.authorized is not None:
            return self.m.UnlockConnectorResponse(status="OngoingAuthorizedTransaction")
        self._actions.append(SetLock(evse.id, request.connector_id, False))
        return self.m.UnlockConnectorResponse(status="Unlocked")

    def _trigger(self, request: Any, now: datetime) -> Any:
        """F06: send the requested message after the answer."""
        what = str(request.requested_message)
        evse_ref = present(request.evse)
        evses = list(self.evses.values())
        if evse_ref is not None:
            chosen = self.evses.get(evse_ref.id)
            if chosen is None:
                return self.m.TriggerMessageResponse(status="Rejected")
            evses = [chosen]
        pending = self.registration is not Registration.ACCEPTED
        if what == "BootNotification":
            if not pending:
                return self.m.TriggerMessageResponse(status="Rejected")  # F06.FR.17
            self._boot_inflight = False
            self._send_boot(now)
        elif what == "Heartbeat":
            self._send(self.m.HeartbeatRequest(), now, self._on_heartbeat, force=pending)
        elif what == "StatusNotification":
            for evse in evses:
                wanted = present(evse_ref.connector_id) if evse_ref is not None else None
                for connector_id in [wanted] if wanted else range(1, evse.connectors + 1):
                    status = self._connector_status(evse, connector_id)
                    self._send(
                        self.m.StatusNotificationRequest(
                            timestamp=self._ts(now),
                            connector_status=status,
                            evse_id=evse.id,
                            connector_id=connector_id,
                        ),
                        now,
                        force=pending,
                    )
        elif what == "MeterValues":
            measurands = self.model.members("AlignedDataCtrlr", "Measurands")
            for evse in evses:
                value = self._meter_value(evse, measurands, "Trigger", now)
                if value is not None:
                    self._send(
                        self.m.MeterValuesRequest(evse_id=evse.id, meter_value=[value]), now, force=pending
                    )
        elif what == "TransactionEvent":
            busy = [e for e in evses if e.tx is not None]
            if not busy:
                return self.m.TriggerMessageResponse(status="Rejected")
            for evse in busy:
                self._tx_event(
                    evse,
                    "Updated",
                    "Trigger",
                    now,
                    context="Trigger",
                    measurands=self.model.members("SampledDataCtrlr", "TxUpdatedMeasurands"),
                )
        else:
            return self.m.TriggerMessageResponse(status="NotImplemented")
        return self.m.TriggerMessageResponse(status="Accepted")

    def _reserve_now(self, request: Any, now: datetime) -> Any:
        """H01."""
        group = present(request.group_id_token)
        token = Token(request.id_token.id_token, str(request.id_token.type))
        status = self._reserve(
            request.id,
            present(request.evse_id),
            request.expiry_date_time,
            token,
            group.id_token if group is not None else None,
            now,
        )
        return self.m.ReserveNowResponse(status=status)

    def _reserve(
        self,
        reservation_id: int,
        evse_id: int | None,
        expiry: str,
        token: Token,
        group: str | None,
        now: datetime,
    ) -> str:
        """Reserve an EVSE (or any, with NonEvseSpecific) until ``expiry``."""
        if not self.model.flag("ReservationCtrlr", "Enabled"):
            return "Rejected"
        if evse_id is None:
            if not self.model.flag("ReservationCtrlr", "NonEvseSpecific"):
                return "Rejected"
            candidates = [
                e for e in self.evses.values() if self._available_for(e, None) and e.plugged is None
            ]
            if not candidates:
                return "Occupied"
            evse = candidates[0]
        else:
            found = self.evses.get(evse_id)
            if found is None:
                return "Rejected"
            evse = found
        existing = self.reservations.get(reservation_id)
        if existing is None or existing.evse_id != evse.id:
            if evse.faulted:
                return "Faulted"
            if not evse.operative or not self._station_operative:
                return "Unavailable"
            if evse.tx is not None or evse.plugged is not None or evse.authorized is not None:
                return "Occupied"
            if self._reservation_on(evse.id) is not None:
                return "Occupied"
        self.reservations[reservation_id] = Reservation(reservation_id, evse.id, expiry, token, group)
        self._save_reservations()
        self._update_status(evse, now)
        return "Accepted"

    def _cancel_reservation(self, request: Any, now: datetime) -> Any:
        """H02."""
        if request.reservation_id not in self.reservations:
            return self.m.CancelReservationResponse(status="Rejected")
        self._remove_reservation(request.reservation_id, now, None)
        return self.m.CancelReservationResponse(status="Accepted")

    def _send_local_list(self, request: Any, now: datetime) -> Any:
        """D01: Full / Differential; VersionMismatch for a differential that is not newer."""
        if not self.model.flag("LocalAuthListCtrlr", "Enabled"):
            return self.m.SendLocalListResponse(status="Failed")
        updates = []
        for item in present(request.local_authorization_list) or []:
            token = item.id_token
            info = present(item.id_token_info)
            entry = None
            if info is not None:
                expiry = present(info.cache_expiry_date_time)
                group = present(info.group_id_token)
                entry = AuthEntry(
                    token.id_token,
                    str(token.type),
                    str(info.status),
                    from_wire(expiry).isoformat() if expiry else None,
                    group.id_token if group is not None else None,
                )
            updates.append((token.id_token, str(token.type), entry))
        status = self.local_list.apply(request.version_number, str(request.update_type) == "Full", updates)
        self.model.put(VariableKey("LocalAuthListCtrlr", "Entries"), str(len(self.local_list.entries)))
        return self.m.SendLocalListResponse(status=status)

    def _get_local_list_version(self, request: Any, now: datetime) -> Any:
        """D02: 0 when there is no list."""
        return self.m.GetLocalListVersionResponse(version_number=self.local_list.version)

    def _clear_cache(self, request: Any, now: datetime) -> Any:
        """C11."""
        if not self.model.flag("AuthCacheCtrlr", "Enabled"):
            return self.m.ClearCacheResponse(status="Rejected")
        self.cache.clear()
        return self.m.ClearCacheResponse(status="Accepted")

    def _data_transfer(self, request: Any, now: datetime) -> Any:
        """P01: we know no vendor extensions."""
        return self.m.DataTransferResponse(status="UnknownVendorId")

    def _get_transaction_status(self, request: Any, now: datetime) -> Any:
        """E14: ongoingIndicator only for a given transactionId."""
        tx_id = present(request.transaction_id)
        if tx_id is None:
            return self.m.GetTransactionStatusResponse(messages_in_queue=bool(self.queue))
        ongoing = any(e.tx is not None and e.tx.id == tx_id for e in self.evses.values())
        queued = any(self._queued_tx_id(q) == tx_id for q in self.queue)
        return self.m.GetTransactionStatusResponse(ongoing_indicator=ongoing, messages_in_queue=queued)

    @staticmethod
    def _queued_tx_id(queued: _Queued) -> str | None:
        info: Any = getattr(queued.request, "transaction_info", None)
        return None if info is None else str(info.transaction_id)

    # ------------------------------------------------------------------ inspection helpers
    def transaction(self, evse_id: int) -> Transaction | None:
        return self.evses[evse_id].tx
