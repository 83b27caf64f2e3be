"""Round trips between OUR 2.1 station runtime and OUR CSMS (in-process, loopback, SQLite) through the HTTP
API, one per V2X use case of 2.1 block Q not covered by test_end_to_end_v2x(_dynamic).py: Q02 (ChargingOnly,
then V2X enabled mid-session), Q05 / Q06 (an external system's setpoint and limits), Q07 / Q08 (frequency
support, central and local, with aFRR), Q09 (local load balancing), Q10 (Idle), Q11 / Q12 (offline and back).

Each asserts the power the simulated EVSE delivers (negative: the EV discharges) and what the CSMS shows:
the transaction's V2X view (its latest Power.Active.Import, the requested transfer, the external control)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from chargeplane.station.core.external_v2x import ExternalPeriod
from chargeplane.station.core.model import EvChargingNeeds, V2xAbility
from chargeplane.station.core.smart_charging import SmartCharging
from chargeplane.station.core.v2x import V2x
from chargeplane.station.hardware import SimulatedEv
from chargeplane.station.runtime import StationRuntime
from chargeplane.transport.backoff import BackOffSettings
from tests.end_to_end import csms_and_station
from tests.test_end_to_end_tariff import until

STATION = "E2EQX"
CARD = "E2EV2XQX"
BIDIRECTIONAL = ["AC_three_phase", "AC_BPT"]
Variables = dict[tuple[str, str, str | None], str]
SAMPLING: Variables = {("SampledDataCtrlr", "TxUpdatedInterval", None): "1"}  # a meter value each second


@asynccontextmanager
async def v2x_session(
    tmp_path: Path,
    allowed: list[str] | None = BIDIRECTIONAL,
    ev: SimulatedEv | None = None,
    variables: Variables | None = None,
    **station: Any,
) -> AsyncIterator[tuple[httpx.AsyncClient, StationRuntime, dict[str, Any]]]:
    """The API, the running station and its transaction (charging) of a bidirectional EV on EVSE 1, the
    card allowed ``allowed`` (None: nothing said, Q01.FR.08)."""
    card = {"idToken": CARD, "type": "ISO14443"}
    settings = SAMPLING | (variables or {})
    async with csms_and_station(tmp_path, STATION, [card], variables=settings, **station) as (api, runtime):
        if allowed is not None:
            body = {"allowedEnergyTransfer": allowed}
            assert (await api.put(f"/v2x/allowed/token/{CARD}", json=body)).status_code == 200
        runtime.plug(1, ev=ev or SimulatedEv(soc=60.0, max_discharge_w=7000.0, capacity_wh=50_000.0))
        runtime.present_token(CARD, 1)

        async def charging() -> dict[str, Any] | None:
            items: list[dict[str, Any]] = (await api.get(f"/transactions?station={STATION}")).json()["items"]
            return items[0] if items and items[0]["chargingState"] == "Charging" else None

        tx = await until(charging, "the transaction charging in the CSMS")
        yield api, runtime, tx


def profile(
    profile_id: int,
    periods: list[dict[str, Any]],
    *,
    purpose: str = "TxDefaultProfile",
    kind: str = "Absolute",
    stack_level: int = 1,
    **extra: Any,
) -> dict[str, Any]:
    """A 2.1 charging profile in W, its schedule starting now for Absolute ones."""
    schedule: dict[str, Any] = {"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": periods}
    if kind == "Absolute":
        schedule["startSchedule"] = datetime.now(UTC).isoformat()
    if "duration" in extra:
        schedule["duration"] = extra.pop("duration")
    return {
        "id": profile_id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": [schedule],
    } | extra


async def install(api: httpx.AsyncClient, body: dict[str, Any], evse_id: int = 1) -> dict[str, Any]:
    sent = await api.post(
        f"/stations/{STATION}/charging-profiles", json={"evseId": evse_id, "chargingProfile": body}
    )
    assert sent.status_code == 200, sent.text
    answer: dict[str, Any] = sent.json()
    return answer


async def power_is(station: StationRuntime, watts: float, what: str, seconds: float = 20.0) -> None:
    """Wait for the simulated EVSE 1 to deliver ``watts`` (negative: the EV discharges)."""
    evse = station.hardware.evses[1]
    try:
        await until(lambda: evse.power_w == watts, what, seconds)
    except TimeoutError:
        raise AssertionError(f"{what}: {watts} W wanted, {evse.power_w} W delivered") from None


async def csms_power_is(api: httpx.AsyncClient, tx: dict[str, Any], watts: float) -> dict[str, Any]:
    """Wait for the CSMS's V2X view of ``tx`` to show ``watts`` as its latest power (meter values)."""

    async def shown() -> dict[str, Any] | None:
        view: dict[str, Any] = (await api.get(f"/transactions/{tx['id']}/v2x")).json()
        return view if view["powerW"] == watts else None

    found: dict[str, Any] = await until(shown, f"the CSMS showing {watts} W")
    return found


