"""V2X on a site (issue #16 item 4) against peer stations of the ``ocpp`` package: a 2.1 station's
bidirectional EV is planned both ways and receives a TxProfile of CentralSetpoint periods (Q03.FR.01), a
negative setpoint where it discharges through the base load's peak; a grid service window asked through the
API makes it export; a 2.0.1 station's EV with the same needs keeps charge-only limits; a 2.1 EV's
v2xChargingParameters in NotifyEVChargingNeeds (Q01.FR.03) make it bidirectional."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.routing import on

from chargeplane.csms.blocks.sites.service import TX_PROFILE_BASE
from chargeplane.csms.blocks.sites.settings import SitesSettings
from chargeplane.csms.clock import ScaledClock
from chargeplane.smart_charging.site import VOLTAGE
from tests.csms.blocks.sites.test_sites import _json, _until
from tests.csms.conftest import RunningCsms, running, settings_for
from tests.csms.peers import MODULES, boot, peer
from tests.test_end_to_end_tariff import until

WATTS_PER_AMP = 3 * VOLTAGE
HOUR = 3600


def _recording(version: str) -> Any:
    module = MODULES[version]

    class Recording(module.ChargePoint):  # type: ignore[misc,name-defined]
        """Keeps the periods of the sites block's last TxProfile per EVSE, as received."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.periods: dict[int, list[dict[str, Any]]] = {}

        @on("SetChargingProfile")
        def set_profile(self, evse_id: int, charging_profile: dict[str, Any]) -> Any:
            if charging_profile["id"] == TX_PROFILE_BASE + evse_id:
                schedule = charging_profile["charging_schedule"][0]
                self.periods[evse_id] = schedule["charging_schedule_period"]
            return module.call_result.SetChargingProfile(status="Accepted")

    if version != "2.1":
        return Recording

    class Recording21(Recording):
        @on("NotifyAllowedEnergyTransfer")
        def allowed(self, **_: Any) -> Any:  # Q02.FR.06
            return module.call_result.NotifyAllowedEnergyTransfer(status="Accepted")

    return Recording21


async def _start(station: Any, version: str, transaction: str, now: datetime) -> None:
    await station.call(
        MODULES[version].call.TransactionEvent(
            event_type="Started",
            timestamp=now.isoformat(),
            trigger_reason="CablePluggedIn",
            seq_no=0,
            transaction_info={"transaction_id": transaction},
            evse={"id": 1, "connector_id": 1},
        )
    )


def _setpoint_at(periods: list[dict[str, Any]], second: int) -> float:
    """The setpoint in force ``second`` into the schedule (a limit before the V2X needs are known)."""
    period = [p for p in periods if p["start_period"] <= second][-1]
    return float(period["setpoint"] if "setpoint" in period else period["limit"])


async def _site(csms: RunningCsms, hour: datetime, station: str) -> None:
    tree = {
        "id": "grid",
        "limit": [20.0],
        "evses": [{"id": "e1", "stationId": station, "evseId": 1, "limit": 32.0}],
    }
    await _json(csms, "PUT", "/sites/v2x", json=tree)
    # The second hour's base load is 28 A per phase, over the connection's 20 A: the EV must give 8 A.
    tariff = {
        "start": hour.isoformat(),
        "prices": [0.10, 0.50, 0.30, 0.30],
        "baseLoad": [0.0, 28 * WATTS_PER_AMP, 0.0, 0.0],
    }
    await _json(csms, "PUT", "/sites/v2x/tariff", json=tariff)


