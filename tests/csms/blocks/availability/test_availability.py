"""Availability (G01, G03-G05, 1.6 StatusNotification) against peer stations from the ``ocpp`` package, on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ocpp.exceptions import OCPPError
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call_result as result21
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201

from tests.csms.conftest import RunningCsms
from tests.csms.peers import MODULES, boot, peer

VERSIONS = ["1.6", "2.0.1", "2.1"]
T1, T2, T3 = "2025-01-01T10:00:00Z", "2025-01-01T10:05:00Z", "2025-01-01T10:10:00Z"


class Station16(ChargePoint16):
    answer = "Accepted"
    received: list[dict[str, Any]]

    @on("ChangeAvailability")
    def change_availability(self, connector_id: int, type: str) -> Any:
        self.received = [*getattr(self, "received", []), {"connectorId": connector_id, "type": type}]
        return result16.ChangeAvailability(status=self.answer)


class Station201(ChargePoint201):
    answer = "Scheduled"
    received: list[dict[str, Any]]

    @on("ChangeAvailability")
    def change_availability(self, operational_status: str, evse: Any = None, **_: Any) -> Any:
        self.received = [*getattr(self, "received", []), {"status": operational_status, "evse": evse}]
        return result201.ChangeAvailability(status=self.answer)


class Station21(ChargePoint21):
    answer = "Rejected"
    received: list[dict[str, Any]]

    @on("ChangeAvailability")
    def change_availability(self, operational_status: str, evse: Any = None, **_: Any) -> Any:
        self.received = [*getattr(self, "received", []), {"status": operational_status, "evse": evse}]
        return result21.ChangeAvailability(status=self.answer, status_info={"reason_code": "TxInProgress"})


STATIONS = {"1.6": Station16, "2.0.1": Station201, "2.1": Station21}


async def _connectors(csms: RunningCsms, station_id: str) -> list[dict[str, Any]]:
    response = await csms.api.get(f"/api/v1/stations/{station_id}/connectors", headers=csms.auth)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _status(station: Any, version: str, evse: int, connector: int, status: str, at: str) -> None:
    call = MODULES[version].call
    if version == "1.6":
        await station.call(
            call.StatusNotification(connector_id=evse, error_code="NoError", status=status, timestamp=at),
            suppress=False,
        )
    else:
        await station.call(
            call.StatusNotification(
                timestamp=at, connector_status=status, evse_id=evse, connector_id=connector
            ),
            suppress=False,
        )


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_G01_status_notification_history_and_B01_FR_05_G05_notify_event(
    csms: RunningCsms, version: str
) -> None:
    await csms.add_station("AV1")
    async with csms.app.events.subscribe() as events, peer(csms.ocpp_url, "AV1", version) as station:
        await boot(station, version)
        await _status(station, version, 1, 1, "Available", T1)
        await _status(station, version, 1, 1, "Occupied", T3)
        await _status(station, version, 2, 1, "Faulted", T2)
        await _status(station, version, 1, 1, "Reserved", T2)  # late (queued) report: history only
        with pytest.raises(OCPPError) as refused:  # EVSE and connector ids start at 1
            await _status(station, version, 0, 1, "Available", T1)
        assert refused.value.code == "PropertyConstraintViolation"
        statuses = [event.data["status"] for event in _drain(events) if event.kind == "status"]
        assert statuses == ["Available", "Occupied", "Faulted", "Reserved"]
    current = await _connectors(csms, "AV1")
    assert [(c["evseId"], c["connectorId"], c["status"]) for c in current] == [
        (1, 1, "Occupied"),
        (2, 1, "Faulted"),
    ]
    assert current[0]["statusAt"].startswith("2025-01-01T10:10:00")
    page = (await csms.api.get("/api/v1/stations/av1/status-history?limit=3", headers=csms.auth)).json()
    assert page["total"] == 4
    assert [h["status"] for h in page["items"]] == ["Reserved", "Faulted", "Occupied"]  # newest first
    page = (
        await csms.api.get("/api/v1/stations/AV1/status-history?offset=3&limit=3", headers=csms.auth)
    ).json()
    assert [h["status"] for h in page["items"]] == ["Available"]
    await _notify_event_availability_state(csms, version)


async def test_G01_1_6_status_notification_keeps_error_codes_and_charge_point(csms: RunningCsms) -> None:
    await csms.add_station("AV2")
    call = MODULES["1.6"].call
    async with peer(csms.ocpp_url, "AV2", "1.6") as station:
        await boot(station, "1.6")
        await station.call(
            call.StatusNotification(connector_id=0, error_code="NoError", status="Available"), suppress=False
        )
        await station.call(
            call.StatusNotification(
                connector_id=2,
                error_code="GroundFailure",
                status="Faulted",
                info="RCD tripped",
                vendor_id="com.acme",
                vendor_error_code="E42",
                timestamp=T1,
            ),
            suppress=False,
        )
        with pytest.raises(OCPPError) as refused:  # connectorId must not be negative
            await station.call(
                call.StatusNotification(connector_id=-1, error_code="NoError", status="Available"),
                suppress=False,
            )
        assert refused.value.code == "PropertyConstraintViolation"
    current = await _connectors(csms, "AV2")
    assert [(c["evseId"], c["connectorId"], c["status"], c["errorCode"]) for c in current] == [
        (0, 0, "Available", "NoError"),
        (2, 1, "Faulted", "GroundFailure"),
    ]
    assert (current[1]["info"], current[1]["vendorId"], current[1]["vendorErrorCode"]) == (
        "RCD tripped",
        "com.acme",
        "E42",
    )


async def _notify_event_availability_state(csms: RunningCsms, version: str) -> None:
    await csms.add_station("AV3")
    call = MODULES[version].call

    def event(event_id: int, component: dict[str, Any], variable: str, value: str) -> dict[str, Any]:
        return {
            "event_id": event_id,
            "timestamp": T1,
            "trigger": "Delta",
            "actual_value": value,
            "component": component,
            "variable": {"name": variable},
            "event_notification_type": "HardWiredNotification",
        }

    async with csms.app.events.subscribe() as events, peer(csms.ocpp_url, "AV3", version) as station:
        await boot(station, version)
        await station.call(
            call.NotifyEvent(
                generated_at=T1,
                seq_no=0,
                event_data=[
                    event(
                        1,
                        {"name": "Connector", "evse": {"id": 1, "connector_id": 1}},
                        "AvailabilityState",
                        "Reserved",
                    ),
                    event(2, {"name": "EVSE", "evse": {"id": 1}}, "AvailabilityState", "Reserved"),
                    event(3, {"name": "ChargingStation"}, "AvailabilityState", "Available"),
                    # G05: lock failure, logged and published, not a status.
                    event(
                        4,
                        {"name": "ConnectorPlugRetentionLock", "evse": {"id": 1, "connector_id": 1}},
                        "Problem",
                        "true",
                    ),
                ],
            ),
            suppress=False,
        )
        kinds = [(e.kind, e.data.get("status")) for e in _drain(events) if e.kind in ("status", "problem")]
        assert kinds == [
            ("status", "Reserved"),
            ("status", "Reserved"),
            ("status", "Available"),
            ("problem", None),
        ]
    current = await _connectors(csms, "AV3")
    assert [(c["evseId"], c["connectorId"], c["status"], c["source"]) for c in current] == [
        (0, 0, "Available", "NotifyEvent"),
        (1, 0, "Reserved", "NotifyEvent"),
        (1, 1, "Reserved", "NotifyEvent"),
    ]
    logged = await csms.app.blocks.require(_service()).repository.events("AV3", 0, 10)
    assert [(e.component, e.variable, e.actual_value) for e in logged] == [
        ("ConnectorPlugRetentionLock", "Problem", "true")
    ]


@pytest.mark.parametrize("version", VERSIONS)
async def test_G03_G04_change_availability_through_the_api_and_errors(
    csms: RunningCsms, version: str
) -> None:
    await csms.add_station("AV5")
    async with peer(csms.ocpp_url, "AV5", version, station_class=STATIONS[version]) as station:
        await boot(station, version)
        url = "/api/v1/stations/AV5/availability"
        whole = await csms.api.post(url, json={"operational": False}, headers=csms.auth)
        assert whole.status_code == 200, whole.text
        assert whole.json()["status"] == STATIONS[version].answer
        one = await csms.api.post(
            url, json={"operational": True, "evseId": 2, "connectorId": 1}, headers=csms.auth
        )
        assert one.status_code == 200, one.text
        if version == "1.6":
            assert station.received == [
                {"connectorId": 0, "type": "Inoperative"},
                {"connectorId": 2, "type": "Operative"},
            ]
        else:
            assert station.received == [
                {"status": "Inoperative", "evse": None},
                {"status": "Operative", "evse": {"id": 2, "connector_id": 1}},
            ]
        if version == "2.1":
            assert one.json()["reasonCode"] == "TxInProgress"
            bad = await csms.api.post(url, json={"operational": True, "connectorId": 1}, headers=csms.auth)
            assert bad.status_code == 400  # a 2.x connector needs its EVSE
    if version == "2.0.1":  # the API's errors, once
        await _change_availability_errors(csms)


async def _change_availability_errors(csms: RunningCsms) -> None:
    api, auth = csms.api, csms.auth
    await csms.add_station("AV6")
    url = "/api/v1/stations/AV6/availability"
    assert (await api.post(url, json={"operational": True})).status_code == 401
    assert (await api.get("/api/v1/stations/AV6/connectors")).status_code == 401
    assert (
        await api.post("/api/v1/stations/NOPE/availability", json={"operational": True}, headers=auth)
    ).status_code == 404
    assert (await api.get("/api/v1/stations/NOPE/connectors", headers=auth)).status_code == 404
    assert (await api.get("/api/v1/stations/NOPE/status-history", headers=auth)).status_code == 404
    assert (await api.post(url, json={"operational": True}, headers=auth)).status_code == 409  # offline
    assert (await api.post(url, json={"evseId": 1}, headers=auth)).status_code == 400
    async with peer(csms.ocpp_url, "AV6", "2.0.1") as station:  # a peer without a ChangeAvailability handler
        await boot(station, "2.0.1")
        failed = await api.post(url, json={"operational": True}, headers=auth)
        assert failed.status_code == 502
        assert "NotImplemented" in failed.json()["detail"] or "NotSupported" in failed.json()["detail"]


def _service() -> Any:
    from chargeplane.csms.blocks.availability.service import AvailabilityService

    return AvailabilityService


def _drain(queue: asyncio.Queue[Any]) -> list[Any]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


async def test_G01_reports_batched_together_end_with_the_latest_per_connector(database_url: str) -> None:
    """Many messages' reports in one group-commit batch (the StatusWriter): all go into the history; the
    current status of a connector is the report with the latest timestamp, whatever the queue order."""
    from datetime import UTC, datetime, timedelta

    from chargeplane.csms.blocks.availability.repository import AvailabilityRepository, StatusReport
    from chargeplane.csms.storage.engine import create_engine
    from chargeplane.csms.storage.group_commit import GroupCommitter
    from chargeplane.csms.storage.migrate import migrate

    engine = create_engine(database_url)
    await migrate(engine)
    try:
        committer = GroupCommitter(engine, writers=1)
        repository = AvailabilityRepository(engine, committer)
        t0 = datetime(2025, 1, 1, 10, tzinfo=UTC)
        received = t0 + timedelta(hours=1)

        def report(station: str, status: str, minutes: int) -> StatusReport:
            return StatusReport(station, 1, 1, status, "StatusNotification", t0 + timedelta(minutes=minutes))

        await asyncio.gather(
            repository.record([report("CS-A", "Occupied", 5), report("CS-A", "Available", 1)], received),
            repository.record([report("CS-B", "Faulted", 1)], received),
            repository.record([report("CS-B", "Available", 2)], received),
        )
        assert committer.batches == 1
        current = {
            (r.station_id, r.status, r.status_at)
            for s in ("CS-A", "CS-B")
            for r in await repository.current(s)
        }
        assert current == {
            ("CS-A", "Occupied", t0 + timedelta(minutes=5)),
            ("CS-B", "Available", t0 + timedelta(minutes=2)),
        }
        history, total = await repository.history("cs-a", 0, 10)  # identities are case-insensitive
        assert total == 2
        assert [r.status for r in history] == ["Available", "Occupied"]  # newest first
        assert {r.received_at for r in history} == {received}
    finally:
        await engine.dispose()
