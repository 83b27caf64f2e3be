"""End-to-end smart charging: a CSMS built with the independent ``ocpp`` package (which checks every answer
against the OCA schemas) sets, reads and clears charging profiles on the station runtime, and the simulated
EV's power, as the meter values report it, follows the limit (K01, K08, K10; 1.6 §5.5, §5.7, §5.16)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import ocpp.v16
import ocpp.v21
import pytest

from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.control import execute
from chargeplane.station.runtime import StationRuntime
from tests.station.csms_peer import CsmsBehaviour, call, peer_central_system16, peer_csms, wait_for
from tests.station.test_runtime import running_station

EVERY_SECOND = {("SampledDataCtrlr", "TxUpdatedInterval", None): "1"}
EV_MAX_W = 11_000.0  # SimulatedEv's default maximum: the limit must cut below it to show


def powers(messages: list[dict[str, Any]]) -> list[float]:
    """Power.Active.Import of every meter value the CSMS received, in order."""
    found = []
    for message in messages:
        for value in message.get("meter_value", []):
            for sample in value.get("sampled_value", []):
                if sample.get("measurand") == "Power.Active.Import":
                    found.append(float(sample["value"]))
    return found


def limited(messages: list[dict[str, Any]], watts: float) -> bool:
    values = powers(messages)
    return bool(values) and abs(values[-1] - watts) < 1.0


async def charging(
    behaviour: CsmsBehaviour, station: StationRuntime, token: str
) -> Callable[[], list[dict[str, Any]]]:
    """Plug in and authorize EVSE 1; once the EV draws its full power, the TransactionEvents received."""
    await wait_for(lambda: behaviour.of("StatusNotification"))
    station.plug(1)
    station.present_token(token)

    def tx_events() -> list[dict[str, Any]]:
        return behaviour.of("TransactionEvent")

    await wait_for(lambda: limited(tx_events(), EV_MAX_W), within=5)
    return tx_events


async def test_K01_K08_K10_ocpp201_csms_limits_the_station_and_the_meter_values_follow() -> None:
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour) as url, running_station(url, variables=EVERY_SECOND) as station:
        tx_events = await charging(behaviour, station, "SC1")
        csms = behaviour.stations[0]
        schedule = {
            "id": 1,
            "start_schedule": to_wire(datetime.now(UTC) - timedelta(seconds=1)),
            "charging_rate_unit": "A",
            "charging_schedule_period": [{"start_period": 0, "limit": 6.0}],
        }
        tx_default = {
            "id": 11,
            "stack_level": 0,
            "charging_profile_purpose": "TxDefaultProfile",
            "charging_profile_kind": "Absolute",
            "charging_schedule": [schedule],
        }
        answer = await csms.call(call.SetChargingProfile(evse_id=0, charging_profile=tx_default))
        assert answer.status == "Accepted"
        unknown = await csms.call(call.SetChargingProfile(evse_id=5, charging_profile=tx_default))
        assert (unknown.status, unknown.status_info["reason_code"]) == (
            "Rejected",
            "UnknownEVSE",
        )  # K01.FR.28
        composite = await csms.call(
            call.GetCompositeSchedule(duration=300, evse_id=1, charging_rate_unit="A")
        )
        assert composite.status == "Accepted"
        assert composite.schedule["charging_schedule_period"][0]["limit"] == 6.0
        rejected = await csms.call(call.GetCompositeSchedule(duration=300, evse_id=4))
        assert rejected.status == "Rejected"
        listed = await csms.call(
            call.GetChargingProfiles(request_id=7, charging_profile={"charging_profile_id": [11]})
        )
        assert listed.status == "Accepted"
        await wait_for(lambda: behaviour.of("ReportChargingProfiles"))
        [report] = behaviour.of("ReportChargingProfiles")  # K09.FR.01
        assert (report["request_id"], report["evse_id"], report["charging_profile"][0]["id"]) == (7, 0, 11)
        await wait_for(lambda: limited(tx_events(), 6 * 230 * 3), within=5)  # 4140 W: the EV obeys
        cleared = await csms.call(call.ClearChargingProfile(charging_profile_id=11))
        assert cleared.status == "Accepted"
        await wait_for(lambda: limited(tx_events(), EV_MAX_W), within=5)
        again = await csms.call(call.ClearChargingProfile(charging_profile_id=11))
        assert again.status == "Unknown"


async def test_ocpp16_central_system_limits_the_charge_point_and_the_meter_values_follow() -> None:
    behaviour = CsmsBehaviour()
    call16 = ocpp.v16.call
    async with (
        peer_central_system16(behaviour) as url,
        running_station(url, version=Version.V16, variables=EVERY_SECOND) as station,
    ):
        await wait_for(lambda: behaviour.of("StatusNotification"))
        station.plug(1)
        station.present_token("SC16")
        await wait_for(lambda: behaviour.of("StartTransaction"))
        meter_values = lambda: behaviour.of("MeterValues")  # noqa: E731
        await wait_for(lambda: limited(meter_values(), EV_MAX_W), within=5)
        csms = behaviour.stations[0]
        profile = {
            "charging_profile_id": 3,
            "stack_level": 0,
            "charging_profile_purpose": "TxProfile",
            "charging_profile_kind": "Relative",
            "charging_schedule": {
                "charging_rate_unit": "W",
                "charging_schedule_period": [{"start_period": 0, "limit": 5000.0}],
            },
        }
        answer = await csms.call(call16.SetChargingProfile(connector_id=1, cs_charging_profiles=profile))
        assert answer.status == "Accepted"
        max_on_1 = dict(
            profile, charging_profile_purpose="ChargePointMaxProfile", charging_profile_kind="Absolute"
        )
        refused = await csms.call(call16.SetChargingProfile(connector_id=1, cs_charging_profiles=max_on_1))
        assert refused.status == "Rejected"
        composite = await csms.call(
            call16.GetCompositeSchedule(connector_id=1, duration=120, charging_rate_unit="W")
        )
        assert composite.status == "Accepted"
        assert composite.charging_schedule["charging_schedule_period"][0]["limit"] == 5000.0
        await wait_for(lambda: limited(meter_values(), 5000.0), within=5)
        cleared = await csms.call(call16.ClearChargingProfile(id=3))
        assert cleared.status == "Accepted"
        await wait_for(lambda: limited(meter_values(), EV_MAX_W), within=5)


async def test_K01_K08_ocpp21_csms_sets_a_profile_and_reads_the_composite() -> None:
    behaviour = CsmsBehaviour()
    call21 = ocpp.v21.call
    async with (
        peer_csms(behaviour, "ocpp2.1") as url,
        running_station(url, version=Version.V21, variables=EVERY_SECOND) as station,
    ):
        tx_events = await charging(behaviour, station, "SC21")
        csms = behaviour.stations[0]
        station_max = {
            "id": 21,
            "stack_level": 0,
            "charging_profile_purpose": "ChargingStationMaxProfile",
            "charging_profile_kind": "Absolute",
            "charging_schedule": [
                {
                    "id": 1,
                    "start_schedule": to_wire(datetime.now(UTC) - timedelta(seconds=1)),
                    "charging_rate_unit": "W",
                    "charging_schedule_period": [{"start_period": 0, "limit": 3000.0}],
                }
            ],
        }
        answer = await csms.call(call21.SetChargingProfile(evse_id=0, charging_profile=station_max))
        assert answer.status == "Accepted"
        composite = await csms.call(
            call21.GetCompositeSchedule(duration=60, evse_id=1, charging_rate_unit="W")
        )
        assert composite.status == "Accepted"
        assert composite.schedule["charging_schedule_period"][0]["limit"] == 3000.0
        await wait_for(lambda: limited(tx_events(), 3000.0), within=5)


async def test_K11_the_console_limit_command_caps_the_ev_and_the_csms_is_notified() -> None:
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour) as url, running_station(url, variables=EVERY_SECOND) as station:
        tx_events = await charging(behaviour, station, "EMS1")
        await execute(station, "limit 1 2500")
        await wait_for(lambda: limited(tx_events(), 2500.0), within=5)
        [notify] = behaviour.of("NotifyChargingLimit")
        assert (notify["evse_id"], notify["charging_limit"]["charging_limit_source"]) == (1, "EMS")
        assert any(e["trigger_reason"] == "ChargingRateChanged" for e in tx_events())
        shown: list[str] = []
        await execute(station, "status", shown.append)
        assert "limit=2500W" in shown[0]
        await execute(station, "limit 1 off")
        await wait_for(lambda: behaviour.of("ClearedChargingLimit"))
        await wait_for(lambda: limited(tx_events(), EV_MAX_W), within=5)
        with pytest.raises(ValueError, match="watts"):
            await execute(station, "limit 1 lots")