@asynccontextmanager
async def _on_site(
    database_url: str, station_id: str, version: str, allowed: bool = True, plan_interval: float = 900
) -> AsyncIterator[tuple[RunningCsms, Any, datetime]]:
    """A running CSMS with the site, a booted peer station of ``version`` on it, a transaction started at
    its EVSE 1 (id ``TX`` + station id); yields the CSMS, the station and the hour the curve starts.
    ``allowed``: on 2.1 the station's sessions are allowed a bidirectional transfer."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    clock = ScaledClock(hour + timedelta(seconds=10))  # no slot ends during the test
    sites = SitesSettings(min_interval=0.05, profile_duration=4 * HOUR, plan_interval=plan_interval)
    settings = settings_for(database_url, sites)
    async with running(settings, clock) as csms:
        await csms.add_station(station_id)
        if version == "2.1" and allowed:  # Q01: the operator allows this station's sessions to discharge
            transfers = {"allowedEnergyTransfer": ["AC_three_phase", "AC_BPT"]}
            await _json(csms, "PUT", f"/v2x/allowed/station/{station_id}", json=transfers)
        await _site(csms, hour, station_id)
        async with peer(csms.ocpp_url, station_id, version, station_class=_recording(version)) as station:
            await boot(station, version)
            await _start(station, version, f"TX{station_id}", clock.now())
            yield csms, station, hour


def _discharging(station: Any) -> bool:
    periods = station.periods.get(1, [])
    return bool(periods) and _setpoint_at(periods, HOUR) < 0


V2X_NEEDS = {
    "v2x": {"maxDischargePower": 11040, "batteryCapacity": 60, "soc": 50, "minSoc": 20, "departureSoc": 50}
}


async def test_Q03_a_v2x_session_on_a_21_station_gets_central_setpoints_and_a_grid_service(
    database_url: str,
) -> None:
    async with _on_site(database_url, "V2X21", "2.1") as (csms, station, hour):
        await _json(csms, "PUT", "/site-ev-needs/TXV2X21", 204, json=V2X_NEEDS)
        await _until(lambda: _discharging(station))
        periods = station.periods[1]
        assert all(p["operation_mode"] == "CentralSetpoint" for p in periods)
        # Q03.FR.02: the setpoint alone, no limit nor dischargeLimit.
        assert all("limit" not in p and "discharge_limit" not in p for p in periods)
        # Through the peak it gives at least the 8 A the connection cannot carry (the dear hour: up to
        # the whole base load, 16 A at most), after charging in the cheap first hour.
        assert -16.0 <= _setpoint_at(periods, HOUR) <= -8.0
        assert _setpoint_at(periods, 0) > 0
        plan = await _json(csms, "GET", "/sites/v2x/plan")
        (evse,) = plan["evses"]
        assert evse["discharge"][1] >= 8.0 - 1e-6
        assert evse["stored"][-1] >= 30.0 - 1e-3  # its departure SoC, 50 % of 60 kWh
        # A grid service: export 5 kW through the third hour; the EV gives 7.2 A then.
        window = {
            "start": (hour + timedelta(hours=2)).isoformat(),
            "end": (hour + timedelta(hours=3)).isoformat(),
            "exportKw": 5.0,
        }
        site = await _json(csms, "PUT", "/sites/v2x/grid-service", json=window)
        assert site["gridService"]["exportKw"] == 5.0
        # (a rise from the peak's setpoint: raise_delay after the slot's start)
        await _until(lambda: _setpoint_at(station.periods[1], 2 * HOUR + 60) < 0)
        assert _setpoint_at(station.periods[1], 2 * HOUR + 60) == pytest.approx(
            -5000 / WATTS_PER_AMP, abs=0.11
        )
        # Bad windows are 400, an unknown site 404; one the EV cannot give is no plan, with its reason.
        await _json(csms, "PUT", "/sites/v2x/grid-service", 400, json=window | {"end": window["start"]})
        await _json(csms, "PUT", "/sites/nowhere/grid-service", 404, json=window)
        await _json(csms, "PUT", "/sites/v2x/grid-service", json=window | {"exportKw": 50.0})
        async with asyncio.timeout(10):
            while True:
                answer = await csms.api.get("/api/v1/sites/v2x/plan", headers=csms.auth)
                if answer.status_code == 404:
                    break
                await asyncio.sleep(0.05)
        assert "grid service asks 50000 W" in answer.json()["detail"]
        await _json(csms, "DELETE", "/sites/v2x/grid-service", 204)
        assert (await _json(csms, "GET", "/sites/v2x"))["gridService"] is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_v2x_session_on_a_201_station_keeps_charge_only_limits(database_url: str) -> None:
    async with _on_site(database_url, "V2X201", "2.0.1") as (csms, station, _):
        await _json(csms, "PUT", "/site-ev-needs/TXV2X201", 204, json=V2X_NEEDS | {"energy": 5.0})
        # Planned with its needs: 5 kWh in the cheap first hour (7.2 A), never a setpoint or a discharge.
        expected = 5000 / WATTS_PER_AMP
        await _until(
            lambda: (
                abs(_setpoint_at(station.periods.get(1, [{"start_period": 0, "limit": 0}]), 0) - expected)
                < 0.11
            )
        )
        periods = station.periods[1]
        assert all("operation_mode" not in p and "setpoint" not in p for p in periods)
        assert all(p["limit"] >= 0 for p in periods)
        plan = await _json(csms, "GET", "/sites/v2x/plan")
        assert plan["evses"][0]["discharge"] == []
        assert plan["evses"][0]["energy"] == pytest.approx(5.0, rel=1e-3)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_Q01_FR_03_v2x_charging_parameters_make_a_21_ev_bidirectional(database_url: str) -> None:
    module = MODULES["2.1"]
    async with _on_site(database_url, "BPT21", "2.1") as (csms, station, hour):
        answer = await station.call(
            module.call.NotifyEVChargingNeeds(
                evse_id=1,
                charging_needs={
                    "requested_energy_transfer": "AC_BPT",
                    "available_energy_transfer": ["AC_three_phase", "AC_BPT"],
                    "control_mode": "ScheduledControl",
                    "departure_time": (hour + timedelta(hours=4)).isoformat(),
                    "v2x_charging_parameters": {
                        "max_charge_power": 11040,
                        "max_discharge_power": 11040,
                        "ev_target_energy_request": 2000,
                        "ev_min_v2x_energy_request": -20000,
                        "ev_max_energy_request": 30000,
                    },
                },
            )
        )
        assert answer.status == "Processing"
        await _until(lambda: _discharging(station))
        plan = await _json(csms, "GET", "/sites/v2x/plan")
        (evse,) = plan["evses"]
        assert min(evse["stored"]) >= -20.0 - 1e-6  # its V2X floor, relative to its battery now
        assert evse["stored"][-1] >= 2.0 - 1e-3  # its target energy by departure
        # Renegotiated to charging only (Q02): planned charge-only again, limits instead of setpoints.
        answer = await station.call(
            module.call.NotifyEVChargingNeeds(
                evse_id=1,
                charging_needs={
                    "requested_energy_transfer": "AC_three_phase",
                    "departure_time": (hour + timedelta(hours=4)).isoformat(),
                    "ac_charging_parameters": {
                        "energy_amount": 2000,
                        "ev_min_current": 0,
                        "ev_max_current": 16,
                        "ev_max_voltage": 400,
                    },
                },
            )
        )
        assert answer.status == "Processing"
        await _until(lambda: all("setpoint" not in p for p in station.periods[1]))
        assert (await _json(csms, "GET", "/sites/v2x/plan"))["evses"][0]["discharge"] == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_Q01_Q02_v2x_needs_without_a_bidirectional_transfer_allowed_are_planned_charge_only(
    database_url: str,
) -> None:
    async with _on_site(database_url, "NOBPT", "2.1", allowed=False) as (csms, station, _):
        await _json(csms, "PUT", "/site-ev-needs/TXNOBPT", 204, json=V2X_NEEDS)
        # flagged V2X by the operator, but the transaction may only charge: limits, no discharge
        await _until(lambda: bool(station.periods.get(1)))
        assert all("setpoint" not in p and p["limit"] >= 0 for p in station.periods[1])
        assert (await _json(csms, "GET", "/sites/v2x/plan"))["evses"][0]["discharge"] == []
        # Q02: the CSMS allows it mid-session; the next plan discharges through the peak
        body = {"transactionId": "TXNOBPT", "allowedEnergyTransfer": ["AC_three_phase", "AC_BPT"]}
        answer = await _json(csms, "POST", "/stations/NOBPT/v2x/allowed-energy-transfer", json=body)
        assert answer["status"] == "Accepted"
        await _until(lambda: _discharging(station))
        assert all(p["operation_mode"] == "CentralSetpoint" for p in station.periods[1])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_v2x_battery_starts_from_the_latest_SoC_meter_value(database_url: str) -> None:
    module = MODULES["2.1"]
    async with _on_site(database_url, "SOC21", "2.1", plan_interval=0) as (csms, station, hour):
        await _json(csms, "PUT", "/site-ev-needs/TXSOC21", 204, json=V2X_NEEDS)  # 50 % of 60 kWh

        async def start() -> float | None:  # None: no plan with the EVSE yet
            evses = (await _json(csms, "GET", "/sites/v2x/plan"))["evses"]
            found: float | None = evses[0]["storedAtStart"] if evses else None
            return found

        assert await until(start, "a V2X plan", 60.0) == pytest.approx(30.0)  # the needs' 50 %
        sample = {"value": 25.0, "measurand": "SoC", "unit_of_measure": {"unit": "Percent"}}
        await station.call(
            module.call.TransactionEvent(
                event_type="Updated",
                timestamp=(hour + timedelta(seconds=20)).isoformat(),
                trigger_reason="MeterValuePeriodic",
                seq_no=1,
                transaction_info={"transaction_id": "TXSOC21"},
                meter_value=[
                    {"timestamp": (hour + timedelta(seconds=20)).isoformat(), "sampled_value": [sample]}
                ],
            )
        )

        async def from_reading() -> bool:  # 25 % of 60 kWh
            return await start() == pytest.approx(15.0)

        await until(from_reading, "a plan from the SoC reading", 60.0)