async def test_Q02_charging_only_first_then_NotifyAllowedEnergyTransfer_enables_discharging(
    tmp_path: Path,
) -> None:
    needs = EvChargingNeeds(
        energy_wh=20_000.0,
        control_mode="DynamicControl",
        v2x=V2xAbility(max_discharge_power_w=6000.0, evccid="EVCCQ02"),
    )
    ev = SimulatedEv(soc=60.0, max_discharge_w=6000.0, capacity_wh=50_000.0, needs=needs)
    # Q02 step 1a: the card was allowed no bidirectional transfer
    async with v2x_session(tmp_path, allowed=["AC_three_phase"], ev=ev) as (api, station, tx):

        async def requested(transfer: str) -> dict[str, Any] | None:
            view: dict[str, Any] = (await api.get(f"/transactions/{tx['id']}/v2x")).json()
            return view if view["requestedEnergyTransfer"] == transfer else None

        # Q02.FR.04: the EV asks for its default transfer and offers the bidirectional one
        view = await until(lambda: requested("AC_three_phase"), "the EV's needs asking to charge only")
        assert set(view["availableEnergyTransfer"]) == {"AC_three_phase", "AC_BPT"}
        # Q02.FR.01/02: the CSMS's answer to the needs, a TxProfile charging only (no operationMode, no
        # dischargeLimit nor setpoint); the EV charges at its own maximum under it
        stored = (await api.get(f"/stations/{STATION}/charging-profiles")).json()
        offers = [p for p in stored if p["purpose"] == "TxProfile"]
        assert len(offers) == 1
        for period in offers[0]["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"]:
            assert period.get("operationMode", "ChargingOnly") == "ChargingOnly"
            assert not {"dischargeLimit", "setpoint", "setpointReactive"} & set(period)
        await power_is(station, 11_000.0, "charging only")
        await csms_power_is(api, tx, 11_000.0)
        # discharging is not the CSMS's to ask for yet (the CSMS's own rule, Q01.FR.04's spirit)
        body = {"profileId": 72, "stackLevel": 2, "periods": [{"startPeriod": 0, "setpoint": -3000.0}]}
        refused = await api.post(f"/transactions/{tx['id']}/v2x/setpoint", json=body)
        assert refused.status_code == 409
        # Q02 step 5: the CSMS reads the EVCCID from ConnectedEV.VehicleId (Q01.FR.36)
        read = {
            "getVariableData": [
                {"component": {"name": "ConnectedEV", "evse": {"id": 1}}, "variable": {"name": "VehicleId"}}
            ]
        }
        got = await api.post(f"/stations/{STATION}/variables/get", json=read)
        assert got.status_code == 200, got.text
        assert got.json()[0]["attributeValue"] == "EVCCQ02"
        # Q02 step 7 / Q02.FR.05/06: V2X allowed mid-session; Q02.FR.07: the EV renegotiates
        notify = {"transactionId": tx["transactionId"], "allowedEnergyTransfer": BIDIRECTIONAL}
        answer = await api.post(f"/stations/{STATION}/v2x/allowed-energy-transfer", json=notify)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "Accepted"
        view = await until(lambda: requested("AC_BPT"), "the EV renegotiating a bidirectional transfer")
        assert view["allowedEnergyTransfer"] == BIDIRECTIONAL
        assert view["v2xChargingParameters"]["maxDischargePower"] == 6000.0
        sent = await api.post(f"/transactions/{tx['id']}/v2x/setpoint", json=body)
        assert sent.status_code == 200, sent.text
        assert sent.json()["status"] == "Accepted"
        await power_is(station, -3000.0, "discharging at the central setpoint")
        await csms_power_is(api, tx, -3000.0)
        kept = (await api.get(f"/stations/{STATION}/charging-profiles")).json()
        assert [p["id"] for p in kept if p["purpose"] == "TxProfile"] == [72]  # the offer gave way
        # K17 after the setpoint: the EV states new needs; the CSMS answers NoChargingProfile (the V2X profile
        # stays its schedule) instead of an offer of plain limits above it that would hide the setpoint
        url = f"/stations/{STATION}/charging-limits?message=NotifyEVChargingNeeds"
        before = (await api.get(url)).json()["total"]
        station.ev_charging_needs(1, replace(needs, energy_wh=25_000.0))

        async def answered() -> str | None:
            page: dict[str, Any] = (await api.get(url)).json()
            return str(page["items"][0]["answer"]) if page["total"] > before else None

        assert await until(answered, "the CSMS's answer to the renegotiated needs") == "NoChargingProfile"
        await asyncio.sleep(1)  # nothing else follows in the background
        await power_is(station, -3000.0, "still discharging at the central setpoint after K17")
        again = (await api.get(f"/stations/{STATION}/charging-profiles")).json()
        assert [p["id"] for p in again if p["purpose"] == "TxProfile"] == [72]


