"""V2X in the CSMS (2.1 block Q) against stations of the independent ``ocpp`` package: allowed energy transfer
in the Authorize answer (Q01), NotifyAllowedEnergyTransfer and AFRRSignal from the API (Q02, Q08), a central
setpoint TxProfile (Q03), the EV's V2X parameters and the energy exported in the transaction's view."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import ocpp.v21
from ocpp.routing import on

from chargeplane.csms.blocks.smart_charging.service import EvRequest, StoredProfile
from chargeplane.csms.blocks.v2x.service import V2xService
from chargeplane.ocpp.versions import Version
from tests.csms.blocks.transactions.test_transactions import add_token, at, only_transaction, tx_event
from tests.csms.conftest import RunningCsms
from tests.csms.peers import boot, peer

result = ocpp.v21.call_result
call = ocpp.v21.call


class V2xStation(ocpp.v21.ChargePoint):  # type: ignore[misc]
    """Answers the CSMS's V2X calls and remembers them."""

    received: list[tuple[str, dict[str, Any]]]
    afrr_status = "Rejected"

    @on("NotifyAllowedEnergyTransfer")  # type: ignore[misc]
    async def on_allowed(self, **payload: Any) -> Any:
        self.received.append(("NotifyAllowedEnergyTransfer", payload))
        return result.NotifyAllowedEnergyTransfer(status="Accepted")

    @on("AFRRSignal")  # type: ignore[misc]
    async def on_afrr(self, **payload: Any) -> Any:
        self.received.append(("AFRRSignal", payload))
        return result.AFRRSignal(status="Rejected", status_info={"reason_code": "NoSignalWattCurve"})

    @on("SetChargingProfile")  # type: ignore[misc]
    async def on_profile(self, **payload: Any) -> Any:
        self.received.append(("SetChargingProfile", payload))
        return result.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")  # type: ignore[misc]
    async def on_clear(self, **payload: Any) -> Any:
        self.received.append(("ClearChargingProfile", payload))
        return result.ClearChargingProfile(status="Accepted")


def v2x_station(station_id: str) -> Any:
    class Station(V2xStation):
        received: list[tuple[str, dict[str, Any]]] = []  # noqa: RUF012  (one list per test's class)

    return Station


async def connected(csms: RunningCsms, station_id: str, version: str = "2.1") -> Any:
    await csms.add_station(station_id)
    return peer(csms.ocpp_url, station_id, version, station_class=v2x_station(station_id))


