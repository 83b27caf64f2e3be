"""Our 2.1 station runtime against the independent ``ocpp`` package (v21) as the CSMS: DER controls set, a
scheduled one started and stopped by the runtime's timer (R04.FR.20/22), reported (R04.FR.31), and an alarm
when the simulated grid moves (R05.FR.01/02)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ocpp.v21 import call as call21

from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from tests.station.csms_peer import CsmsBehaviour, peer_csms, wait_for
from tests.station.test_runtime import running_station

VOLT_WATT = {"priority": 1, "y_unit": "PctMaxW", "curve_data": [{"x": 100, "y": 100}, {"x": 110, "y": 20}]}


async def test_R04_R05_der_controls_with_the_ocpp_package_as_csms() -> None:
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour, "ocpp2.1") as url, running_station(url, version=Version.V21) as station:
        await wait_for(lambda: behaviour.of("StatusNotification"))
        csms = behaviour.stations[0]
        answer = await csms.call(
            call21.SetDERControl(is_default=True, control_id="vw", control_type="VoltWatt", curve=VOLT_WATT)
        )
        assert answer.status == "Accepted"
        refused = await csms.call(
            call21.SetDERControl(is_default=True, control_id="hf", control_type="HFMayTrip", curve=VOLT_WATT)
        )
        assert refused.status == "NotSupported"  # R04.FR.01: not in DCDERCtrlr.ModesSupported
        # Far enough ahead that the control is still to come when it arrives on a loaded machine.
        start = datetime.now(UTC) + timedelta(seconds=2)
        droop = {
            "priority": 1,
            "over_freq": 50.2,
            "under_freq": 49.8,
            "over_droop": 0.05,
            "under_droop": 0.05,
            "response_time": 1,
            "start_time": to_wire(start),
            "duration": 1,
        }
        scheduled = await csms.call(
            call21.SetDERControl(
                is_default=False, control_id="fd", control_type="FreqDroop", freq_droop=droop
            )
        )
        assert scheduled.status == "Accepted"
        await wait_for(lambda: len(behaviour.of("NotifyDERStartStop")) == 2, within=15.0)
        assert [(n["control_id"], n["started"]) for n in behaviour.of("NotifyDERStartStop")] == [
            ("fd", True),
            ("fd", False),
        ]
        got = await csms.call(call21.GetDERControl(request_id=42))
        assert got.status == "Accepted"
        await wait_for(lambda: behaviour.of("ReportDERControl"))
        [report] = behaviour.of("ReportDERControl")
        assert report["request_id"] == 42
        assert [c["id"] for c in report["curve"]] == ["vw"]  # the scheduled one is gone (R04.FR.10)
        station.set_grid(253.0)  # 110 % of VNom while nothing is charging: no deviation, no alarm
        station.set_grid(230.0)
        assert behaviour.of("NotifyDERAlarm") == []
        station.set_grid(None, 51.0)
        await csms.call(
            call21.SetDERControl(
                is_default=True,
                control_id="lf",
                control_type="HFMustTrip",
                curve={"priority": 1, "y_unit": "Not_Applicable", "curve_data": [{"x": 50.5, "y": 0}]},
            )
        )
        await wait_for(lambda: behaviour.of("NotifyDERAlarm"), within=15.0)
        alarm = behaviour.of("NotifyDERAlarm")[0]
        assert (alarm["control_type"], alarm["grid_event_fault"]) == ("HFMustTrip", "OverFrequency")
        station.set_grid(None, 50.0)
        await wait_for(lambda: len(behaviour.of("NotifyDERAlarm")) == 2, within=15.0)
        assert behaviour.of("NotifyDERAlarm")[1]["alarm_ended"] is True  # R05.FR.02
