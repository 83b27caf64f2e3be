"""SetNetworkProfile from the API (B09) against ``ocpp`` package stations: the profile checked, translated per
version, the answer returned and kept (the command log); 1.6 refused with 422 NoEquivalent; on SQLite and
PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from ocpp.routing import on

from tests.csms.conftest import RunningCsms
from tests.csms.peers import MODULES, boot, peer

PROFILE = {
    "configurationSlot": 1,
    "connectionData": {
        "ocppCsmsUrl": "wss://csms.example.net/ocpp",
        "securityProfile": 2,
        "ocppInterface": "Wired0",
        "messageTimeout": 30,
    },
}


def station_class(version: str) -> Any:
    module = MODULES[version]

    class Station(module.ChargePoint):  # type: ignore[misc,name-defined]
        received: list[dict[str, Any]]

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.received = []

        @on("SetNetworkProfile")
        def set_network_profile(
            self, configuration_slot: int, connection_data: dict[str, Any], **_: Any
        ) -> Any:
            self.received.append(connection_data)
            status = "Accepted" if configuration_slot in (0, 1) else "Rejected"  # B09.FR.05: slots 0 and 1
            return module.call_result.SetNetworkProfile(status=status)

    return Station


async def _post(csms: RunningCsms, station_id: str, body: Any, status: int) -> Any:
    response = await csms.api.post(
        f"/api/v1/stations/{station_id}/network-profiles", json=body, headers=csms.auth
    )
    assert response.status_code == status, response.text
    return response.json()


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_B09_set_network_profile_from_the_api(csms: RunningCsms, version: str) -> None:
    await csms.add_station("NP1")
    async with peer(csms.ocpp_url, "NP1", version, station_class=station_class(version)) as station:
        await boot(station, version)
        answer = await _post(csms, "NP1", PROFILE, 200)
        assert answer["status"] == "Accepted"
        assert answer["configurationSlot"] == 1
        sent = station.received[0]
        assert sent["ocpp_csms_url"] == "wss://csms.example.net/ocpp"
        assert sent["ocpp_transport"] == "JSON"
        if version == "2.0.1":
            assert sent["ocpp_version"] == "OCPP20"  # required by 2.0.1
        else:
            assert "ocpp_version" not in sent
        rejected = await _post(csms, "NP1", PROFILE | {"configurationSlot": 7}, 200)
        assert rejected["status"] == "Rejected"
        # checked before sending
        plain = {
            "configurationSlot": 1,
            "connectionData": PROFILE["connectionData"] | {"ocppCsmsUrl": "ws://h/o"},
        }
        assert "TLS" in (await _post(csms, "NP1", plain, 400))["detail"]
        http = {
            "configurationSlot": 1,
            "connectionData": PROFILE["connectionData"] | {"ocppCsmsUrl": "https://h"},
        }
        await _post(csms, "NP1", http, 400)
        await _post(csms, "NP1", PROFILE | {"configurationSlot": -1}, 400)
        bad_interface = {
            "configurationSlot": 1,
            "connectionData": PROFILE["connectionData"] | {"ocppInterface": "Cable"},
        }
        assert (await _post(csms, "NP1", bad_interface, 422))["extra"]["code"] != "NoEquivalent"
        with_identity = {
            "configurationSlot": 0,
            "connectionData": PROFILE["connectionData"] | {"identity": "NP1"},
        }
        if version == "2.0.1":
            assert (await _post(csms, "NP1", with_identity, 422))["extra"]["code"] == "NoEquivalent"
        else:
            assert (await _post(csms, "NP1", with_identity, 200))["status"] == "Accepted"
    listed = await csms.api.get("/api/v1/stations/NP1/network-profiles", headers=csms.auth)
    history = listed.json()["items"]
    assert [h["status"] for h in history][-2:] == ["Rejected", "Accepted"]  # newest first
    assert history[-1]["connectionData"]["ocppCsmsUrl"] == "wss://csms.example.net/ocpp"
    # offline now
    await _post(csms, "NP1", PROFILE, 409)


async def test_B09_no_network_profiles_on_ocpp16(csms: RunningCsms) -> None:
    await csms.add_station("NP16")
    async with peer(csms.ocpp_url, "NP16", "1.6") as station:
        await boot(station, "1.6")
        refused = await _post(csms, "NP16", PROFILE, 422)
        assert refused["extra"]["code"] == "NoEquivalent"
