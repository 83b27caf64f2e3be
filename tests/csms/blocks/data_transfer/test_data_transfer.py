"""Data transfer (P01, P02) against peer stations from the ``ocpp`` package, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call_result as result21
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201

from chargeplane.csms.blocks.data_transfer.service import DataTransferService
from tests.csms.conftest import RunningCsms
from tests.csms.peers import MODULES, boot, peer

VERSIONS = ["1.6", "2.0.1", "2.1"]


class Station16(ChargePoint16):
    @on("DataTransfer")
    def data_transfer(self, vendor_id: str, message_id: str | None = None, data: Any = None) -> Any:
        if vendor_id != "com.acme":
            return result16.DataTransfer(status="UnknownVendorId")
        return result16.DataTransfer(status="Accepted", data=f"echo:{data}")


class Station201(ChargePoint201):
    @on("DataTransfer")
    def data_transfer(self, vendor_id: str, message_id: str | None = None, data: Any = None, **_: Any) -> Any:
        if vendor_id != "com.acme":
            return result201.DataTransfer(status="UnknownVendorId")
        return result201.DataTransfer(status="Accepted", data={"echo": data})


class Station21(ChargePoint21):
    @on("DataTransfer")
    def data_transfer(self, vendor_id: str, message_id: str | None = None, data: Any = None, **_: Any) -> Any:
        if vendor_id != "com.acme":
            return result21.DataTransfer(status="UnknownVendorId")
        return result21.DataTransfer(status="Accepted", data={"echo": data})


STATIONS = {"1.6": Station16, "2.0.1": Station201, "2.1": Station21}


@pytest.mark.parametrize("version", VERSIONS)
async def test_P02_incoming_unknown_vendor_unknown_message_and_handled(
    csms: RunningCsms, version: str
) -> None:
    service = csms.app.blocks.require(DataTransferService)
    seen: list[tuple[str, str | None, Any]] = []

    async def parking(station_id: str, message_id: str | None, data: Any) -> tuple[str, Any]:
        seen.append((station_id, message_id, data))
        return "Accepted", {"spot": 7} if version != "1.6" else "spot 7"

    service.register("com.acme", parking, message_id="parking")
    service.register("com.other", lambda station_id, message_id, data: ("Rejected", None))
    await csms.add_station("DT1")
    call = MODULES[version].call
    data = {"start": "2025-01-01T10:00:00Z"} if version != "1.6" else "start"
    async with peer(csms.ocpp_url, "DT1", version) as station:
        await boot(station, version)
        unknown_vendor = await station.call(call.DataTransfer(vendor_id="org.nobody", message_id="x"))
        assert unknown_vendor.status == "UnknownVendorId"  # P02.FR.06
        unknown_message = await station.call(call.DataTransfer(vendor_id="com.acme", message_id="other"))
        assert unknown_message.status == "UnknownMessageId"  # P02.FR.07
        handled = await station.call(call.DataTransfer(vendor_id="com.acme", message_id="parking", data=data))
        assert handled.status == "Accepted"
        assert handled.data == ({"spot": 7} if version != "1.6" else "spot 7")
        any_message = await station.call(call.DataTransfer(vendor_id="com.other"))  # a vendor-wide handler
        assert any_message.status == "Rejected"
    assert seen == [("DT1", "parking", data)]
    page = (await csms.api.get("/api/v1/data-transfers?stationId=dt1&limit=10", headers=csms.auth)).json()
    assert page["total"] == 4
    assert [(t["direction"], t["vendorId"], t["status"]) for t in page["items"]] == [
        ("in", "com.other", "Rejected"),
        ("in", "com.acme", "Accepted"),
        ("in", "com.acme", "UnknownMessageId"),
        ("in", "org.nobody", "UnknownVendorId"),
    ]
    assert page["items"][1]["data"] == data


@pytest.mark.parametrize("version", VERSIONS)
async def test_P01_outgoing_through_the_api_and_errors(csms: RunningCsms, version: str) -> None:
    api, auth = csms.api, csms.auth
    await csms.add_station("DT2")
    url = "/api/v1/stations/DT2/data-transfer"
    async with peer(csms.ocpp_url, "DT2", version, station_class=STATIONS[version]) as station:
        await boot(station, version)
        sent = await api.post(
            url, json={"vendorId": "com.acme", "messageId": "hello", "data": "hi"}, headers=auth
        )
        assert sent.status_code == 200, sent.text
        assert sent.json()["status"] == "Accepted"
        assert sent.json()["data"] == ("echo:hi" if version == "1.6" else {"echo": "hi"})
        unknown = await api.post(url, json={"vendorId": "org.nobody"}, headers=auth)
        assert unknown.json()["status"] == "UnknownVendorId"  # P01.FR.05, the station's answer
    page = (await api.get("/api/v1/data-transfers", headers=auth)).json()
    assert [(t["direction"], t["status"]) for t in page["items"]] == [
        ("out", "UnknownVendorId"),
        ("out", "Accepted"),
    ]


async def _data_transfer_api_errors(csms: RunningCsms) -> None:
    api, auth = csms.api, csms.auth
    await csms.add_station("DT3")
    url = "/api/v1/stations/DT3/data-transfer"
    assert (await api.post(url, json={"vendorId": "com.acme"})).status_code == 401
    assert (await api.get("/api/v1/data-transfers")).status_code == 401
    assert (
        await api.post("/api/v1/stations/NOPE/data-transfer", json={"vendorId": "com.acme"}, headers=auth)
    ).status_code == 404
    assert (await api.post(url, json={"vendorId": "com.acme"}, headers=auth)).status_code == 409  # offline
    assert (await api.post(url, json={"vendorId": ""}, headers=auth)).status_code == 400
    assert (
        await api.post(url, json={"vendorId": "x", "messageId": "m" * 51}, headers=auth)
    ).status_code == 400
    async with peer(csms.ocpp_url, "DT3", "2.0.1") as station:  # a peer without a DataTransfer handler
        await boot(station, "2.0.1")
        failed = await api.post(url, json={"vendorId": "com.acme"}, headers=auth)
        assert failed.status_code == 502
    page = (await api.get("/api/v1/data-transfers?stationId=DT3", headers=auth)).json()
    assert [(t["direction"], t["status"]) for t in page["items"]] == [("out", "CallFailed")]
