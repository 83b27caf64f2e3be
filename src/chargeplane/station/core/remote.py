"""Remote control (F01-F06) and reset (B11-B12): what the CSMS makes the station do.

Owns remote start (F01/F02, with AuthorizeRemoteStart deciding on an Authorize first) and stop (F03),
UnlockConnector (F05), TriggerMessage (F06) and Reset, immediate or when idle (B11/B12: the reset waits
for the last transaction), with the reboot it leads to; 2.1 ImmediateAndResume (B13) is :mod:`.tx_resume`'s.
1.6 counterparts: §5.11-5.13, §5.17, §5.18.
"""

from __future__ import annotations

from datetime import datetime

from msgspec import UNSET

from chargeplane.ocpp.messages import v2x, v16
from chargeplane.ocpp.messages.base import present
from chargeplane.station.core import (
    authorization,
    availability,
    certificates,
    diagnostics,
    firmware,
    metering,
    publish,
    registration,
    reservation,
    smart_charging,
    transactions,
    tx_resume,
    tx_rules,
)
from chargeplane.station.core.adapter import TxEvent, TxEventKind, narrow
from chargeplane.station.core.context import Context, Controller, route
from chargeplane.station.core.evse_reset import EvseReset
from chargeplane.station.core.model import Evse, Reboot, Registration, SetLock, Token

ID_TAG = "idTag"


