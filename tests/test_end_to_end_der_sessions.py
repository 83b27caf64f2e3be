"""Round trip between OUR 2.1 station runtime and OUR CSMS (in-process, loopback, SQLite), through the HTTP API:
V2X sessions under DER control, one per use case. R01: the station's DC inverter caps the discharge at 50 % of
its rating, the VoltWatt curve and a must-trip curve act as the grid moves, the meter values the CSMS stores show
it, and the controls survive a station restart. R02: an AC_BPT_DER EV states its inverter (derChargingParameters
in the CSMS's API), executes the controls it supports and its alarm reaches the CSMS. R03: the station emulates
what the EV lacks (LimitMaxDischarge as 50 % of the EV's maximum discharge power)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from chargeplane.station.core.der_control import CTRLR
from chargeplane.station.core.model import EvChargingNeeds, EvDerAbility, V2xAbility
from chargeplane.station.hardware import SimulatedEv
from chargeplane.station.runtime import StationRuntime
from tests.end_to_end import csms_and_station, running_station
from tests.test_end_to_end_tariff import until

STATION = "E2EDERS"
CARD = "E2EDERS1"
ALLOWED = {"allowedEnergyTransfer": ["AC_three_phase", "AC_BPT", "AC_BPT_DER"]}
VOLT_WATT = {"priority": 1, "yUnit": "PctMaxW", "curveData": [{"x": 100, "y": 100}, {"x": 110, "y": 10}]}
HV_TRIP = {"priority": 1, "yUnit": "Not_Applicable", "curveData": [{"x": 112, "y": 0}]}
HALF = {"priority": 1, "pctMaxDischargePower": 50}
VARIABLES = {("SampledDataCtrlr", "TxUpdatedInterval", None): "1"}


async def _get(api: httpx.AsyncClient, url: str) -> Any:
    response = await api.get(url)
    assert response.status_code == 200, response.text
    return response.json()


@asynccontextmanager
async def under_der(
    tmp_path: Path, *controls: tuple[str, str, dict[str, Any]]
) -> AsyncIterator[tuple[httpx.AsyncClient, StationRuntime]]:
    """Our CSMS and our running 2.1 station, with ``controls`` (id, type, setting) set through the API."""
    card = {"idToken": CARD, "type": "ISO14443"}
    async with csms_and_station(tmp_path, STATION, [card], variables=VARIABLES) as (api, station):
        for control in controls:
            await set_control(api, *control)
        yield api, station


async def set_control(api: httpx.AsyncClient, control_id: str, kind: str, setting: dict[str, Any]) -> None:
    body = {"controlId": control_id, "controlType": kind, "isDefault": True, "setting": setting}
    answer = await api.post(f"/stations/{STATION}/der-controls", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "Accepted"


async def discharge(api: httpx.AsyncClient, station: StationRuntime, ev: SimulatedEv, watts: float) -> int:
    """Plug ``ev`` in, start with the card and have the CSMS set a discharging central setpoint (Q03)."""
    assert (await api.put(f"/v2x/allowed/token/{CARD}", json=ALLOWED)).status_code == 200
    station.plug(ev=ev)
    station.present_token(CARD)

    async def active() -> dict[str, Any] | None:
        items: list[dict[str, Any]] = (await _get(api, f"/transactions?station={STATION}"))["items"]
        return items[0] if items and items[0]["status"] == "active" else None

    key = int((await until(active, "the transaction in the CSMS"))["id"])

    async def allowed() -> bool:
        return bool((await _get(api, f"/transactions/{key}/v2x"))["allowedEnergyTransfer"])

    await until(allowed, "the transaction's allowed transfers in the CSMS (Q01)")
    if ev.needs is not None:  # an ISO 15118 EV first agrees the schedule the CSMS offers for its needs (K15)
        await until(lambda: not ev.waits_for_schedule, "the EV's schedule agreed")
        offered = {"chargingProfilePurpose": "TxProfile", "evseId": 1}
        cleared = await api.post(f"/stations/{STATION}/charging-profiles/clear", json=offered)
        assert cleared.json()["status"] == "Accepted", cleared.text
    body = {"profileId": 601, "periods": [{"startPeriod": 0, "setpoint": watts}]}
    answer = await api.post(f"/transactions/{key}/v2x/setpoint", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "Accepted"
    return key


def power_in_csms(api: httpx.AsyncClient, key: int, watts: float) -> Callable[[], Awaitable[bool]]:
    """The power the station's meter values last reported, as the CSMS's V2X view shows it."""

    async def reached() -> bool:
        view = await _get(api, f"/transactions/{key}/v2x")
        return view["powerW"] is not None and abs(view["powerW"] - watts) < 1.0

    return reached


def alarms(api: httpx.AsyncClient, count: int) -> Callable[[], Awaitable[list[dict[str, Any]] | None]]:
    async def found() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = (await _get(api, f"/stations/{STATION}/der-alarms"))["items"]
        return items if len(items) >= count else None

    return found


async def test_R01_station_inverter_caps_discharge_volt_watt_and_trip_and_keeps_controls_over_a_restart(
    tmp_path: Path,
) -> None:
    controls = (
        ("half", "LimitMaxDischarge", HALF),
        ("vw", "VoltWatt", VOLT_WATT),
        ("hv", "HVMustTrip", HV_TRIP),
    )
    async with under_der(tmp_path, *controls) as (api, station):
        rating = float(station.core.ctx.model.value(CTRLR, "MaxW", evse=1))  # R01.FR.01: the nameplate
        ev = SimulatedEv(soc=80.0, max_discharge_w=rating, capacity_wh=100_000.0)
        key = await discharge(api, station, ev, -rating)
        await until(power_in_csms(api, key, -rating / 2), "discharge capped at 50 % of the rating")
        [alarm] = await until(alarms(api, 1), "LimitMaxDischarge deviates (R05.FR.01)")
        assert (alarm["controlType"], alarm["alarmEnded"]) == ("LimitMaxDischarge", False)
        station.set_grid(253.0)  # 110 % of VNom: the VoltWatt curve allows 10 % of MaxW
        await until(power_in_csms(api, key, -rating / 10), "VoltWatt reduces the discharge")
        station.set_grid(260.0)  # 113 %: beyond the HVMustTrip curve, at once
        await until(power_in_csms(api, key, 0.0), "the trip stops the power transfer")
        newest = (await until(alarms(api, 3), "the trip's alarm"))[0]
        assert (newest["controlType"], newest["gridEventFault"]) == ("HVMustTrip", "OverVoltage")
        station.set_grid(230.0)
        await until(power_in_csms(api, key, -rating / 2), "back in service, capped again")
        exported = (await _get(api, f"/transactions/{key}/v2x"))["energyExportedWh"]
        assert 0.0 < exported < rating / 2 * 3600  # the meter registers only what the inverter let through
        await station.stop()
        async with running_station(station.settings) as again:  # R01.FR.03: the controls persist
            assert set(again.core.der.controls) == {"half", "vw", "hv"}
            cap = again.hardware.evses[1]
            await until(
                lambda: cap.cap.max_discharge_w == rating / 2, "the cap in force again after the boot"
            )
            query = (await api.post(f"/stations/{STATION}/der-controls/query", json={})).json()

            async def complete() -> dict[str, Any] | None:
                report: dict[str, Any] = await _get(
                    api, f"/stations/{STATION}/der-controls/reports/{query['id']}"
                )
                return report if report["complete"] else None

            report = await until(complete, "the report after the restart")
            assert sorted(c["id"] for c in report["controls"]) == ["half", "hv", "vw"]


def der_ev(supported: tuple[str, ...]) -> SimulatedEv:
    needs = EvChargingNeeds(
        20_000.0,
        control_mode="DynamicControl",
        v2x=V2xAbility(max_discharge_power_w=10_000.0, max_charge_power_w=11_000.0),
        der=EvDerAbility(supported=supported, max_discharge_w=10_000.0, max_charge_w=10_000.0),
    )
    return SimulatedEv(
        soc=80.0, max_power_w=10_000.0, max_discharge_w=10_000.0, capacity_wh=100_000.0, needs=needs
    )


async def test_R02_EV_inverter_takes_its_controls_and_its_alarm_reaches_the_csms(tmp_path: Path) -> None:
    async with under_der(tmp_path, ("vw", "VoltWatt", VOLT_WATT)) as (api, station):
        ev = der_ev(("VoltWatt", "HVMustTrip"))
        key = await discharge(api, station, ev, -8_000.0)

        async def parameters() -> dict[str, Any] | None:
            page = await _get(api, f"/stations/{STATION}/der-ev-parameters")
            return page["items"][0] if page["items"] else None

        stored = await until(parameters, "derChargingParameters in the CSMS (R02.FR.01)")
        assert stored["energyTransfer"] == "AC_BPT_DER"
        assert stored["derChargingParameters"]["evSupportedDERControl"] == ["VoltWatt", "HVMustTrip"]
        assert stored["derChargingParameters"]["maxDischargeApparentPower"] == 10_000.0
        await until(power_in_csms(api, key, -8_000.0), "the EV discharges at the setpoint")
        assert ev.inverter is not None
        await until(lambda: handed_to(ev) == ["VoltWatt"], "the control handed to the EV (R02.FR.03)")
        station.set_grid(253.0)  # the EV's own inverter: 10 % of its 10 kW
        await until(power_in_csms(api, key, -1_000.0), "the EV's inverter reduces its discharge")
        [alarm] = await until(alarms(api, 1), "the EV's alarm as NotifyDERAlarm")
        assert (alarm["controlType"], alarm["gridEventFault"], alarm["alarmEnded"]) == (
            "VoltWatt",
            "OverVoltage",
            False,
        )
        assert station.hardware.evses[1].cap.max_discharge_w == float("inf")  # the station does not cap it
        station.set_grid(230.0)
        ended = (await until(alarms(api, 2), "the end of the EV's alarm"))[0]
        assert (ended["controlType"], ended["alarmEnded"]) == ("VoltWatt", True)


def handed_to(ev: SimulatedEv) -> list[str]:
    return [] if ev.inverter is None else [c.value for c in ev.inverter.controls]


async def test_R03_hybrid_station_emulates_limit_max_discharge_the_EV_executes_volt_watt(
    tmp_path: Path,
) -> None:
    async with under_der(tmp_path, ("vw", "VoltWatt", VOLT_WATT), ("half", "LimitMaxDischarge", HALF)) as (
        api,
        station,
    ):
        ev = der_ev(("VoltWatt",))  # no LimitMaxDischarge in the EV: the station emulates it (R03.FR.04)
        key = await discharge(api, station, ev, -8_000.0)
        await until(power_in_csms(api, key, -5_000.0), "50 % of the EV's maximum discharge power")
        assert handed_to(ev) == ["VoltWatt"]  # R03.FR.05/06: the one the EV supports is configured in it
        [alarm] = await until(alarms(api, 1), "the station's emulated control deviates")
        assert alarm["controlType"] == "LimitMaxDischarge"
        station.set_grid(253.0)  # the EV's VoltWatt now binds below the station's cap
        await until(power_in_csms(api, key, -1_000.0), "the EV's VoltWatt")