EXTERNAL_ONLY: Variables = {
    ("SmartChargingCtrlr", "ExternalConstraintsProfileDisallowed", None): "true",  # Q05 prerequisite
}


async def test_Q05_external_setpoint_within_the_CSMS_profile_and_its_duration(tmp_path: Path) -> None:
    async with v2x_session(tmp_path, variables=EXTERNAL_ONLY) as (api, station, tx):
        fallback = profile(80, [{"startPeriod": 0, "limit": 3000.0}], stack_level=0)
        assert (await install(api, fallback))["status"] == "Accepted"
        await power_is(station, 3000.0, "the plain TxDefaultProfile")
        # Q05 scenario 1: the CSMS hands the setpoint to the EMS for a Dynamic period, limits kept
        external = [
            {
                "startPeriod": 0,
                "operationMode": "ExternalSetpoint",
                "limit": 5000.0,
                "dischargeLimit": -4000.0,
            }
        ]
        granted = profile(81, external, kind="Dynamic", duration=3)
        assert (await install(api, granted))["status"] == "Accepted"
        # Q05.FR.01/03/05: the EMS's value is the target
        assert station.external_setpoint(1, -2500.0)
        await power_is(station, -2500.0, "the EMS's discharging setpoint")
        await csms_power_is(api, tx, -2500.0)
        # V2X.04: never below the CSMS period's dischargeLimit
        assert station.external_setpoint(1, -6000.0)
        await power_is(station, -4000.0, "the EMS's setpoint capped by dischargeLimit")
        assert station.external_setpoint(1, 9000.0)
        await power_is(station, 5000.0, "the EMS's setpoint capped by limit")
        # Q05.FR.07: no update for `duration` seconds: the next valid profile
        await power_is(station, 3000.0, "back to the plain profile once the EMS fell silent", 10.0)
        await csms_power_is(api, tx, 3000.0)


