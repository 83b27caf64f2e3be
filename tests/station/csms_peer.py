"""A CSMS written with the independent ``ocpp`` package (PyPI), for end-to-end tests of the station runtime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import ocpp.v21
import ocpp.v201
from ocpp.routing import on
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from chargeplane.ocpp.timestamps import utc_now

call = ocpp.v201.call
result = ocpp.v201.call_result


@dataclass
class CsmsBehaviour:
    boot_statuses: list[str] = field(default_factory=lambda: ["Accepted"])  # one per boot; the last repeats
    boot_interval: int = 300
    authorize_status: str = "Accepted"
    ev_needs_status: str = "Accepted"  # the answer to NotifyEVChargingNeeds (K15)
    start_limit: dict[str, Any] | None = None  # 2.1 F07.FR.02: transactionLimit in the answer to Started
    dynamic_update: dict[str, Any] | None = None  # 2.1 K28.FR.07: what PullDynamicScheduleUpdate answers
    receipt_url: str | None = None  # 2.1 C21: the answer to NotifySettlement
    end_total: float | None = None  # totalCost in the answer to an Ended event (I03)
    vat_status: str = "Accepted"  # 2.1 C18.FR.09: the answer to VatNumberValidation

    allowed_energy_transfer: list[str] | None = None  # 2.1 Q01.FR.01: in the Authorize answer
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    stations: list[Any] = field(default_factory=list)

    def actions(self) -> list[str]:
        return [action for action, _ in self.received]

    def of(self, action: str) -> list[dict[str, Any]]:
        return [payload for name, payload in self.received if name == action]


def make_csms_class(behaviour: CsmsBehaviour, base: type[Any] = ocpp.v201.ChargePoint) -> type[Any]:
    module = ocpp.v21 if base is ocpp.v21.ChargePoint else ocpp.v201
    result = module.call_result

    class PeerCsms(base):  # type: ignore[misc,valid-type]
        def _record(self, action: str, payload: dict[str, Any]) -> None:
            behaviour.received.append((action, payload))

        @on("BootNotification")  # type: ignore[misc]
        async def on_boot(self, **payload: Any) -> Any:
            self._record("BootNotification", payload)
            boots = len(behaviour.of("BootNotification"))
            status = behaviour.boot_statuses[min(boots, len(behaviour.boot_statuses)) - 1]
            return result.BootNotification(
                current_time=utc_now(), interval=behaviour.boot_interval, status=status
            )

        @on("Heartbeat")  # type: ignore[misc]
        async def on_heartbeat(self, **payload: Any) -> Any:
            self._record("Heartbeat", payload)
            return result.Heartbeat(current_time=utc_now())

        @on("StatusNotification")  # type: ignore[misc]
        async def on_status(self, **payload: Any) -> Any:
            self._record("StatusNotification", payload)
            return result.StatusNotification()

        @on("Authorize")  # type: ignore[misc]
        async def on_authorize(self, **payload: Any) -> Any:
            self._record("Authorize", payload)
            if behaviour.allowed_energy_transfer is not None:
                return result.Authorize(
                    id_token_info={"status": behaviour.authorize_status},
                    allowed_energy_transfer=behaviour.allowed_energy_transfer,
                )
            return result.Authorize(id_token_info={"status": behaviour.authorize_status})

        @on("TransactionEvent")  # type: ignore[misc]
        async def on_transaction_event(self, **payload: Any) -> Any:
            self._record("TransactionEvent", payload)
            if behaviour.start_limit is not None and payload.get("event_type") == "Started":
                return result.TransactionEvent(transaction_limit=behaviour.start_limit)
            if behaviour.end_total is not None and payload.get("event_type") == "Ended":
                return result.TransactionEvent(total_cost=behaviour.end_total)
            return result.TransactionEvent()

        @on("MeterValues")  # type: ignore[misc]
        async def on_meter_values(self, **payload: Any) -> Any:
            self._record("MeterValues", payload)
            return result.MeterValues()

        @on("NotifyReport")  # type: ignore[misc]
        async def on_notify_report(self, **payload: Any) -> Any:
            self._record("NotifyReport", payload)
            return result.NotifyReport()

        @on("SecurityEventNotification")  # type: ignore[misc]
        async def on_security_event(self, **payload: Any) -> Any:
            self._record("SecurityEventNotification", payload)
            return result.SecurityEventNotification()

        @on("LogStatusNotification")  # type: ignore[misc]
        async def on_log_status(self, **payload: Any) -> Any:
            self._record("LogStatusNotification", payload)
            return result.LogStatusNotification()

        @on("NotifyEvent")  # type: ignore[misc]
        async def on_notify_event(self, **payload: Any) -> Any:
            self._record("NotifyEvent", payload)
            return result.NotifyEvent()

        @on("NotifyMonitoringReport")  # type: ignore[misc]
        async def on_notify_monitoring_report(self, **payload: Any) -> Any:
            self._record("NotifyMonitoringReport", payload)
            return result.NotifyMonitoringReport()

        @on("FirmwareStatusNotification")  # type: ignore[misc]
        async def on_firmware_status(self, **payload: Any) -> Any:
            self._record("FirmwareStatusNotification", payload)
            return result.FirmwareStatusNotification()

        @on("PublishFirmwareStatusNotification")  # type: ignore[misc]
        async def on_publish_firmware_status(self, **payload: Any) -> Any:
            self._record("PublishFirmwareStatusNotification", payload)
            return result.PublishFirmwareStatusNotification()

        @on("NotifyDisplayMessages")  # type: ignore[misc]
        async def on_notify_display_messages(self, **payload: Any) -> Any:
            self._record("NotifyDisplayMessages", payload)
            return result.NotifyDisplayMessages()

        @on("NotifyCustomerInformation")  # type: ignore[misc]
        async def on_notify_customer_information(self, **payload: Any) -> Any:
            self._record("NotifyCustomerInformation", payload)
            return result.NotifyCustomerInformation()

        @on("NotifyChargingLimit")  # type: ignore[misc]
        async def on_notify_charging_limit(self, **payload: Any) -> Any:
            self._record("NotifyChargingLimit", payload)
            return result.NotifyChargingLimit()

        @on("ClearedChargingLimit")  # type: ignore[misc]
        async def on_cleared_charging_limit(self, **payload: Any) -> Any:
            self._record("ClearedChargingLimit", payload)
            return result.ClearedChargingLimit()

        @on("ReportChargingProfiles")  # type: ignore[misc]
        async def on_report_charging_profiles(self, **payload: Any) -> Any:
            self._record("ReportChargingProfiles", payload)
            return result.ReportChargingProfiles()

        @on("NotifyEVChargingNeeds")  # type: ignore[misc]
        async def on_ev_charging_needs(self, **payload: Any) -> Any:
            self._record("NotifyEVChargingNeeds", payload)
            return result.NotifyEVChargingNeeds(status=behaviour.ev_needs_status)

        @on("NotifyEVChargingSchedule")  # type: ignore[misc]
        async def on_ev_charging_schedule(self, **payload: Any) -> Any:
            self._record("NotifyEVChargingSchedule", payload)
            return result.NotifyEVChargingSchedule(status="Accepted")

        @on("ReportDERControl")  # type: ignore[misc]
        async def on_report_der_control(self, **payload: Any) -> Any:
            self._record("ReportDERControl", payload)
            return ocpp.v21.call_result.ReportDERControl()

        @on("NotifyDERAlarm")  # type: ignore[misc]
        async def on_notify_der_alarm(self, **payload: Any) -> Any:
            self._record("NotifyDERAlarm", payload)
            return ocpp.v21.call_result.NotifyDERAlarm()

        @on("NotifyDERStartStop")  # type: ignore[misc]
        async def on_notify_der_start_stop(self, **payload: Any) -> Any:
            self._record("NotifyDERStartStop", payload)
            return ocpp.v21.call_result.NotifyDERStartStop()

    if module is not ocpp.v21:
        return PeerCsms

    class PeerCsms21(PeerCsms):  # type: ignore[misc,valid-type]
        @on("BatterySwap")  # type: ignore[misc]
        async def on_battery_swap(self, **payload: Any) -> Any:
            self._record("BatterySwap", payload)
            return result.BatterySwap()

        @on("PullDynamicScheduleUpdate")  # type: ignore[misc]
        async def on_pull_dynamic(self, **payload: Any) -> Any:
            self._record("PullDynamicScheduleUpdate", payload)
            if behaviour.dynamic_update is None:
                return result.PullDynamicScheduleUpdate(status="Rejected")
            return result.PullDynamicScheduleUpdate(
                status="Accepted", schedule_update=behaviour.dynamic_update
            )

        @on("NotifyPriorityCharging")  # type: ignore[misc]
        async def on_notify_priority(self, **payload: Any) -> Any:
            self._record("NotifyPriorityCharging", payload)
            return result.NotifyPriorityCharging()

        @on("NotifySettlement")  # type: ignore[misc]
        async def on_notify_settlement(self, **payload: Any) -> Any:
            self._record("NotifySettlement", payload)
            return result.NotifySettlement(receipt_url=behaviour.receipt_url)

        @on("VatNumberValidation")  # type: ignore[misc]
        async def on_vat_number_validation(self, **payload: Any) -> Any:
            self._record("VatNumberValidation", payload)
            return result.VatNumberValidation(
                vat_number=payload["vat_number"],
                evse_id=payload.get("evse_id"),
                status=behaviour.vat_status,
            )

    return PeerCsms21


@asynccontextmanager
async def peer_csms(behaviour: CsmsBehaviour, subprotocol: str = "ocpp2.0.1") -> AsyncIterator[str]:
    kind = make_csms_class(
        behaviour, ocpp.v21.ChargePoint if subprotocol == "ocpp2.1" else ocpp.v201.ChargePoint
    )

    async def handler(websocket: ServerConnection) -> None:
        assert websocket.request is not None
        station = kind(websocket.request.path.rsplit("/", 1)[-1], websocket, response_timeout=5)
        behaviour.stations.append(station)
        with suppress(ConnectionClosed):
            await station.start()

    async with serve(handler, "127.0.0.1", 0, subprotocols=[subprotocol]) as server:  # type: ignore[list-item]
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ocpp"


async def wait_for(predicate: Callable[[], Any], within: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def make_csms16_class(behaviour: CsmsBehaviour) -> type[Any]:
    import ocpp.v16

    result16 = ocpp.v16.call_result

    class PeerCentralSystem(ocpp.v16.ChargePoint):  # type: ignore[misc]
        def _record(self, action: str, payload: dict[str, Any]) -> None:
            behaviour.received.append((action, payload))

        @on("BootNotification")  # type: ignore[misc]
        async def on_boot(self, **payload: Any) -> Any:
            self._record("BootNotification", payload)
            boots = len(behaviour.of("BootNotification"))
            status = behaviour.boot_statuses[min(boots, len(behaviour.boot_statuses)) - 1]
            return result16.BootNotification(
                current_time=utc_now(), interval=behaviour.boot_interval, status=status
            )

        @on("Heartbeat")  # type: ignore[misc]
        async def on_heartbeat(self, **payload: Any) -> Any:
            self._record("Heartbeat", payload)
            return result16.Heartbeat(current_time=utc_now())

        @on("StatusNotification")  # type: ignore[misc]
        async def on_status(self, **payload: Any) -> Any:
            self._record("StatusNotification", payload)
            return result16.StatusNotification()

        @on("Authorize")  # type: ignore[misc]
        async def on_authorize(self, **payload: Any) -> Any:
            self._record("Authorize", payload)
            return result16.Authorize(id_tag_info={"status": behaviour.authorize_status})

        @on("StartTransaction")  # type: ignore[misc]
        async def on_start(self, **payload: Any) -> Any:
            self._record("StartTransaction", payload)
            number = len(behaviour.of("StartTransaction"))
            return result16.StartTransaction(transaction_id=500 + number, id_tag_info={"status": "Accepted"})

        @on("StopTransaction")  # type: ignore[misc]
        async def on_stop(self, **payload: Any) -> Any:
            self._record("StopTransaction", payload)
            return result16.StopTransaction()

        @on("MeterValues")  # type: ignore[misc]
        async def on_meter_values(self, **payload: Any) -> Any:
            self._record("MeterValues", payload)
            return result16.MeterValues()

        @on("FirmwareStatusNotification")  # type: ignore[misc]
        async def on_firmware_status(self, **payload: Any) -> Any:
            self._record("FirmwareStatusNotification", payload)
            return result16.FirmwareStatusNotification()

    return PeerCentralSystem


@asynccontextmanager
async def peer_central_system16(behaviour: CsmsBehaviour) -> AsyncIterator[str]:
    kind = make_csms16_class(behaviour)

    async def handler(websocket: ServerConnection) -> None:
        assert websocket.request is not None
        station = kind(websocket.request.path.rsplit("/", 1)[-1], websocket, response_timeout=5)
        behaviour.stations.append(station)
        with suppress(ConnectionClosed):
            await station.start()

    async with serve(handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:  # type: ignore[list-item]
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ocpp"
