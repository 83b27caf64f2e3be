"""Drive the sans-I/O station core in tests: a scripted CSMS that answers its CALLs, and a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chargeplane.ocpp.messages import v16, v21, v201
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.device_model import StationLayout
from chargeplane.station.core.model import Failure, HardwareAction, MeterReading
from chargeplane.station.core.station import StationCore
from chargeplane.station.core.storage import MemoryStorage

M = v201.messages
D = v201.datatypes
M16 = v16.messages
D16 = v16.datatypes
T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def default_answer16(request: Payload, now: datetime) -> Payload | None:
    accepted = D16.IdTagInfo(status="Accepted")
    if isinstance(request, M16.BootNotificationRequest):
        return M16.BootNotificationResponse(current_time=to_wire(now), interval=300, status="Accepted")
    if isinstance(request, M16.HeartbeatRequest):
        return M16.HeartbeatResponse(current_time=to_wire(now))
    if isinstance(request, M16.StatusNotificationRequest):
        return M16.StatusNotificationResponse()
    if isinstance(request, M16.AuthorizeRequest):
        return M16.AuthorizeResponse(id_tag_info=accepted)
    if isinstance(request, M16.StartTransactionRequest):
        return M16.StartTransactionResponse(id_tag_info=accepted, transaction_id=1000 + request.meter_start)
    if isinstance(request, M16.StopTransactionRequest):
        return M16.StopTransactionResponse()
    if isinstance(request, M16.MeterValuesRequest):
        return M16.MeterValuesResponse()
    if isinstance(request, M16.DiagnosticsStatusNotificationRequest):
        return M16.DiagnosticsStatusNotificationResponse()
    if isinstance(request, M16.LogStatusNotificationRequest):
        return M16.LogStatusNotificationResponse()
    if isinstance(request, M16.FirmwareStatusNotificationRequest):
        return M16.FirmwareStatusNotificationResponse()
    if isinstance(request, M16.SignedFirmwareStatusNotificationRequest):
        return M16.SignedFirmwareStatusNotificationResponse()
    if isinstance(request, M16.SecurityEventNotificationRequest):
        return M16.SecurityEventNotificationResponse()
    return None


def default_answer(request: Payload, now: datetime) -> Payload | None:
    if type(request).__module__.startswith("chargeplane.ocpp.messages.v16"):
        return default_answer16(request, now)
    if isinstance(request, M.BootNotificationRequest):
        return M.BootNotificationResponse(current_time=to_wire(now), interval=300, status="Accepted")
    if isinstance(request, M.HeartbeatRequest):
        return M.HeartbeatResponse(current_time=to_wire(now))
    if isinstance(request, M.StatusNotificationRequest):
        return M.StatusNotificationResponse()
    if isinstance(request, M.AuthorizeRequest):
        return M.AuthorizeResponse(id_token_info=D.IdTokenInfoType(status="Accepted"))
    if isinstance(request, M.TransactionEventRequest):
        return M.TransactionEventResponse()
    if isinstance(request, M.MeterValuesRequest):
        return M.MeterValuesResponse()
    if isinstance(request, M.NotifyReportRequest):
        return M.NotifyReportResponse()
    if isinstance(request, M.ReservationStatusUpdateRequest):
        return M.ReservationStatusUpdateResponse()
    if isinstance(request, M.SecurityEventNotificationRequest):
        return M.SecurityEventNotificationResponse()
    if isinstance(request, M.LogStatusNotificationRequest):
        return M.LogStatusNotificationResponse()
    if isinstance(request, M.NotifyCustomerInformationRequest):
        return M.NotifyCustomerInformationResponse()
    if isinstance(request, M.NotifyEventRequest):
        return M.NotifyEventResponse()
    if isinstance(request, M.NotifyMonitoringReportRequest):
        return M.NotifyMonitoringReportResponse()
    if isinstance(request, M.FirmwareStatusNotificationRequest):
        return M.FirmwareStatusNotificationResponse()
    if isinstance(request, M.NotifyDisplayMessagesRequest):
        return M.NotifyDisplayMessagesResponse()
    return None


@dataclass
class Rig:
    """A station core plus everything it sent; ``answer`` overrides the default CSMS answers."""

    core: StationCore
    storage: MemoryStorage
    now: datetime = T0
    sent: list[Payload] = field(default_factory=list)
    actions: list[HardwareAction] = field(default_factory=list)
    answer: Callable[[Payload, datetime], Payload | Failure | None] | None = None
    auto: bool = True  # answer CALLs at once

    def pump(self) -> None:
        """Answer every CALL the core wants to send, until it sends nothing more."""
        while True:
            calls = self.core.take_calls()
            self.actions += self.core.take_actions()
            if not calls:
                return
            for call in calls:
                self.sent.append(call.request)
                if not self.auto:
                    continue
                reply: Payload | Failure | None = None
                if self.answer is not None:
                    reply = self.answer(call.request, self.now)
                if reply is None:
                    reply = default_answer(call.request, self.now)
                if isinstance(reply, Failure):
                    self.core.call_failed(call.ref, reply, self.now)
                elif reply is not None:
                    self.core.call_result(call.ref, reply, self.now)

    def advance(self, seconds: float) -> None:
        """Let time pass, firing every timer on the way."""
        end = self.now + timedelta(seconds=seconds)
        while True:
            deadline = self.core.next_deadline()
            if deadline is None or deadline > end:
                break
            self.now = max(self.now, deadline)
            self.core.handle_timer(self.now)
            self.pump()
        self.now = end
        self.core.handle_timer(self.now)
        self.pump()

    def do(self, method: str, *args: Any, **kwargs: Any) -> None:
        getattr(self.core, method)(*args, now=self.now, **kwargs)
        self.pump()

    def handle(self, request: Payload) -> Any:
        response = self.core.handle(request, self.now)
        self.pump()
        return response

    def of(self, kind: type[Any]) -> list[Any]:
        return [m for m in self.sent if isinstance(m, kind)]

    def events(self) -> list[Any]:
        return self.of(M.TransactionEventRequest)

    def clear(self) -> None:
        self.sent.clear()
        self.actions.clear()


def make_rig(
    storage: MemoryStorage | None = None,
    connectors: tuple[int, ...] = (1,),
    online: bool = True,
    version: Version = Version.V201,
    **kwargs: Any,
) -> Rig:
    storage = storage or MemoryStorage()
    layout = StationLayout(connectors=connectors)
    core = StationCore(version, storage, T0, layout)
    rig = Rig(core, storage, **kwargs)
    if online:
        rig.do("connection_opened")
    return rig


def set_var(rig: Rig, component: str, variable: str, value: str, instance: str | None = None) -> str:
    """SetVariables in the rig's 2.x dialect; the attribute status."""
    m, d = (v21.messages, v21.datatypes) if rig.core.ctx.version is Version.V21 else (M, D)
    variable_type = (
        d.VariableType(name=variable, instance=instance) if instance else d.VariableType(name=variable)
    )
    response = rig.handle(
        m.SetVariablesRequest(
            set_variable_data=[
                d.SetVariableDataType(
                    attribute_value=value, component=d.ComponentType(name=component), variable=variable_type
                )
            ]
        )
    )
    return str(response.set_variable_result[0].attribute_status)


def rig16(**kwargs: Any) -> Rig:
    """A 1.6 station (Charge Point) against the scripted Central System."""
    return make_rig(version=Version.V16, **kwargs)


def statuses16(rig: Rig) -> list[str]:
    return [s.status for s in rig.of(M16.StatusNotificationRequest)]


def charge(rig: Rig, evse_id: int = 1, energy: float = 1000.0, power: float = 7000.0) -> None:
    """The meter reads energy flowing."""
    rig.do("update_meter", evse_id, MeterReading(energy_wh=energy, power_w=power))