async def test_Q06_external_systems_setpoint_profile_and_its_notice_in_the_CSMS(tmp_path: Path) -> None:
    async with v2x_session(tmp_path) as (api, station, tx):
        # Q06.FR.04/06: no CSMS profile lets it; the EMS's own ChargingStationExternalConstraints profile
        assert station.external_setpoint(1, -3500.0, reactive=500.0)
        await power_is(station, -3500.0, "the EMS's setpoint")
        await csms_power_is(api, tx, -3500.0)

        async def external() -> dict[str, Any] | None:
            view: dict[str, Any] = (await api.get(f"/transactions/{tx['id']}/v2x")).json()
            control: dict[str, Any] | None = view["externalControl"]
            return control if control and control["period"].get("setpoint") == -3500.0 else None

        # Q06.FR.11: notified to the CSMS with its schedule, source EMS
        control = await until(external, "the CSMS showing the EMS's control")
        assert control["operationMode"] == "ExternalSetpoint"
        assert control["source"] == "EMS"
        assert control["period"]["setpointReactive"] == 500.0
        # Q06.FR.22: SetpointPriority CSMS: the CSMS's central setpoint wins over the EMS
        priority = {
            "setVariableData": [
                {
                    "component": {"name": "SmartChargingCtrlr"},
                    "variable": {"name": "SetpointPriority"},
                    "attributeValue": "CSMS",
                }
            ]
        }
        assert (await api.post(f"/stations/{STATION}/variables/set", json=priority)).status_code == 200
        central = profile(82, [{"startPeriod": 0, "operationMode": "CentralSetpoint", "setpoint": 2000.0}])
        assert (await install(api, central))["status"] == "Accepted"
        await power_is(station, 2000.0, "the CSMS's setpoint over the EMS's")
        await csms_power_is(api, tx, 2000.0)


FREQUENCY_CURVE = [
    {"frequency": 49.8, "power": -4000.0},
    {"frequency": 50.0, "power": 0.0},
    {"frequency": 50.2, "power": 4000.0},
]
SIGNAL_CURVE = [{"signal": -100, "power": -2000.0}, {"signal": 100, "power": 2000.0}]
LOCAL_FREQUENCY = {
    "startPeriod": 0,
    "operationMode": "LocalFrequency",
    "v2xBaseline": 500.0,
    "v2xFreqWattCurve": FREQUENCY_CURVE,
    "v2xSignalWattCurve": SIGNAL_CURVE,
}


async def afrr(api: httpx.AsyncClient, signal: int) -> dict[str, Any]:
    body = {"timestamp": datetime.now(UTC).isoformat(), "signal": signal}
    sent = await api.post(f"/stations/{STATION}/v2x/afrr-signal", json=body)
    assert sent.status_code == 200, sent.text
    answer: dict[str, Any] = sent.json()
    return answer


async def test_Q07_central_frequency_updated_by_the_CSMS_then_local_frequency_when_updates_stop(
    tmp_path: Path,
) -> None:
    async with v2x_session(tmp_path) as (api, station, tx):
        # Q08.FR.11: no LocalFrequency period with a signal curve yet: the aFRR signal is refused
        refused = await afrr(api, 50)
        assert (refused["status"], refused["reasonCode"]) == ("Rejected", "NoSignalWattCurve")
        station.set_grid(frequency_hz=49.9)
        local = profile(90, [LOCAL_FREQUENCY], stack_level=1)
        assert (await install(api, local))["status"] == "Accepted"
        await power_is(station, -1500.0, "local frequency support below the CentralFrequency")
        # Q07 scenario 1: a Dynamic CentralFrequency period the CSMS updates from its own frequency readings
        central_period = {"startPeriod": 0, "operationMode": "CentralFrequency", "setpoint": -1000.0}
        central = profile(91, [central_period], kind="Dynamic", stack_level=2, duration=3)
        assert (await install(api, central))["status"] == "Accepted"
        await power_is(station, -1000.0, "the CSMS's central frequency setpoint")
        pushed = await api.put(
            f"/stations/{STATION}/dynamic-schedules/91", json={"scheduleUpdate": {"setpoint": -2500.0}}
        )
        assert pushed.status_code == 200, pushed.text
        assert pushed.json()["status"] == "Accepted"
        await power_is(station, -2500.0, "the CSMS's updated setpoint")
        await csms_power_is(api, tx, -2500.0)
        # Q07 scenario 2: no update within duration: the LocalFrequency profile below takes over (Q08)
        await power_is(station, -1500.0, "local frequency control after the updates stopped", 10.0)
        # Q08.FR.10: the aFRR signal adds its curve's power from its timestamp
        accepted = await afrr(api, 50)
        assert accepted["status"] == "Accepted"
        await power_is(station, -500.0, "local frequency plus the aFRR signal")
        await csms_power_is(api, tx, -500.0)


