"""Reservations (H01-H04) against peer stations from the ``ocpp`` package, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call_result as result21
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201

from chargeplane.csms.blocks.reservation.repository import NewReservation
from chargeplane.csms.blocks.reservation.service import ReservationService
from chargeplane.csms.clock import ManualClock
from tests.csms.conftest import RunningCsms
from tests.csms.peers import MODULES, boot, peer

VERSIONS = ["1.6", "2.0.1", "2.1"]


class _Recorder:
    answer = "Accepted"
    cancel_answer = "Accepted"

    def remember(self, kind: str, payload: dict[str, Any]) -> None:
        received = getattr(self, "received", [])
        received.append((kind, payload))
        self.received = received


class Station16(ChargePoint16, _Recorder):
    @on("ReserveNow")
    def reserve_now(self, **payload: Any) -> Any:
        self.remember("ReserveNow", payload)
        return result16.ReserveNow(status=self.answer)

    @on("CancelReservation")
    def cancel_reservation(self, reservation_id: int) -> Any:
        self.remember("CancelReservation", {"reservation_id": reservation_id})
        return result16.CancelReservation(status=self.cancel_answer)


class Station201(ChargePoint201, _Recorder):
    @on("ReserveNow")
    def reserve_now(self, **payload: Any) -> Any:
        self.remember("ReserveNow", payload)
        return result201.ReserveNow(status=self.answer)

    @on("CancelReservation")
    def cancel_reservation(self, reservation_id: int, **_: Any) -> Any:
        self.remember("CancelReservation", {"reservation_id": reservation_id})
        return result201.CancelReservation(status=self.cancel_answer)


class Station21(ChargePoint21, _Recorder):
    @on("ReserveNow")
    def reserve_now(self, **payload: Any) -> Any:
        self.remember("ReserveNow", payload)
        return result21.ReserveNow(status=self.answer)

    @on("CancelReservation")
    def cancel_reservation(self, reservation_id: int, **_: Any) -> Any:
        self.remember("CancelReservation", {"reservation_id": reservation_id})
        return result21.CancelReservation(status=self.cancel_answer)


STATIONS = {"1.6": Station16, "2.0.1": Station201, "2.1": Station21}


def _later(minutes: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


@pytest.mark.parametrize("version", VERSIONS)
async def test_H01_reserve_through_the_api_H01_FR_11_refusal_H02_cancel_and_errors(
    csms: RunningCsms, version: str
) -> None:
    api, auth = csms.api, csms.auth
    await csms.add_station("RS1")
    async with peer(csms.ocpp_url, "RS1", version, station_class=STATIONS[version]) as station:
        await boot(station, version)
        body = {
            "idToken": "TOKEN-1",
            "tokenType": "ISO14443",
            "expiresAt": _later(),
            "groupIdToken": "GROUP-1",
        }
        body |= {"connectorId": 2} if version == "1.6" else {"evseId": 2}
        created = await api.post("/api/v1/stations/RS1/reservations", json=body, headers=auth)
        assert created.status_code == 201, created.text
        result = created.json()
        reservation = result["reservation"]
        assert result["stationAnswer"]["status"] == "Accepted"
        assert (reservation["status"], reservation["stationId"], reservation["idToken"]) == (
            "Accepted",
            "RS1",
            "TOKEN-1",
        )
        kind, sent = station.received[0]
        assert kind == "ReserveNow"
        if version == "1.6":
            assert (sent["reservation_id"], sent["connector_id"], sent["id_tag"], sent["parent_id_tag"]) == (
                reservation["id"],
                2,
                "TOKEN-1",
                "GROUP-1",
            )
        else:
            assert (sent["id"], sent["evse_id"], sent["id_token"], sent["group_id_token"]["id_token"]) == (
                reservation["id"],
                2,
                {"id_token": "TOKEN-1", "type": "ISO14443"},
                "GROUP-1",
            )
        listed = (await api.get("/api/v1/reservations?stationId=rs1&status=Accepted", headers=auth)).json()
        assert [r["id"] for r in listed["items"]] == [reservation["id"]]
        assert listed["total"] == 1
        # H02: cancel.
        cancelled = await api.delete(f"/api/v1/reservations/{reservation['id']}", headers=auth)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["reservation"]["status"] == "Cancelled"
        assert station.received[1] == ("CancelReservation", {"reservation_id": reservation["id"]})
        again = await api.delete(f"/api/v1/reservations/{reservation['id']}", headers=auth)
        assert again.status_code == 409  # nothing left to cancel
        # H01.FR.11: the station's refusal is stored as its status.
        station.answer = "Occupied"
        occupied = (await api.post("/api/v1/stations/RS1/reservations", json=body, headers=auth)).json()
        assert occupied["stationAnswer"]["status"] == "Occupied"
        assert occupied["reservation"]["status"] == "Occupied"
        assert occupied["reservation"]["id"] != reservation["id"]  # every request gets a new id
    if version == "2.0.1":  # the API's errors, once
        await _reservation_api_errors(csms)


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_H04_FR_01_H01_FR_16_status_update_H03_FR_09_used_and_expiry_job(
    csms: RunningCsms, version: str
) -> None:
    api, auth = csms.api, csms.auth
    await csms.add_station("RS2")
    async with peer(csms.ocpp_url, "RS2", version, station_class=STATIONS[version]) as station:
        await boot(station, version)
        ids = []
        for _ in range(3):
            created = await api.post(
                "/api/v1/stations/RS2/reservations",
                json={"idToken": "T", "tokenType": "Central", "expiresAt": _later()},
                headers=auth,
            )
            ids.append(created.json()["reservation"]["id"])
        call = MODULES[version].call
        await station.call(
            call.ReservationStatusUpdate(reservation_id=ids[0], reservation_update_status="Expired"),
            suppress=False,
        )
        await station.call(
            call.ReservationStatusUpdate(reservation_id=ids[1], reservation_update_status="Removed"),
            suppress=False,
        )
        await station.call(  # an unknown id is answered all the same
            call.ReservationStatusUpdate(reservation_id=99999, reservation_update_status="Removed"),
            suppress=False,
        )
    service = csms.app.blocks.require(ReservationService)
    assert await service.mark_used("rs2", ids[2])  # H03.FR.09, as the transactions block will call it
    assert not await service.mark_used("OTHER", ids[0])
    statuses = [(await api.get(f"/api/v1/reservations/{i}", headers=auth)).json()["status"] for i in ids]
    assert statuses == ["Expired", "Removed", "Used"]
    if version == "2.0.1":
        await _expiry_job_closes_reservations_past_expiry(csms)


async def _expiry_job_closes_reservations_past_expiry(csms: RunningCsms) -> None:
    service = csms.app.blocks.require(ReservationService)
    clock = ManualClock()  # ahead of the system time that the CSMS's own job loop uses
    now = clock.now()
    due = await service.repository.create(
        NewReservation("RS2", "T", now + timedelta(minutes=1)), "Accepted", now
    )
    kept = await service.repository.create(
        NewReservation("RS2", "T", now + timedelta(hours=1)), "Accepted", now
    )
    clock.advance(timedelta(minutes=2))
    await service.tick(clock.now())  # one pass of the expiry job
    record = await service.repository.get(due)
    assert record is not None
    assert record.status == "Expired"
    still = await service.repository.get(kept)
    assert still is not None
    assert still.status == "Accepted"


async def _reservation_api_errors(csms: RunningCsms) -> None:
    api, auth = csms.api, csms.auth
    await csms.add_station("RS4")
    body = {"idToken": "T", "tokenType": "Central", "expiresAt": _later()}
    assert (await api.get("/api/v1/reservations")).status_code == 401
    assert (await api.post("/api/v1/stations/RS4/reservations", json=body)).status_code == 401
    assert (await api.post("/api/v1/stations/NOPE/reservations", json=body, headers=auth)).status_code == 404
    assert (await api.post("/api/v1/stations/RS4/reservations", json=body, headers=auth)).status_code == 409
    assert (await api.delete("/api/v1/reservations/12345", headers=auth)).status_code == 404
    assert (await api.get("/api/v1/reservations/12345", headers=auth)).status_code == 404
    assert (await api.get("/api/v1/reservations?status=Nonsense", headers=auth)).status_code == 400
    async with peer(csms.ocpp_url, "RS4", "2.0.1", station_class=Station201) as station:
        await boot(station, "2.0.1")
        url = "/api/v1/stations/RS4/reservations"
        for bad in (
            body | {"expiresAt": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()},  # in the past
            {"idToken": "T", "expiresAt": _later()},  # 2.x needs the token type
            body | {"tokenType": "NotAType"},  # not an IdTokenEnumType of 2.0.1
            body | {"connectorId": 1},  # 2.x reserves an EVSE or a connector type
            body | {"idToken": "x" * 37},  # idToken is at most 36 characters in 2.0.1
        ):
            refused = await api.post(url, json=bad, headers=auth)
            assert refused.status_code == 400, (bad, refused.text)
        assert (await api.get("/api/v1/reservations?stationId=RS4", headers=auth)).json()["total"] == 0
        assert not getattr(station, "received", [])


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_H03_FR_09_transaction_with_the_reservation_uses_it(csms: RunningCsms, version: str) -> None:
    api, auth = csms.api, csms.auth
    await csms.add_station("RS3")
    async with peer(csms.ocpp_url, "RS3", version, station_class=STATIONS[version]) as station:
        await boot(station, version)
        body: dict[str, Any] = {"idToken": "TOKEN-9", "tokenType": "ISO14443", "expiresAt": _later()}
        body |= {"connectorId": 1} if version == "1.6" else {"evseId": 1}
        created = await api.post("/api/v1/stations/RS3/reservations", json=body, headers=auth)
        reservation_id = created.json()["reservation"]["id"]
        call = MODULES[version].call
        now = datetime.now(UTC).isoformat()
        if version == "1.6":
            await station.call(
                call.StartTransaction(
                    connector_id=1,
                    id_tag="TOKEN-9",
                    meter_start=0,
                    timestamp=now,
                    reservation_id=reservation_id,
                )
            )
        else:
            await station.call(
                call.TransactionEvent(
                    event_type="Started",
                    timestamp=now,
                    trigger_reason="Authorized",
                    seq_no=0,
                    transaction_info={"transaction_id": "TX-RS3"},
                    id_token={"id_token": "TOKEN-9", "type": "ISO14443"},
                    evse={"id": 1, "connector_id": 1},
                    reservation_id=reservation_id,
                )
            )
    reservation = (await api.get(f"/api/v1/reservations/{reservation_id}", headers=auth)).json()
    assert reservation["status"] == "Used"
