"""Battery swapping on the CSMS (2.1 S01-S04) against a peer station from the ``ocpp`` package, on SQLite and
PostgreSQL: BatterySwap events kept with the token decision and the inventory, RequestBatterySwap (S02)."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call as call21
from ocpp.v21 import call_result as result21

from tests.csms.conftest import RunningCsms
from tests.csms.peers import boot, peer


class SwapStation(ChargePoint21):
    """Answers RequestBatterySwap with ``answer`` (and ``reason`` when Rejected)."""

    answer = "Accepted"
    reason: str | None = None

    @on("RequestBatterySwap")
    def request_battery_swap(self, request_id: int, id_token: dict[str, Any], **_: Any) -> Any:
        self.requested = (request_id, id_token)
        info = {"reason_code": self.reason} if self.reason else None
        return result21.RequestBatterySwap(status=self.answer, status_info=info)


def _battery(evse_id: int, serial: str, soc: float, soh: float = 95.0) -> dict[str, Any]:
    return {"evse_id": evse_id, "serial_number": serial, "so_c": soc, "so_h": soh}


async def _token(csms: RunningCsms, value: str, kind: str = "ISO14443", status: str = "Accepted") -> None:
    body = {"idToken": value, "type": kind, "status": status}
    response = await csms.api.post("/api/v1/id-tokens", json=body, headers=csms.auth)
    assert response.status_code == 201, response.text


async def test_S03_FR_01_03_swap_events_kept_with_the_token_and_the_inventory(csms: RunningCsms) -> None:
    api, auth = csms.api, csms.auth
    await csms.add_station("BSS1")
    await _token(csms, "DRIVER-1")
    await _token(csms, "4711", kind="KeyCode")
    async with peer(csms.ocpp_url, "BSS1", "2.1") as station:
        await boot(station, "2.1")
        token = {"id_token": "DRIVER-1", "type": "ISO14443"}
        await station.call(
            call21.BatterySwap(
                battery_data=[_battery(1, "OLD-1", 12.0, 80.0)],
                event_type="BatteryIn",
                id_token=token,
                request_id=9,
            )
        )
        await station.call(
            call21.BatterySwap(
                battery_data=[_battery(3, "NEW-3", 96.5)],
                event_type="BatteryOut",
                id_token=token,
                request_id=9,
            )
        )
        # a swap with a PIN: the code is kept as a digest only (C04.FR.04)
        pin = {"id_token": "4711", "type": "KeyCode"}
        await station.call(
            call21.BatterySwap(
                battery_data=[_battery(2, "OLD-2", 5.0)], event_type="BatteryIn", id_token=pin, request_id=10
            )
        )
    swaps = (await api.get("/api/v1/battery-swaps?stationId=bss1&requestId=9", headers=auth)).json()
    assert swaps["total"] == 2
    out, in_ = swaps["items"]
    assert (in_["eventType"], out["eventType"]) == ("BatteryIn", "BatteryOut")
    assert (in_["idToken"], in_["tokenStatus"]) == ("DRIVER-1", "Accepted")
    assert in_["batteries"] == [
        {
            "evseId": 1,
            "serialNumber": "OLD-1",
            "soC": 12.0,
            "soH": 80.0,
            "productionDate": None,
            "vendorInfo": None,
        }
    ]
    pinned = (await api.get("/api/v1/battery-swaps?requestId=10", headers=auth)).json()["items"][0]
    assert "4711" not in pinned["idToken"]
    assert pinned["tokenStatus"] == "Accepted"
    slots = (await api.get("/api/v1/stations/BSS1/batteries", headers=auth)).json()
    assert [(s["evseId"], s["serialNumber"], s["present"]) for s in slots] == [
        (1, "OLD-1", True),
        (2, "OLD-2", True),
        (3, "NEW-3", False),
    ]
    log = (await api.get("/api/v1/authorization-log?stationId=BSS1", headers=auth)).json()
    assert "BatterySwap" in {entry["context"] for entry in log["items"]}


async def test_S02_request_battery_swap_S02_FR_03_only_for_an_authorized_token(csms: RunningCsms) -> None:
    api, auth = csms.api, csms.auth
    await csms.add_station("BSS2")
    await _token(csms, "APP-1", kind="Central")
    await _token(csms, "BLOCKED-1", kind="Central", status="Blocked")
    async with peer(csms.ocpp_url, "BSS2", "2.1", station_class=SwapStation) as station:
        await boot(station, "2.1")
        body = {"idToken": "APP-1", "tokenType": "Central"}
        created = await api.post("/api/v1/stations/BSS2/battery-swaps", json=body, headers=auth)
        assert created.status_code == 201, created.text
        result = created.json()
        assert result["stationAnswer"]["status"] == "Accepted"
        assert result["request"]["status"] == "Accepted"
        assert station.requested == (result["request"]["requestId"], {"id_token": "APP-1", "type": "Central"})
        # S02.FR.04: the station's refusal and its reason are kept
        station.answer, station.reason = "Rejected", "NoBatteryAvailable"
        refused = (await api.post("/api/v1/stations/BSS2/battery-swaps", json=body, headers=auth)).json()
        assert refused["request"]["status"] == "Rejected"
        assert refused["stationAnswer"]["reasonCode"] == "NoBatteryAvailable"
        assert refused["request"]["requestId"] != result["request"]["requestId"]
        # S02.FR.03: nothing is sent for a token that is not accepted
        blocked = {"idToken": "BLOCKED-1", "tokenType": "Central"}
        conflict = await api.post("/api/v1/stations/BSS2/battery-swaps", json=blocked, headers=auth)
        assert conflict.status_code == 409
        assert "Blocked" in conflict.text
        bad = await api.post("/api/v1/stations/BSS2/battery-swaps", json={"idToken": ""}, headers=auth)
        assert bad.status_code == 400 or bad.status_code == 422


async def test_S02_request_battery_swap_refused_for_a_201_station(csms: RunningCsms) -> None:
    await csms.add_station("OLD1")
    await _token(csms, "APP-2", kind="Central")
    async with peer(csms.ocpp_url, "OLD1", "2.0.1") as station:
        await boot(station, "2.0.1")
        body = {"idToken": "APP-2", "tokenType": "Central"}
        response = await csms.api.post("/api/v1/stations/OLD1/battery-swaps", json=body, headers=csms.auth)
        assert response.status_code == 409
        assert "2.1" in response.text