async def test_Q08_local_frequency_follows_the_simulated_grid(tmp_path: Path) -> None:
    async with v2x_session(tmp_path) as (api, station, tx):
        # Q08.FR.03: no curve: NoFreqWattCurve
        bare = profile(95, [{"startPeriod": 0, "operationMode": "LocalFrequency", "v2xBaseline": 0.0}])
        refused = await install(api, bare)
        assert (refused["status"], refused["reasonCode"]) == ("Rejected", "NoFreqWattCurve")
        # Q08.FR.04: no limit with LocalFrequency
        limited = profile(95, [LOCAL_FREQUENCY | {"limit": 3000.0}])
        refused = await install(api, limited)
        assert (refused["status"], refused["reasonCode"]) == ("Rejected", "InvalidSchedule")
        assert (await install(api, profile(96, [LOCAL_FREQUENCY])))["status"] == "Accepted"
        # Q08.FR.06: baseline plus the curve at the measured frequency (50 Hz: 0)
        await power_is(station, 500.0, "the baseline at 50 Hz")
        station.set_grid(frequency_hz=49.85)  # under-frequency: the EV gives power back
        await power_is(station, -2500.0, "discharging for an under-frequency")
        await csms_power_is(api, tx, -2500.0)
        # Q08.FR.07: a change under LocalFrequencyUpdateThreshold (10 mHz) keeps the setpoint
        station.set_grid(frequency_hz=49.855)
        await asyncio.sleep(1.5)  # a meter tick and a meter value later
        await csms_power_is(api, tx, -2500.0)
        assert station.hardware.evses[1].power_w == -2500.0
        station.set_grid(frequency_hz=50.1)  # over-frequency: it charges more
        await power_is(station, 2500.0, "charging for an over-frequency")
        await csms_power_is(api, tx, 2500.0)


LOAD_BALANCING: Variables = {
    ("V2XChargingCtrlr", "LocalLoadBalancing", "UpperThreshold"): "10000",
    ("V2XChargingCtrlr", "LocalLoadBalancing", "LowerThreshold"): "0",
    ("V2XChargingCtrlr", "LocalLoadBalancing", "UpperOffset"): "-1000",
    ("V2XChargingCtrlr", "LocalLoadBalancing", "LowerOffset"): "1000",
}


async def test_Q09_local_load_balancing_on_the_upstream_meter(tmp_path: Path) -> None:
    async with v2x_session(tmp_path, variables=LOAD_BALANCING) as (api, station, tx):
        period = {
            "startPeriod": 0,
            "operationMode": "LocalLoadBalancing",
            "setpoint": 2000.0,
            "limit": 6000.0,
            "dischargeLimit": -5000.0,
        }
        assert (await install(api, profile(100, [period])))["status"] == "Accepted"
        station.upstream_load(5000.0)  # between the thresholds: the setpoint stays
        await power_is(station, 2000.0, "the setpoint with the load between the thresholds")
        await csms_power_is(api, tx, 2000.0)
        # Q09.FR.04: 13 kW (with the EV's 2 kW): 10 - 1 - 13 = -4 kW, setpoint 2 - 4 = -2 kW
        station.upstream_load(13_000.0)
        await power_is(station, -2000.0, "discharging to bring the load under the upper threshold")
        await csms_power_is(api, tx, -2000.0)
        # the meter now reads 9 kW (the building's 11 kW less the EV's 2 kW): between, kept
        station.upstream_load(9000.0)
        await csms_power_is(api, tx, -2000.0)
        assert station.hardware.evses[1].power_w == -2000.0
        # Q09.FR.05: a larger peak is capped at dischargeLimit
        station.upstream_load(16_000.0)
        await power_is(station, -5000.0, "capped at dischargeLimit")
        # local generation: -3 kW: 0 + 1 + 3 = +4 kW, from -5 kW to -1 kW
        station.upstream_load(-3000.0)
        await power_is(station, -1000.0, "less discharging under the lower threshold")
        await csms_power_is(api, tx, -1000.0)


