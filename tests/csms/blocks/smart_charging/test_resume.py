"""E17.FR.15 on the CSMS: a transaction reported with TxResumed gets its TxProfiles again, unless the station
keeps TxProfiles over a reboot; against an ``ocpp`` 2.1 peer, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on

from tests.csms.blocks.smart_charging.test_smart_charging import _json, _received, profile_2x, station_class
from tests.csms.blocks.transactions.test_transactions import tx_event
from tests.csms.conftest import RunningCsms
from tests.csms.peers import MODULES, boot, peer

result21 = MODULES["2.1"].call_result


class PersistentStation(station_class("2.1")):  # type: ignore[misc]
    """Reports SmartChargingCtrlr.ChargingProfilePersistence[TxProfile] = ``persist``."""

    persist = "false"

    @on("GetVariables")  # type: ignore[misc]
    def get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        item = get_variable_data[0]
        answer = {"attribute_status": "Accepted", "attribute_value": self.persist}
        return result21.GetVariables(
            get_variable_result=[{"component": item["component"], "variable": item["variable"]} | answer]
        )


async def _started_with_a_tx_profile(csms: RunningCsms, station: Any) -> None:
    await boot(station, "2.1")
    info = {"charging_state": "Charging"}
    await station.call(tx_event("2.1", "Started", 0, 0, transaction_id="T1", info=info, evse={"id": 1}))
    body = {
        "evseId": 1,
        "chargingProfile": {**profile_2x(11, 16.0, purpose="TxProfile"), "transactionId": "T1"},
    }
    answer = await _json(csms, "POST", f"/stations/{station.id}/charging-profiles", json=body)
    assert answer["status"] == "Accepted"
    await _received(station, 1)


async def test_E17_FR_15_tx_profile_sent_again_after_TxResumed(csms: RunningCsms) -> None:
    await csms.add_station("RES1")
    async with peer(csms.ocpp_url, "RES1", "2.1", station_class=PersistentStation) as station:
        await _started_with_a_tx_profile(csms, station)
        await station.call(tx_event("2.1", "Updated", 1, 5, transaction_id="T1", trigger="TxResumed"))
        await _received(station, 2)
        again = station.received[1]["charging_profile"]
        assert (again["id"], again["transaction_id"]) == (11, "T1")
        # an ordinary event sends nothing
        await station.call(tx_event("2.1", "Updated", 2, 6, transaction_id="T1"))
        assert len(station.received) == 2


async def test_E17_FR_15_not_sent_again_when_the_station_keeps_tx_profiles(csms: RunningCsms) -> None:
    await csms.add_station("RES2")
    async with peer(csms.ocpp_url, "RES2", "2.1", station_class=PersistentStation) as station:
        station.persist = "true"
        await _started_with_a_tx_profile(csms, station)
        item = {
            "component": {"name": "SmartChargingCtrlr"},
            "variable": {"name": "ChargingProfilePersistence", "instance": "TxProfile"},
        }
        await _json(csms, "POST", "/stations/RES2/variables/get", json={"getVariableData": [item]})
        await station.call(tx_event("2.1", "Updated", 1, 5, transaction_id="T1", trigger="TxResumed"))
        await station.call(tx_event("2.1", "Updated", 2, 6, transaction_id="T1"))
        assert len(station.received) == 1
