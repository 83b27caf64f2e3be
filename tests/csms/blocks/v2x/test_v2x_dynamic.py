"""V2X with a dynamic CSMS setpoint on the CSMS (2.1 Q04, Q07), driven by an ``ocpp`` (PyPI) 2.1 station:
the dynamic-schedules API sends setpoints to a Dynamic profile's V2X period and refuses what the period's
operation mode does not take (Q03.FR.02, V2X.05); an EMS's control notified by the station shows in the
transaction's V2X view (Q06)."""

from __future__ import annotations

from typing import Any

from ocpp.v21 import call

from tests.csms.blocks.smart_charging.test_dynamic_priority import _json, booted, module
from tests.csms.blocks.transactions.test_transactions import add_token, only_transaction, tx_event
from tests.csms.blocks.v2x.test_v2x import api, connected
from tests.csms.conftest import RunningCsms
from tests.csms.peers import boot


def v2x_dynamic(profile_id: int, mode: str, **period: Any) -> dict[str, Any]:
    return {
        "id": profile_id,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Dynamic",
        "dynUpdateInterval": 60,
        "chargingSchedule": [
            {
                "id": 1,
                "chargingRateUnit": "W",
                "duration": 300,
                "chargingSchedulePeriod": [{"startPeriod": 0, "operationMode": mode, **period}],
            }
        ],
    }


async def test_Q04_central_setpoint_pushed_with_UpdateDynamicSchedule_and_pulled(csms: RunningCsms) -> None:
    async with booted(csms, "QD1") as station:
        answer = await _json(
            csms,
            "POST",
            "/stations/QD1/charging-profiles",
            json={"evseId": 1, "chargingProfile": v2x_dynamic(51, "CentralSetpoint", setpoint=-2000.0)},
        )
        assert answer["status"] == "Accepted"
        pushed = await _json(
            csms,
            "PUT",
            "/stations/QD1/dynamic-schedules/51",
            json={"scheduleUpdate": {"setpoint": 4000.0, "setpointReactive": 500.0}},
        )
        assert pushed["status"] == "Accepted"
        assert station.updates == [{"id": 51, "setpoint": 4000.0, "setpoint_reactive": 500.0}]
        [profile] = await _json(csms, "GET", "/stations/QD1/charging-profiles")
        period = profile["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]
        assert (period["operationMode"], period["setpoint"]) == ("CentralSetpoint", 4000.0)
        # stored only: the station's next pull gets it (Q04 scenario 2)
        await _json(
            csms,
            "PUT",
            "/stations/QD1/dynamic-schedules/51",
            json={"scheduleUpdate": {"setpoint": -1500.0}, "send": False},
        )
        pulled = await station.call(module.call.PullDynamicScheduleUpdate(charging_profile_id=51))
        assert (pulled.status, pulled.schedule_update) == ("Accepted", {"setpoint": -1500.0})


async def test_Q03_FR_02_Q04_Q07_no_limits_for_a_central_period_and_V2X_05_refused_with_400(
    csms: RunningCsms,
) -> None:
    async with booted(csms, "QD2") as station:
        for profile_id, mode in ((52, "CentralSetpoint"), (53, "CentralFrequency")):
            profile = v2x_dynamic(profile_id, mode, setpoint=1000.0)
            profile["stackLevel"] = profile_id - 52
            await _json(
                csms,
                "POST",
                "/stations/QD2/charging-profiles",
                json={"evseId": 1, "chargingProfile": profile},
            )
            refused = await _json(
                csms,
                "PUT",
                f"/stations/QD2/dynamic-schedules/{profile_id}",
                400,
                json={"scheduleUpdate": {"setpoint": 1000.0, "dischargeLimit": -3000.0}},
            )
            assert "dischargeLimit" in refused["detail"]
        external = v2x_dynamic(54, "ExternalSetpoint", limit=5000.0, dischargeLimit=-5000.0)
        external["stackLevel"] = 2
        await _json(
            csms, "POST", "/stations/QD2/charging-profiles", json={"evseId": 1, "chargingProfile": external}
        )
        outside = await _json(
            csms,
            "PUT",
            "/stations/QD2/dynamic-schedules/54",
            400,
            json={"scheduleUpdate": {"setpoint": 9000.0}},
        )
        assert "InvalidSchedule" in outside["detail"]  # V2X.05: above the period's limit
        assert station.updates == []


async def test_Q06_FR_11_12_the_EMS_setpoint_notified_by_the_station_shows_in_the_transaction_view(
    csms: RunningCsms,
) -> None:
    await add_token(csms, "V2X-Q6")
    token = {"id_token": "V2X-Q6", "type": "ISO14443"}
    async with await connected(csms, "QD3") as station:
        await boot(station, "2.1")
        started = tx_event(
            "2.1", "Started", 0, 0, trigger="Authorized", evse={"id": 1, "connector_id": 1}, id_token=token
        )
        await station.call(started)
        key = (await only_transaction(csms, "QD3"))["transaction"]["id"]
        assert (await api(csms, "GET", f"/transactions/{key}/v2x")).json()["externalControl"] is None
        schedule = {
            "id": 1,
            "charging_rate_unit": "W",
            "charging_schedule_period": [
                {"start_period": 0, "operation_mode": "ExternalSetpoint", "setpoint": -2500.0}
            ],
        }
        notice = call.NotifyChargingLimit(
            charging_limit={"charging_limit_source": "EMS"}, evse_id=0, charging_schedule=[schedule]
        )
        await station.call(notice)
        view = (await api(csms, "GET", f"/transactions/{key}/v2x")).json()["externalControl"]
        assert (view["source"], view["evseId"], view["operationMode"]) == ("EMS", 0, "ExternalSetpoint")
        assert view["period"] == {"operationMode": "ExternalSetpoint", "setpoint": -2500.0}
        stored = await _json(
            csms, "GET", "/stations/QD3/charging-limits", params={"message": "NotifyChargingLimit"}
        )
        assert stored["items"][0]["source"] == "EMS"  # kept with its schedule
        await station.call(call.ClearedChargingLimit(charging_limit_source="EMS", evse_id=0))
        assert (await api(csms, "GET", f"/transactions/{key}/v2x")).json()["externalControl"] is None