async def test_Q10_idle_with_evse_sleep_stops_the_power_and_says_so(tmp_path: Path) -> None:
    async with v2x_session(tmp_path) as (api, station, tx):
        central = profile(110, [{"startPeriod": 0, "operationMode": "CentralSetpoint", "setpoint": -3000.0}])
        assert (await install(api, central))["status"] == "Accepted"
        await power_is(station, -3000.0, "discharging before Idle")
        # Q10.FR.02: Idle with a limit is refused
        bad = profile(111, [{"startPeriod": 0, "operationMode": "Idle", "limit": 0.0}], stack_level=2)
        refused = await install(api, bad)
        assert (refused["status"], refused["reasonCode"]) == ("Rejected", "InvalidSchedule")
        idle = profile(
            111,
            [{"startPeriod": 0, "operationMode": "Idle", "evseSleep": True, "preconditioningRequest": True}],
            stack_level=2,
        )
        assert (await install(api, idle))["status"] == "Accepted"
        await power_is(station, 0.0, "no power while Idle")
        await csms_power_is(api, tx, 0.0)
        assert station.hardware.evses[1].sleeping  # Q10.FR.03

        assert station.core.ctx.get(V2x).sleeping(1)

        async def sleep_shown(sleeping: bool) -> bool:  # Q10.FR.04: evseSleep in its TransactionEvents
            view: dict[str, Any] = (await api.get(f"/transactions/{tx['id']}/v2x")).json()
            return bool(view["evseSleep"] is sleeping)

        await until(lambda: sleep_shown(True), "the CSMS showing the EVSE asleep")
        # Q10.FR.03: a new profile wakes it: the Idle one cleared, the setpoint is back
        cleared = await api.post(f"/stations/{STATION}/charging-profiles/clear", json={"id": 111})
        assert cleared.status_code == 200, cleared.text
        await power_is(station, -3000.0, "discharging again once the Idle profile is gone")
        assert not station.hardware.evses[1].sleeping
        await until(lambda: sleep_shown(False), "the CSMS showing the EVSE awake")


OFFLINE = BackOffSettings(4.0, 0.0, 1)  # the station stays offline for 4 s after it loses the connection


async def offline_v2x(api: httpx.AsyncClient, station: StationRuntime, invalid_after: bool) -> None:
    """A ChargingOnly TxDefaultProfile at stack level 1 under a V2X TxDefaultProfile at stack level 2 with
    maxOfflineDuration 1 s; the station goes offline: Q11, it reverts to level 1 after that second."""
    only = profile(120, [{"startPeriod": 0, "operationMode": "ChargingOnly", "limit": 3000.0}])
    assert (await install(api, only))["status"] == "Accepted"
    v2x = profile(
        121,
        [{"startPeriod": 0, "operationMode": "CentralSetpoint", "setpoint": -4000.0}],
        stack_level=2,
        maxOfflineDuration=1,
        invalidAfterOfflineDuration=invalid_after,
    )
    assert (await install(api, v2x))["status"] == "Accepted"
    await power_is(station, -4000.0, "V2X online")
    await station.go_offline()
    await until(lambda: not station.connected.is_set(), "the station offline")
    assert station.hardware.evses[1].power_w == -4000.0  # maxOfflineDuration not yet elapsed
    await power_is(station, 3000.0, "Q11: the next stack level after maxOfflineDuration", 3.0)
    assert not station.connected.is_set()


async def test_Q11_Q12_offline_past_maxOfflineDuration_reverts_and_resumes_V2X_back_online(
    tmp_path: Path,
) -> None:
    async with v2x_session(tmp_path, backoff=OFFLINE) as (api, station, tx):
        await offline_v2x(api, station, invalid_after=False)
        # Q12 scenario 2: back online the V2X profile counts again
        await until(station.connected.is_set, "the station back online", 10.0)
        await power_is(station, -4000.0, "V2X resumed after the offline period")
        await csms_power_is(api, tx, -4000.0)


async def test_Q12_invalidAfterOfflineDuration_keeps_charging_only_back_online(tmp_path: Path) -> None:
    async with v2x_session(tmp_path, backoff=OFFLINE) as (api, station, tx):
        await offline_v2x(api, station, invalid_after=True)
        # Q12 scenario 3: the V2X profile is gone for good
        await until(station.connected.is_set, "the station back online", 10.0)
        await csms_power_is(api, tx, 3000.0)
        assert station.hardware.evses[1].power_w == 3000.0
        kept = [i.profile.id for i in station.core.ctx.get(SmartCharging).installed]
        assert 120 in kept
        assert 121 not in kept