async def api(csms: RunningCsms, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return await csms.api.request(method, f"/api/v1{path}", json=body, headers=csms.auth)


def of(station: Any, action: str) -> list[dict[str, Any]]:
    return [payload for name, payload in station.received if name == action]


def authorize(token: str) -> Any:
    return call.Authorize(id_token={"id_token": token, "type": "ISO14443"})


async def test_Q01_FR_01_FR_08_allowed_energy_transfer_per_token_else_per_station(csms: RunningCsms) -> None:
    await add_token(csms, "V2X-1")
    await add_token(csms, "PLAIN")
    both = {"allowedEnergyTransfer": ["AC_three_phase", "AC_BPT"]}
    assert (await api(csms, "PUT", "/v2x/allowed/token/V2X-1", both)).status_code == 200
    bad = await api(csms, "PUT", "/v2x/allowed/token/V2X-1", {"allowedEnergyTransfer": ["Teleport"]})
    assert bad.status_code == 400
    async with await connected(csms, "VX1") as station:
        await boot(station, "2.1")
        answer = await station.call(authorize("V2X-1"))
        assert answer.allowed_energy_transfer == ["AC_three_phase", "AC_BPT"]
        assert (await station.call(authorize("PLAIN"))).allowed_energy_transfer is None  # Q01.FR.08
        station_list = {"allowedEnergyTransfer": ["AC_three_phase"]}
        assert (await api(csms, "PUT", "/v2x/allowed/station/VX1", station_list)).status_code == 200
        assert (await station.call(authorize("PLAIN"))).allowed_energy_transfer == ["AC_three_phase"]
    listed = (await api(csms, "GET", "/v2x/allowed")).json()
    assert {(r["scope"], r["subject"]) for r in listed} == {("token", "V2X-1"), ("station", "vx1")}
    assert (await api(csms, "DELETE", "/v2x/allowed/token/V2X-1")).status_code == 200
    assert (await api(csms, "DELETE", "/v2x/allowed/token/V2X-1")).status_code == 404


async def test_Q02_Q03_session_view_allowed_transfer_and_central_setpoint(csms: RunningCsms) -> None:
    await add_token(csms, "V2X-2")
    await api(csms, "PUT", "/v2x/allowed/token/V2X-2", {"allowedEnergyTransfer": ["AC_three_phase"]})
    token = {"id_token": "V2X-2", "type": "ISO14443"}
    async with await connected(csms, "VX2") as station:
        await boot(station, "2.1")
        await station.call(
            tx_event(
                "2.1",
                "Started",
                0,
                0,
                trigger="Authorized",
                evse={"id": 1, "connector_id": 1},
                id_token=token,
            )
        )
        key = (await only_transaction(csms, "VX2"))["transaction"]["id"]
        needs = {
            "requested_energy_transfer": "AC_three_phase",
            "available_energy_transfer": ["AC_three_phase", "AC_BPT"],
            "v2x_charging_parameters": {"max_discharge_power": 7000.0, "max_charge_power": 11000.0},
            "control_mode": "DynamicControl",
        }
        answer = await station.call(call.NotifyEVChargingNeeds(evse_id=1, charging_needs=needs))
        assert answer.status in ("Accepted", "Processing")

        setpoint = {"profileId": 77, "periods": [{"startPeriod": 0, "setpoint": -4000.0}]}
        refused = await api(csms, "POST", f"/transactions/{key}/v2x/setpoint", setpoint)
        assert refused.status_code == 409  # only charging allowed so far

        body = {"transactionId": "TX-1", "allowedEnergyTransfer": ["AC_three_phase", "AC_BPT"]}
        sent = await api(csms, "POST", "/stations/VX2/v2x/allowed-energy-transfer", body)
        assert sent.json() == {"status": "Accepted", "reasonCode": None}
        assert of(station, "NotifyAllowedEnergyTransfer") == [
            {"transaction_id": "TX-1", "allowed_energy_transfer": ["AC_three_phase", "AC_BPT"]}
        ]

        out = await api(csms, "POST", f"/transactions/{key}/v2x/setpoint", setpoint)
        assert out.status_code == 200, out.text
        assert out.json()["status"] == "Accepted"
        # the K15 answer to the needs may send a TxProfile of its own meanwhile: ours is id 77
        [payload] = [p for p in of(station, "SetChargingProfile") if p["charging_profile"]["id"] == 77]
        period = payload["charging_profile"]["charging_schedule"][0]["charging_schedule_period"][0]
        assert period == {"start_period": 0, "operation_mode": "CentralSetpoint", "setpoint": -4000.0}
        assert "limit" not in period  # Q03.FR.02
        # only the K15 offer (a TxProfile above ours without a V2X period) is cleared, never ours
        offers = {p["charging_profile"]["id"] for p in of(station, "SetChargingProfile")} - {77}
        cleared = {p["charging_profile_id"] for p in of(station, "ClearChargingProfile")}
        assert cleared <= offers

        late = {"profileId": 78, "periods": [{"startPeriod": 60, "setpoint": 1000.0}]}  # no period at 0
        assert (await api(csms, "POST", f"/transactions/{key}/v2x/setpoint", late)).status_code == 422

        for seq, (seconds, export) in enumerate(((10, 100.0), (20, 350.0)), start=1):
            samples = [
                {"value": export, "measurand": "Energy.Active.Export.Register"},
                {"value": -4000.0, "measurand": "Power.Active.Import"},
            ]
            await station.call(
                tx_event(
                    "2.1",
                    "Updated",
                    seq,
                    seconds,
                    meter_value=[{"timestamp": at(seconds), "sampled_value": samples}],
                )
            )
        view = (await api(csms, "GET", f"/transactions/{key}/v2x")).json()
        assert view["energyExportedWh"] == 250.0
        assert view["powerW"] == -4000.0
        assert view["allowedEnergyTransfer"] == ["AC_three_phase", "AC_BPT"]
        assert view["requestedEnergyTransfer"] == "AC_three_phase"
        assert view["v2xChargingParameters"]["maxDischargePower"] == 7000.0
    assert (await api(csms, "GET", "/transactions/999999/v2x")).status_code == 404


async def test_Q08_afrr_signal_goes_out_and_V2X_is_21_only(csms: RunningCsms) -> None:
    async with await connected(csms, "VX3") as station:
        await boot(station, "2.1")
        answer = await api(csms, "POST", "/stations/VX3/v2x/afrr-signal", {"timestamp": at(0), "signal": -1})
        assert answer.json() == {"status": "Rejected", "reasonCode": "NoSignalWattCurve"}
        assert of(station, "AFRRSignal") == [{"timestamp": at(0), "signal": -1}]
    async with await connected(csms, "VX4", "2.0.1") as old:
        await boot(old, "2.0.1")
        refused = await api(csms, "POST", "/stations/VX4/v2x/afrr-signal", {"timestamp": at(0), "signal": 1})
        assert refused.status_code == 422


async def test_Q01_FR_04_FR_07_a_bidirectional_request_is_accepted_only_when_allowed(
    csms: RunningCsms,
) -> None:
    await add_token(csms, "V2X-5")
    await api(
        csms, "PUT", "/v2x/allowed/token/V2X-5", {"allowedEnergyTransfer": ["AC_three_phase", "AC_BPT"]}
    )
    token = {"id_token": "V2X-5", "type": "ISO14443"}
    async with await connected(csms, "VX5") as station:
        await boot(station, "2.1")
        bpt = {
            "requested_energy_transfer": "AC_BPT",
            "v2x_charging_parameters": {"max_discharge_power": 5000.0},
        }
        await station.call(
            tx_event("2.1", "Started", 0, 0, evse={"id": 1, "connector_id": 1}, id_token=token)
        )
        answer = await station.call(call.NotifyEVChargingNeeds(evse_id=1, charging_needs=bpt))
        assert answer.status in ("Accepted", "Processing")  # Q01.FR.07
        other = {"id_token": "NOBODY", "type": "ISO14443"}
        await station.call(
            tx_event(
                "2.1",
                "Started",
                0,
                1,
                transaction_id="TX-2",
                evse={"id": 2, "connector_id": 1},
                id_token=other,
            )
        )
        refused = await station.call(call.NotifyEVChargingNeeds(evse_id=2, charging_needs=bpt))
        assert refused.status == "Rejected"  # Q01.FR.04


async def test_a_station_list_needs_a_registered_station(csms: RunningCsms) -> None:
    body = {"allowedEnergyTransfer": ["AC_BPT"]}
    assert (await api(csms, "PUT", "/v2x/allowed/station/NOBODY", body)).status_code == 404


def _stored(transaction_id: str, purpose: str, *modes: str) -> StoredProfile:
    periods = [{"startPeriod": 60 * i, "limit": 8000.0, "operationMode": m} for i, m in enumerate(modes)]
    profile = {"id": 7, "chargingSchedule": [{"id": 1, "chargingSchedulePeriod": periods}]}
    at_ = datetime(2026, 12, 7, tzinfo=UTC)
    return StoredProfile(
        7, 1, purpose, 1, transaction_id, None, None, "2.1", profile, "Accepted", None, "csms", at_
    )


def test_Q03_Q04_a_V2X_TxProfile_in_force_keeps_the_transactions_schedule() -> None:
    """The v2x block's schedule keeper: the smart charging block offers no TxProfile for new EV needs (K17/K20)
    while the transaction holds a TxProfile with a V2X period."""
    request = EvRequest("CS1", Version.V21, 1, "TX1", None, {"controlMode": "DynamicControl"})
    keeps = V2xService.keeps_schedule
    assert keeps(request, [_stored("TX1", "TxProfile", "ChargingOnly", "CentralSetpoint")])
    assert not keeps(request, [])
    assert not keeps(request, [_stored("TX1", "TxProfile", "ChargingOnly")])  # the CSMS's own offer
    assert not keeps(request, [_stored("TX2", "TxProfile", "CentralSetpoint")])  # another transaction's
    assert not keeps(request, [_stored("TX1", "TxDefaultProfile", "CentralSetpoint")])
