"""Our 2.1 swap station runtime against the independent ``ocpp`` package (v21) as the CSMS: a remote swap
(S02) with BatteryIn / BatteryOut under the CSMS's requestId (S03), the slots' AvailabilityState and the
batteries charging in transactions (S04)."""

from __future__ import annotations

from typing import Any

from ocpp.v21 import call as call21

from chargeplane.ocpp.versions import Version
from tests.station.csms_peer import CsmsBehaviour, peer_csms, wait_for
from tests.station.test_runtime import running_station


def _setting(component: str, variable: str, value: str, instance: str | None = None) -> dict[str, Any]:
    name = {"name": variable} | ({"instance": instance} if instance else {})
    return {"component": {"name": component}, "variable": name, "attribute_value": value}


async def test_S02_S03_remote_swap_with_the_ocpp_package_csms() -> None:
    behaviour = CsmsBehaviour()
    async with (
        peer_csms(behaviour, "ocpp2.1") as url,
        running_station(url, version=Version.V21, connectors=(1, 1, 1)) as station,
    ):
        await wait_for(lambda: behaviour.of("StatusNotification"))
        csms = behaviour.stations[0]
        answer = await csms.call(
            call21.SetVariables(
                set_variable_data=[
                    _setting("BatterySwapCtrlr", "Enabled", "true"),
                    _setting("TxCtrlr", "TxStartPoint", "EVConnected"),  # S04.FR.08
                    _setting("TxCtrlr", "TxStopPoint", "EVConnected"),  # S04.FR.09
                ]
            )
        )
        assert {r["attribute_status"] for r in answer.set_variable_result} == {"Accepted"}
        token = {"id_token": "APP-7", "type": "Central"}
        refused = await csms.call(call21.RequestBatterySwap(request_id=41, id_token=token))
        assert (refused.status, refused.status_info["reason_code"]) == ("Rejected", "NoBatteryAvailable")
        assert station.insert_battery(2, "BAT-2", 95.0, 99.0, stock=True)
        assert station.insert_battery(3, "BAT-3", 85.0, 97.0, stock=True)
        accepted = await csms.call(call21.RequestBatterySwap(request_id=42, id_token=token))
        assert accepted.status == "Accepted"  # S02.FR.01
        assert station.insert_battery(1, "OLD-1", 8.0, 75.0)
        await wait_for(lambda: behaviour.of("BatterySwap"))
        battery_in = behaviour.of("BatterySwap")[0]
        assert (battery_in["event_type"], battery_in["request_id"], battery_in["id_token"]) == (
            "BatteryIn",
            42,
            token,
        )  # S02.FR.02
        assert battery_in["battery_data"] == [
            {"evse_id": 1, "serial_number": "OLD-1", "soc": 8.0, "soh": 75.0}  # the package snake-cases soC
        ]
        assert station.remove_battery(2)  # the fullest battery is the one offered
        await wait_for(lambda: len(behaviour.of("BatterySwap")) == 2)
        battery_out = behaviour.of("BatterySwap")[1]
        assert (battery_out["event_type"], battery_out["request_id"]) == ("BatteryOut", 42)
        assert battery_out["battery_data"][0]["serial_number"] == "BAT-2"

        def slot_states() -> list[tuple[int, str]]:
            return [
                (e["component"]["evse"]["id"], e["actual_value"])
                for n in behaviour.of("NotifyEvent")
                for e in n["event_data"]
                if e["variable"]["name"] == "AvailabilityState"
            ]

        await wait_for(lambda: (2, "Available") in slot_states())
        assert (1, "Occupied") in slot_states()  # S03.FR.02

        def started_slots() -> set[int]:
            return {e["evse"]["id"] for e in behaviour.of("TransactionEvent") if e["event_type"] == "Started"}

        def ended_count() -> int:
            return sum(e["event_type"] == "Ended" for e in behaviour.of("TransactionEvent"))

        # The returned battery's transaction may come last, the taken battery's Ended after it: wait for both.
        await wait_for(lambda: len(started_slots()) == 3 and ended_count() >= 1)
        sent = behaviour.of("TransactionEvent")
        started = {
            e["evse"]["id"]: e["transaction_info"]["transaction_id"]
            for e in sent
            if e["event_type"] == "Started"
        }
        assert sorted(started) == [1, 2, 3]  # S04.FR.01: every battery in a slot charges
        ended = [e for e in sent if e["event_type"] == "Ended"]
        assert [e["transaction_info"]["transaction_id"] for e in ended] == [started[2]]  # S04.FR.07
        assert ended[0]["transaction_info"]["stopped_reason"] == "EVDisconnected"
