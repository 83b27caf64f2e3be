"""Our 2.1 station runtime against the independent ``ocpp`` package (v21) as the CSMS: DER controls set, a
scheduled one started and stopped by the runtime's timer (R04.FR.20/22), reported (R04.FR.31), and an alarm
when the simulated grid moves (R05.FR.01/02); the inverter's nameplate reported (R01.FR.02) and an AC_BPT_DER
EV's derChargingParameters (R02.FR.01), both checked by the package's schemas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ocpp.v21 import call as call21

from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.model import EvChargingNeeds, EvDerAbility, V2xAbility
from chargeplane.station.hardware import SimulatedEv
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


async def test_R01_FR_02_R02_FR_01_nameplate_report_and_ev_der_parameters_read_by_the_ocpp_package() -> None:
    """The ocpp package (v21) validates what it receives against the OCA schemas: our DCDERCtrlr /
    ACDERCtrlr report and an AC_BPT_DER EV's derChargingParameters pass them."""
    behaviour = CsmsBehaviour(allowed_energy_transfer=["AC_three_phase", "AC_BPT", "AC_BPT_DER"])
    async with peer_csms(behaviour, "ocpp2.1") as url, running_station(url, version=Version.V21) as station:
        await wait_for(lambda: behaviour.of("StatusNotification"))
        csms = behaviour.stations[0]
        components = [{"component": {"name": "DCDERCtrlr"}}, {"component": {"name": "ACDERCtrlr"}}]
        answer = await csms.call(call21.GetReport(request_id=9, component_variable=components))
        assert answer.status == "Accepted"
        await wait_for(
            lambda: behaviour.of("NotifyReport") and not behaviour.of("NotifyReport")[-1].get("tbc")
        )
        reported = {
            (r["component"]["name"], r["variable"]["name"])
            for part in behaviour.of("NotifyReport")
            for r in part["report_data"]
        }
        for name in ("MaxW", "MaxVar", "MaxChargeRateW", "ModesSupported", "ReactiveSusceptance"):
            assert ("DCDERCtrlr", name) in reported  # R01.FR.02
        assert ("ACDERCtrlr", "ModesSupported") in reported  # R03.FR.03
        needs = EvChargingNeeds(
            20_000.0,
            control_mode="DynamicControl",
            v2x=V2xAbility(max_discharge_power_w=9_000.0),
            der=EvDerAbility(supported=("VoltWatt", "LimitMaxDischarge"), max_discharge_w=9_000.0),
        )
        station.plug(ev=SimulatedEv(max_discharge_w=9_000.0, needs=needs))
        station.present_token("AABBCCDD")
        await wait_for(lambda: behaviour.of("NotifyEVChargingNeeds"), within=15.0)
        charging = behaviour.of("NotifyEVChargingNeeds")[0]["charging_needs"]
        assert charging["requested_energy_transfer"] == "AC_BPT_DER"
        der = charging["der_charging_parameters"]
        assert der["ev_supported_der_control"] == ["VoltWatt", "LimitMaxDischarge"]  # R02.FR.01
        assert der["max_discharge_apparent_power"] == 9_000.0
