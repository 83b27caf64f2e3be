"""Our 2.1 station runtime against the independent ``ocpp`` package (v21) as the CSMS: a remote start whose
limit comes in the answer to the Started event (F07), confirmed by the station and enforced on the energy."""

from __future__ import annotations

from typing import Any

from ocpp.v21 import call as call21

from chargeplane.ocpp.versions import Version
from tests.station.csms_peer import CsmsBehaviour, peer_csms, wait_for
from tests.station.test_runtime import events, running_station


async def test_F07_remote_start_with_an_energy_limit_from_the_ocpp_package() -> None:
    behaviour = CsmsBehaviour(start_limit={"max_energy": 5.0})  # Wh: reached within seconds at 11 kW
    async with peer_csms(behaviour, "ocpp2.1") as url, running_station(url, version=Version.V21) as station:
        await wait_for(lambda: behaviour.of("StatusNotification"))
        station.plug(1)
        token = {"id_token": "REMOTE21", "type": "Central"}
        answer = await behaviour.stations[0].call(
            call21.RequestStartTransaction(id_token=token, remote_start_id=7)
        )
        assert answer.status == "Accepted"

        def reached() -> list[dict[str, Any]]:
            return [e for e in events(behaviour) if e["trigger_reason"] == "EnergyLimitReached"]

        await wait_for(reached, within=10.0)
        sent = events(behaviour)
        assert sent[0]["event_type"] == "Started"
        assert sent[0]["transaction_info"]["remote_start_id"] == 7
        limit_set = [e for e in sent if e["trigger_reason"] == "LimitSet"]
        assert len(limit_set) == 1  # F07.FR.03: confirmed once
        assert limit_set[0]["transaction_info"]["transaction_limit"] == {"max_energy": 5.0}
        assert reached()[0]["transaction_info"]["charging_state"] == "SuspendedEVSE"  # E16.FR.05
        assert sent.index(limit_set[0]) < sent.index(reached()[0])
        assert not station.hardware.evses[1].closed