class Remote(Controller):
    __slots__ = ("_reset_scheduled",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._reset_scheduled = False

    def start_transaction(
        self, token: Token, evse_id: int | None, remote_start_id: int | None, now: datetime
    ) -> tuple[str, str | None, Evse | None]:
        """Accepted or Rejected, the id of a transaction that already runs and the EVSE chosen; Rejected
        while Pending (B02.FR.05)."""
        ctx = self.ctx
        if ctx.registration is not Registration.ACCEPTED:
            return "Rejected", None, None
        reservations = ctx.get(reservation.Reservations)
        if evse_id is not None:
            evse = ctx.evses.get(evse_id)
            if (
                evse is None
                or evse.authorized is not None
                or not tx_rules.may_start(evse, ctx.station_operative)
            ):
                return "Rejected", None, None
            booked = reservations.on(evse.id)
            if booked is not None and not reservation.matches(booked, token):
                return "Rejected", None, None
        else:
            found = next((e for e in ctx.evses.values() if e.plugged and e.authorized is None), None)
            found = found or next(
                (e for e in ctx.evses.values() if reservations.available_for(e, token)), None
            )
            if found is None:
                return "Rejected", None, None
            evse = found
        evse.pending_remote_start = remote_start_id
        tx_id = None
        if evse.tx is not None:  # F01.FR.13 cable first: the transaction already exists
            tx_id = evse.tx.id
            evse.tx.remote_start_id = remote_start_id
        # F01.FR.01-02; C03.FR.01: a Central token (e.g. paid at a payment terminal) is never re-asked
        if ctx.model.flag("AuthCtrlr", "AuthorizeRemoteStart") and token.type != "Central":
            ctx.get(authorization.Authorization).send_authorize(evse, token, now)
        else:
            ctx.get(transactions.Transactions).authorize(evse, token, now, "RemoteStart")
        return "Accepted", tx_id, evse

    def stop_transaction(self, transaction_id: str, now: datetime, *, deauth: bool) -> bool:
        """F03.FR.03: stop with stoppedReason Remote; False: no such transaction."""
        for evse in self.ctx.evses.values():
            if evse.tx is not None and evse.tx.id == transaction_id:
                evse.authorized = None
                if deauth:
                    evse.deauth = ("Remote", "RemoteStop")
                self.ctx.get(transactions.Transactions).force_stop(evse, "Remote", "RemoteStop", now)
                return True
        return False

    def unlock(self, evse: Evse, connector_id: int) -> None:
        self.ctx.act(SetLock(evse.id, connector_id, False))

    def reset(self, now: datetime, *, on_idle: bool, reason: str) -> str:
        """B11/B12: Immediate stops transactions (``reason``) and reboots; OnIdle waits for them."""
        ctx = self.ctx
        busy = [e for e in ctx.evses.values() if e.tx is not None]
        if on_idle and busy:
            self._reset_scheduled = True  # B12.FR.01: Scheduled, reset after the last transaction
            return "Scheduled"
        txs = ctx.get(transactions.Transactions)
        for evse in busy:
            txs.force_stop(evse, reason, "ResetCommand", now)  # B12.FR.04: ended before the reset
        self.reboot("RemoteReset")
        return "Accepted"

    def transaction_ended(self, evse: Evse, now: datetime) -> None:
        if self._reset_scheduled and all(e.tx is None for e in self.ctx.evses.values()):
            self._reset_scheduled = False
            self.reboot("ScheduledReset")  # an OnIdle reset that waited (TC_B_21_CS step 7)

    def reboot(self, reason: str) -> None:
        self.ctx.storage.set_state("boot_reason", reason)
        self.ctx.act(Reboot(reason))


# ---------------------------------------------------------------------- 2.x handlers
def request_start(
    ctl: Remote,
    request: v2x.RequestStartTransactionRequestT,
    now: datetime,
) -> v2x.RequestStartTransactionResponse:
    """F01/F02: remote start."""
    ns = v2x.dialect_of(request)
    group = present(request.group_id_token)
    token = Token(request.id_token.id_token, str(request.id_token.type), group.id_token if group else None)
    evse_id = present(request.evse_id)
    raw = present(request.charging_profile)
    sc = ctl.ctx.get(smart_charging.SmartCharging)
    profile = None
    if raw is not None and sc.enabled:  # K05.FR.04: ignored without smart charging
        profile, verdict = sc.remote_profile(raw, evse_id or 0)
        if not verdict.accepted:  # K05.FR.05
            return ns.RequestStartTransactionResponse(
                status=ns.RequestStartStopStatusEnumType.REJECTED,
                status_info=ns.StatusInfoType(reason_code="InvalidProfile"),
            )
    status, tx_id, chosen = ctl.start_transaction(token, evse_id, request.remote_start_id, now)
    if chosen is not None and raw is not None and profile is not None:
        sc.remote_started(chosen, profile, raw, now)
    return ns.RequestStartTransactionResponse(
        status=ns.RequestStartStopStatusEnumType(status), transaction_id=tx_id if tx_id is not None else UNSET
    )


def request_stop(
    ctl: Remote,
    request: v2x.RequestStopTransactionRequestT,
    now: datetime,
) -> v2x.RequestStopTransactionResponse:
    """F03: stop the transaction with stoppedReason Remote; Rejected while not accepted."""
    ns = v2x.dialect_of(request)
    accepted = ctl.ctx.registration is Registration.ACCEPTED
    stopped = accepted and ctl.stop_transaction(request.transaction_id, now, deauth=True)
    return ns.RequestStopTransactionResponse(
        status=ns.RequestStartStopStatusEnumType("Accepted" if stopped else "Rejected")
    )


def unlock_connector(
    ctl: Remote, request: v2x.UnlockConnectorRequestT, now: datetime
) -> v2x.UnlockConnectorResponse:
    """F05: not while an authorized transaction runs on the connector."""
    ns = v2x.dialect_of(request)
    evse = ctl.ctx.evses.get(request.evse_id)
    status = ns.UnlockStatusEnumType
    if evse is None or not 1 <= request.connector_id <= evse.connectors:
        return ns.UnlockConnectorResponse(status=status.UNKNOWN_CONNECTOR)
    if evse.tx is not None and evse.authorized is not None:
        return ns.UnlockConnectorResponse(status=status.ONGOING_AUTHORIZED_TRANSACTION)
    ctl.unlock(evse, request.connector_id)
    return ns.UnlockConnectorResponse(status=status.UNLOCKED)


def trigger_message(
    ctl: Remote, request: v2x.TriggerMessageRequestT, now: datetime
) -> v2x.TriggerMessageResponse:
    """F06: send the requested message after the answer."""
    ns = v2x.dialect_of(request)
    ctx = ctl.ctx
    status = ns.TriggerMessageStatusEnumType
    what = str(request.requested_message)
    evse_ref = present(request.evse)
    evses = list(ctx.evses.values())
    if evse_ref is not None:
        chosen = ctx.evses.get(evse_ref.id)
        if chosen is None:
            return ns.TriggerMessageResponse(status=status.REJECTED)
        evses = [chosen]
    pending = ctx.registration is not Registration.ACCEPTED
    if what == "BootNotification":
        if not pending:
            return ns.TriggerMessageResponse(status=status.REJECTED)  # F06.FR.17
        ctx.get(registration.Registrar).send_boot(now, again=True)
    elif what == "Heartbeat":
        ctx.get(registration.Registrar).heartbeat(now, force=pending)
    elif what == "StatusNotification":
        statuses = ctx.get(availability.Availability)
        wanted = present(evse_ref.connector_id) if evse_ref is not None else None
        for evse in evses:
            for connector_id in [wanted] if wanted else range(1, evse.connectors + 1):
                statuses.send_status(evse, connector_id, now, force=pending)
    elif what == "MeterValues":
        meter = ctx.get(metering.Metering)
        measurands = ctx.model.members("AlignedDataCtrlr", "Measurands")
        for evse in evses:
            value = meter.meter_value(evse, measurands, "Trigger", now)
            if value is not None:
                ctx.send(ctx.adapter.idle_meter_values(evse.id, value), now, force=pending)
    elif what == "TransactionEvent":
        busy = [e for e in evses if e.tx is not None]
        if not busy:
            return ns.TriggerMessageResponse(status=status.REJECTED)
        updated = tuple(ctx.model.members("SampledDataCtrlr", "TxUpdatedMeasurands"))
        event = TxEvent(TxEventKind.UPDATED, "Trigger", context="Trigger", measurands=updated)
        for evse in busy:
            ctx.get(transactions.Transactions).emit(evse, event, now)
    elif what == "LogStatusNotification":
        ctx.get(diagnostics.Diagnostics).send_status(now, force=pending)
    elif what == "FirmwareStatusNotification":  # L01.FR.25 / L01.FR.26
        ctx.get(firmware.Firmware).send_status(now, force=pending)
    elif what == "PublishFirmwareStatusNotification":  # L03.FR.10 / L03.FR.11
        ctx.get(publish.FirmwarePublisher).send_status(now, force=pending)
    elif what in SIGN_TRIGGERS:  # A02.FR.02: a new key pair and CSR after this answer (allowed while Pending)
        signer = ctx.get(certificates.Certificates)
        for kind in SIGN_TRIGGERS[what]:
            signer.request_signing(kind, now, force=pending)
    else:
        return ns.TriggerMessageResponse(status=status.NOT_IMPLEMENTED)
    return ns.TriggerMessageResponse(status=status.ACCEPTED)


SIGN_TRIGGERS = {
    "SignChargingStationCertificate": (certificates.STATION_CERTIFICATE,),
    "SignV2GCertificate": (certificates.V2G_CERTIFICATE,),
    # A00.FR.428 (ISO-3): one certificate for the CSMS and the ISO 15118 connections, CSR without a type
    "SignCombinedCertificate": (certificates.COMBINED,),
}


def reset(ctl: Remote, request: v2x.ResetRequestT, now: datetime) -> v2x.ResetResponse:
    """B11/B12, of the station or of one EVSE (:mod:`.evse_reset`)."""
    ns = v2x.dialect_of(request)
    evse_id = present(request.evse_id)
    if evse_id is not None:
        return ns.ResetResponse(
            status=ns.ResetStatusEnumType(ctl.ctx.get(EvseReset).request(evse_id, str(request.type), now))
        )
    if str(request.type) == "ImmediateAndResume":  # 2.1 B13
        resumed = ctl.ctx.get(tx_resume.Resumption).reset_and_resume(now)
        return ns.ResetResponse(status=ns.ResetStatusEnumType(resumed))
    status = ctl.reset(now, on_idle=str(request.type) == "OnIdle", reason="ImmediateReset")
    return ns.ResetResponse(status=ns.ResetStatusEnumType(status))


# ---------------------------------------------------------------------- 1.6 handlers
def remote_start16(
    ctl: Remote, request: v16.messages.RemoteStartTransactionRequest, now: datetime
) -> v16.messages.RemoteStartTransactionResponse:
    """1.6 §5.11 (AuthorizeRemoteTxRequests decides on an Authorize first)."""
    connector = present(request.connector_id)
    raw = present(request.charging_profile)
    sc = ctl.ctx.get(smart_charging.SmartCharging)
    profile = None
    if raw is not None and sc.enabled:  # §5.11: only a TxProfile
        profile, verdict = sc.remote_profile(raw, connector or 0)
        if not verdict.accepted:
            return v16.messages.RemoteStartTransactionResponse(
                status=v16.enums.RemoteStartStopStatus.REJECTED
            )
    status, _, chosen = ctl.start_transaction(Token(request.id_tag, ID_TAG), connector or None, None, now)
    if chosen is not None and raw is not None and profile is not None:
        sc.remote_started(chosen, profile, raw, now)
    return v16.messages.RemoteStartTransactionResponse(status=v16.enums.RemoteStartStopStatus(status))


def remote_stop16(
    ctl: Remote, request: v16.messages.RemoteStopTransactionRequest, now: datetime
) -> v16.messages.RemoteStopTransactionResponse:
    """1.6 §5.12."""
    stopped = ctl.stop_transaction(str(request.transaction_id), now, deauth=False)
    return v16.messages.RemoteStopTransactionResponse(
        status=v16.enums.RemoteStartStopStatus("Accepted" if stopped else "Rejected")
    )


def unlock_connector16(
    ctl: Remote, request: v16.messages.UnlockConnectorRequest, now: datetime
) -> v16.messages.UnlockConnectorResponse:
    """1.6 §5.18: a transaction on the connector is stopped first (reason UnlockCommand)."""
    evse = ctl.ctx.evses.get(request.connector_id)
    if evse is None:
        return v16.messages.UnlockConnectorResponse(status=v16.enums.UnlockStatus.NOT_SUPPORTED)
    if evse.tx is not None:
        ctl.ctx.get(transactions.Transactions).force_stop(evse, "UnlockCommand", "UnlockCommand", now)
    ctl.unlock(evse, 1)
    return v16.messages.UnlockConnectorResponse(status=v16.enums.UnlockStatus.UNLOCKED)


def trigger_message16(
    ctl: Remote, request: v16.messages.TriggerMessageRequest, now: datetime
) -> v16.messages.TriggerMessageResponse:
    """1.6 §5.17."""
    ctx = ctl.ctx
    status = v16.enums.TriggerMessageStatus
    what = str(request.requested_message)
    connector = present(request.connector_id)
    if connector is not None and connector not in ctx.evses:
        return v16.messages.TriggerMessageResponse(status=status.REJECTED)
    evses = [ctx.evses[connector]] if connector is not None else list(ctx.evses.values())
    if what == "BootNotification":
        ctx.get(registration.Registrar).send_boot(now, again=True)
    elif what == "Heartbeat":
        ctx.get(registration.Registrar).heartbeat(now, force=True)
    elif what == "StatusNotification":
        statuses = ctx.get(availability.Availability)
        for evse in evses:
            statuses.send_status(evse, 1, now, force=True)
    elif what == "MeterValues":
        meter = ctx.get(metering.Metering)
        measurands = ctx.model.members("SampledDataCtrlr", "TxUpdatedMeasurands")
        for evse in evses:
            value = meter.meter_value(evse, measurands, "Trigger", now)
            if value is None:
                continue
            values = v16.messages.MeterValuesRequest(
                connector_id=evse.id,
                meter_value=[narrow(value, v16.datatypes.MeterValue)],
                transaction_id=int(evse.tx.id) if evse.tx is not None else UNSET,
            )
            ctx.send(values, now)
    elif what == "DiagnosticsStatusNotification":
        ctx.get(diagnostics.Diagnostics).send_status(now, force=True, legacy=True)
    elif what == "FirmwareStatusNotification":
        ctx.get(firmware.Firmware).send_status(now, force=True)
    else:
        return v16.messages.TriggerMessageResponse(status=status.NOT_IMPLEMENTED)
    return v16.messages.TriggerMessageResponse(status=status.ACCEPTED)


def extended_trigger16(
    ctl: Remote, request: v16.messages.ExtendedTriggerMessageRequest, now: datetime
) -> v16.messages.ExtendedTriggerMessageResponse:
    """Security whitepaper ExtendedTriggerMessage: SignChargePointCertificate (A02) and LogStatusNotification
    here, FirmwareStatusNotification as a SignedFirmwareStatusNotification, the core triggers as TriggerMessage."""
    status = v16.enums.TriggerMessageStatusEnumType
    what = str(request.requested_message)
    if what == "SignChargePointCertificate":
        ctl.ctx.get(certificates.Certificates).request_signing(
            certificates.STATION_CERTIFICATE, now, force=True
        )
        return v16.messages.ExtendedTriggerMessageResponse(status=status.ACCEPTED)
    if what == "LogStatusNotification":
        ctl.ctx.get(diagnostics.Diagnostics).send_status(now, force=True)
        return v16.messages.ExtendedTriggerMessageResponse(status=status.ACCEPTED)
    if what == "FirmwareStatusNotification":  # the whitepaper's answer: SignedFirmwareStatusNotification
        ctl.ctx.get(firmware.Firmware).send_status(now, force=True, signed16=True)
        return v16.messages.ExtendedTriggerMessageResponse(status=status.ACCEPTED)
    core = v16.messages.TriggerMessageRequest(
        requested_message=v16.enums.MessageTrigger(what), connector_id=request.connector_id
    )
    answer = trigger_message16(ctl, core, now)
    return v16.messages.ExtendedTriggerMessageResponse(status=status(str(answer.status)))


def reset16(ctl: Remote, request: v16.messages.ResetRequest, now: datetime) -> v16.messages.ResetResponse:
    """1.6 §5.14: stop every transaction (HardReset / SoftReset), then reboot."""
    reason = "HardReset" if str(request.type) == "Hard" else "SoftReset"
    ctl.reset(now, on_idle=False, reason=reason)
    return v16.messages.ResetResponse(status=v16.enums.ResetStatus.ACCEPTED)


Remote.on_2x = (
    route("RequestStartTransaction", request_start),
    route("RequestStopTransaction", request_stop),
    route("UnlockConnector", unlock_connector),
    route("TriggerMessage", trigger_message),
    route("Reset", reset),
)
Remote.on_16 = (
    route("RemoteStartTransaction", remote_start16),
    route("RemoteStopTransaction", remote_stop16),
    route("UnlockConnector", unlock_connector16),
    route("TriggerMessage", trigger_message16),
    route("ExtendedTriggerMessage", extended_trigger16),
    route("Reset", reset16),
)