async def test_Q06_external_limits_with_dischargeLimit_and_an_external_schedule(tmp_path: Path) -> None:
    async with v2x_session(tmp_path) as (api, station, tx):
        central = profile(130, [{"startPeriod": 0, "operationMode": "CentralSetpoint", "setpoint": -5000.0}])
        assert (await install(api, central))["status"] == "Accepted"
        await power_is(station, -5000.0, "the CSMS's discharging setpoint")
        # Q06.FR.02/05: the EMS's single limits: discharging no deeper than its dischargeLimit
        assert station.external_limits(1, 3000.0, -2000.0)
        await power_is(station, -2000.0, "the setpoint held at the EMS's dischargeLimit")
        await csms_power_is(api, tx, -2000.0)

        async def notified(mode: str, field: str, value: float) -> dict[str, Any] | None:
            view: dict[str, Any] = (await api.get(f"/transactions/{tx['id']}/v2x")).json()
            control: dict[str, Any] | None = view["externalControl"]
            if control is None or control["operationMode"] != mode:
                return None
            return control if control["period"].get(field) == value else None

        # Q06.FR.11: the CSMS learns of it (NotifyChargingLimit from the EMS)
        control = await until(lambda: notified("ExternalLimits", "dischargeLimit", -2000.0), "the notice")
        assert control["period"]["limit"] == 3000.0
        assert control["source"] == "EMS"
        # its limit caps charging too
        charge = profile(131, [{"startPeriod": 0, "operationMode": "CentralSetpoint", "setpoint": 6000.0}])
        assert (await install(api, charge | {"stackLevel": 2}))["status"] == "Accepted"
        await power_is(station, 3000.0, "charging capped by the EMS's limit")
        # Q06.FR.12: a significant change is notified again
        assert station.external_limits(1, 4000.0, -1000.0)
        await power_is(station, 4000.0, "the EMS's raised limit")
        await until(lambda: notified("ExternalLimits", "limit", 4000.0), "the changed limits notified")
        # Q06.FR.03/10: a schedule of setpoints from the EMS, notified as received
        periods = [ExternalPeriod(0, setpoint=-800.0), ExternalPeriod(2, setpoint=1500.0)]
        assert station.external_schedule(1, "ExternalSetpoint", periods)
        await power_is(station, -800.0, "the EMS schedule's first setpoint")
        await csms_power_is(api, tx, -800.0)
        await power_is(station, 1500.0, "the EMS schedule's second period", 6.0)
        await until(lambda: notified("ExternalSetpoint", "setpoint", -800.0), "the schedule notified")


async def test_setpoint_per_phase_and_reactive_honoured_by_the_simulated_EVSE(tmp_path: Path) -> None:
    measurands = "Energy.Active.Import.Register,Power.Active.Import,Power.Reactive.Import"
    metered: Variables = {("SampledDataCtrlr", "TxUpdatedMeasurands", None): measurands}
    async with v2x_session(tmp_path, variables=metered) as (api, station, tx):
        phased = {
            "startPeriod": 0,
            "operationMode": "CentralSetpoint",
            "setpoint": -3000.0,  # L1, as setpoint_L2 and _L3 are given
            "setpoint_L2": -2000.0,
            "setpoint_L3": -1000.0,
            "setpointReactive": 500.0,
        }
        assert (await install(api, profile(140, [phased])))["status"] == "Accepted"
        await power_is(station, -6000.0, "discharging at the phases' sum")
        evse = station.hardware.evses[1]
        assert evse.phase_power_w == (-3000.0, -2000.0, -1000.0)
        assert evse.reactive_var == 500.0
        await csms_power_is(api, tx, -6000.0)

        async def reactive_stored() -> bool:  # metered as the station samples it, stored by the CSMS
            query = {"measurand": "Power.Reactive.Import", "limit": 1000}
            page = (await api.get(f"/stations/{STATION}/meter-values", params=query)).json()
            return any(s["value"] == 500.0 and s["unit"] == "var" for s in page["items"])

        await until(reactive_stored, "the reactive power metered")
