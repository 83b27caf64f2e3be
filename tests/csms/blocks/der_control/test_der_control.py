"""DER control on the CSMS side (2.1 R04, R05) against peer stations of the ``ocpp`` package: set, query and
clear from the API, reports assembled per requestId, alarms and start/stop notices stored, DER settings per
site applied to the site's 2.1 stations (now and on boot), an EV's derChargingParameters kept per transaction
(R02.FR.01); 2.0.1 has no DER control; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from ocpp.routing import after, on

from chargeplane.csms.blocks.der_control.handlers import flatten
from chargeplane.csms.blocks.der_control.settings import DerControlSettings
from chargeplane.ocpp.messages import v21
from tests.csms.blocks.smart_charging.test_dynamic_priority import started
from tests.csms.conftest import RunningCsms, running, settings_for
from tests.csms.peers import MODULES, boot, peer

V21 = MODULES["2.1"]
VOLT_WATT = {"priority": 1, "yUnit": "PctMaxW", "curveData": [{"x": 100, "y": 100}, {"x": 110, "y": 20}]}
SUPPORTED = {"VoltWatt", "VoltVar", "LimitMaxDischarge"}


class DerStation(V21.ChargePoint):  # type: ignore[misc,name-defined]
    """Keeps DER controls like a station: three types supported, reports two a part."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.controls: dict[str, dict[str, Any]] = {}

    @on("SetChargingProfile")
    def set_charging_profile(self, **_: Any) -> Any:  # the sites block's fallback profiles
        return V21.call_result.SetChargingProfile(status="Accepted")

    @on("SetDERControl")
    def set_der_control(self, is_default: bool, control_id: str, control_type: str, **setting: Any) -> Any:
        if control_type not in SUPPORTED:
            return V21.call_result.SetDERControl(status="NotSupported")
        [(name, value)] = [(k, v) for k, v in setting.items() if k != "custom_data"]
        superseded = [
            k
            for k, c in self.controls.items()
            if c["type"] == control_type and c["default"] == is_default and c["priority"] > value["priority"]
        ]
        self.controls[control_id] = {
            "type": control_type,
            "default": is_default,
            "name": name,
            "setting": value,
            "priority": value["priority"],
        }
        return V21.call_result.SetDERControl(status="Accepted", superseded_ids=superseded or None)

    def _matching(
        self, is_default: Any, control_type: Any, control_id: Any
    ) -> list[tuple[str, dict[str, Any]]]:
        return [
            (k, c)
            for k, c in sorted(self.controls.items())
            if (is_default is None or c["default"] == is_default)
            and (control_type is None or c["type"] == control_type)
            and (control_id is None or k == control_id)
        ]

    @on("GetDERControl")
    def get_der_control(
        self, request_id: int, is_default: Any = None, control_type: Any = None, control_id: Any = None
    ) -> Any:
        found = self._matching(is_default, control_type, control_id)
        return V21.call_result.GetDERControl(status="Accepted" if found else "NotFound")

    @after("GetDERControl")
    async def report(
        self, request_id: int, is_default: Any = None, control_type: Any = None, control_id: Any = None
    ) -> None:
        found = self._matching(is_default, control_type, control_id)
        parts = [found[i : i + 2] for i in range(0, len(found), 2)]
        for index, part in enumerate(parts):
            curves = [
                {
                    "id": k,
                    "curve_type": c["type"],
                    "is_default": c["default"],
                    "is_superseded": False,
                    "curve": c["setting"],
                }
                for k, c in part
                if c["name"] == "curve"
            ]
            limits = [
                {
                    "id": k,
                    "is_default": c["default"],
                    "is_superseded": False,
                    "limit_max_discharge": c["setting"],
                }
                for k, c in part
                if c["name"] == "limit_max_discharge"
            ]
            await self.call(
                V21.call.ReportDERControl(
                    request_id=request_id,
                    curve=curves or None,
                    limit_max_discharge=limits or None,
                    tbc=index < len(parts) - 1,
                )
            )

    @on("ClearDERControl")
    def clear_der_control(self, is_default: bool, control_type: Any = None, control_id: Any = None) -> Any:
        found = self._matching(is_default, control_type, control_id)
        for key, _ in found:
            del self.controls[key]
        return V21.call_result.ClearDERControl(
            status="Accepted" if found or not (control_type or control_id) else "NotFound"
        )


async def _json(csms: RunningCsms, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
    response = await csms.api.request(method, f"/api/v1{url}", headers=csms.auth, **kwargs)
    assert response.status_code == status, response.text
    return response.json()


def _control(
    control_id: str, setting: dict[str, Any] | None = None, ctype: str = "VoltWatt"
) -> dict[str, Any]:
    return {"controlId": control_id, "controlType": ctype, "isDefault": True, "setting": setting or VOLT_WATT}


async def _holds(station: DerStation, control_id: str) -> None:
    async with asyncio.timeout(10):
        while True:
            if control_id in station.controls:
                return
            await asyncio.sleep(0.05)


async def _site_state_with(csms: RunningCsms, station_id: str) -> dict[str, Any]:
    """The site's DER state once it lists a control for ``station_id``."""
    async with asyncio.timeout(10):
        while True:
            state: dict[str, Any] = await _json(csms, "GET", "/sites/der-site/der-controls")
            if state["stations"][station_id]:
                return state
            await asyncio.sleep(0.05)


async def _complete(csms: RunningCsms, station_id: str, report_id: int) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            report: dict[str, Any] = await _json(
                csms, "GET", f"/stations/{station_id}/der-controls/reports/{report_id}"
            )
            if report["complete"]:
                return report
            await asyncio.sleep(0.05)


async def test_R04_set_query_clear_against_an_ocpp_peer(csms: RunningCsms) -> None:
    await csms.add_station("DER1")
    async with peer(csms.ocpp_url, "DER1", "2.1", station_class=DerStation) as station:
        await boot(station, "2.1")
        first = await _json(
            csms, "POST", "/stations/DER1/der-controls", json=_control("vw-2", VOLT_WATT | {"priority": 2})
        )
        assert (first["status"], first["supersededIds"]) == ("Accepted", [])
        second = await _json(csms, "POST", "/stations/DER1/der-controls", json=_control("vw-1"))
        assert second["supersededIds"] == ["vw-2"]  # R04.FR.03
        limit = {"priority": 1, "pctMaxDischargePower": 50}
        await _json(
            csms, "POST", "/stations/DER1/der-controls", json=_control("lim", limit, "LimitMaxDischarge")
        )
        refused = await _json(
            csms, "POST", "/stations/DER1/der-controls", json=_control("hf", VOLT_WATT, "HFMayTrip")
        )
        assert refused["status"] == "NotSupported"  # R04.FR.01
        page = await _json(csms, "GET", "/stations/DER1/der-controls")
        held = {c["controlId"]: (c["status"], c["isSuperseded"], c["reported"]) for c in page["items"]}
        assert held["vw-2"] == ("Accepted", True, False)
        assert held["hf"] == ("NotSupported", None, False)
        query = await _json(csms, "POST", "/stations/DER1/der-controls/query", json={})
        report = await _complete(csms, "DER1", query["id"])
        assert report["parts"] == 2  # R04.FR.32: assembled per requestId
        assert sorted(c["id"] for c in report["controls"]) == ["lim", "vw-1", "vw-2"]
        page = await _json(csms, "GET", "/stations/DER1/der-controls")
        assert {c["controlId"] for c in page["items"] if c["reported"]} == {"lim", "vw-1", "vw-2"}
        assert "hf" not in {c["controlId"] for c in page["items"]}  # an unfiltered report replaces the list
        cleared = await _json(
            csms,
            "POST",
            "/stations/DER1/der-controls/clear",
            json={"isDefault": True, "controlType": "VoltWatt"},
        )
        assert cleared["status"] == "Accepted"
        page = await _json(csms, "GET", "/stations/DER1/der-controls")
        assert [c["controlId"] for c in page["items"]] == ["lim"]
        bad = await csms.api.post(
            "/api/v1/stations/DER1/der-controls", json=_control("x", {"priority": -1}), headers=csms.auth
        )
        assert bad.status_code == 422  # the schema refuses the setting


async def test_R05_alarms_and_R04_FR_20_start_stop_are_stored(csms: RunningCsms) -> None:
    await csms.add_station("DER2")
    rule = {"name": "grid", "maxSeverity": 2, "component": "DCDERCtrlr"}
    await _json(csms, "POST", "/alert-rules", 201, json=rule)
    async with peer(csms.ocpp_url, "DER2", "2.1") as station:
        await boot(station, "2.1")
        await station.call(
            V21.call.NotifyDERAlarm(
                control_type="VoltWatt", grid_event_fault="OverVoltage", timestamp="2026-12-07T10:00:00Z"
            )
        )
        await station.call(
            V21.call.NotifyDERAlarm(
                control_type="VoltWatt",
                grid_event_fault="OverVoltage",
                alarm_ended=True,
                timestamp="2026-12-07T10:05:00Z",
            )
        )
        await station.call(
            V21.call.NotifyDERStartStop(
                control_id="s1", started=True, timestamp="2026-12-07T10:00:00Z", superseded_ids=["s0"]
            )
        )
    alarms = await _json(csms, "GET", "/stations/DER2/der-alarms")
    assert [(a["controlType"], a["gridEventFault"], a["alarmEnded"]) for a in alarms["items"]] == [
        ("VoltWatt", "OverVoltage", True),
        ("VoltWatt", "OverVoltage", False),
    ]
    assert (await _json(csms, "GET", "/der-alarms"))["total"] >= 2
    alerts = (await _json(csms, "GET", "/alerts?stationId=DER2"))["items"]
    assert [(a["subject"], a["actualValue"], a["state"], a["closedBy"]) for a in alerts] == [
        (
            "DCDERCtrlr/DERAlarm",
            "VoltWatt/OverVoltage",
            "closed",
            "cleared",
        )  # opened by the alarm, closed by its end
    ]
    notes = await _json(csms, "GET", "/stations/DER2/der-start-stops")
    assert [(n["controlId"], n["started"], n["supersededIds"]) for n in notes["items"]] == [
        ("s1", True, ["s0"])
    ]


async def test_site_DER_settings_applied_now_and_on_boot(csms: RunningCsms) -> None:
    for station_id in ("SITE-A", "SITE-B", "SITE-C"):
        await csms.add_station(station_id)
    evses = [
        {"id": f"n{i}", "stationId": s, "evseId": 1, "limit": 32.0}
        for i, s in enumerate(("SITE-A", "SITE-B", "SITE-C"))
    ]
    await _json(csms, "PUT", "/sites/der-site", json={"id": "grid", "limit": [200.0], "evses": evses})
    async with peer(csms.ocpp_url, "SITE-A", "2.1", station_class=DerStation) as a:
        await boot(a, "2.1")
        async with peer(csms.ocpp_url, "SITE-C", "2.0.1") as c:
            await boot(c, "2.0.1")
            body = {"controlType": "VoltWatt", "isDefault": True, "setting": VOLT_WATT}
            state = await _json(csms, "PUT", "/sites/der-site/der-controls/site-vw", json=body)
        assert [c["controlId"] for c in state["controls"]] == ["site-vw"]
        assert [(x["controlId"], x["status"]) for x in state["stations"]["SITE-A"]] == [
            ("site-vw", "Accepted")
        ]
        assert state["stations"]["SITE-B"] == []  # offline: on its next boot
        assert state["stations"]["SITE-C"] == []  # 2.0.1: no DER control
        assert "site-vw" in a.controls
        async with peer(csms.ocpp_url, "SITE-B", "2.1", station_class=DerStation) as b:
            await boot(b, "2.1")
            await _holds(b, "site-vw")
            # The station holds it as soon as it answered; the CSMS records the answer just after.
            state = await _site_state_with(csms, "SITE-B")
            assert [(x["controlId"], x["siteId"]) for x in state["stations"]["SITE-B"]] == [
                ("site-vw", "der-site")
            ]
            removed = await _json(csms, "DELETE", "/sites/der-site/der-controls/site-vw")
            assert removed["controls"] == []
            assert "site-vw" not in a.controls
            assert "site-vw" not in b.controls
    await _json(csms, "GET", "/sites/nowhere/der-controls", 404)
    bad = {"controlType": "FreqDroop", "isDefault": True, "setting": {"priority": 1}}
    refused = await _json(csms, "PUT", "/sites/der-site/der-controls/bad", 422, json=bad)
    assert "overFreq" in str(refused)  # the schema's complaint, nothing stored
    assert (await _json(csms, "GET", "/sites/der-site/der-controls"))["controls"] == []


async def test_2_0_1_station_has_no_DER_control(csms: RunningCsms) -> None:
    await csms.add_station("DER3")
    async with peer(csms.ocpp_url, "DER3", "2.0.1") as station:
        await boot(station, "2.0.1")
        answer = await _json(csms, "POST", "/stations/DER3/der-controls", 422, json=_control("x"))
    assert "2.0.1" in str(answer)


async def test_site_DER_settings_reach_a_station_added_to_the_site_later(database_url: str) -> None:
    async with running(settings_for(database_url, DerControlSettings(reconcile_interval=0.2))) as csms:
        for station_id in ("LATE-A", "LATE-B"):
            await csms.add_station(station_id)
        evse = {"id": "n0", "stationId": "LATE-A", "evseId": 1, "limit": 32.0}
        await _json(csms, "PUT", "/sites/late", json={"id": "grid", "limit": [100.0], "evses": [evse]})
        body = {"controlType": "VoltWatt", "isDefault": True, "setting": VOLT_WATT}
        await _json(csms, "PUT", "/sites/late/der-controls/late-vw", json=body)
        async with peer(csms.ocpp_url, "LATE-B", "2.1", station_class=DerStation) as b:
            await boot(b, "2.1")
            await asyncio.sleep(0.5)
            assert "late-vw" not in b.controls  # not a station of the site
            evses = [evse, evse | {"id": "n1", "stationId": "LATE-B"}]
            await _json(csms, "PUT", "/sites/late", json={"id": "grid", "limit": [100.0], "evses": evses})
            await _holds(b, "late-vw")  # the periodic pass found it lacking
            b.controls.clear()  # the station forgot it; our record says Accepted: not sent again
            await asyncio.sleep(0.5)
            assert b.controls == {}


def test_R04_FR_31_every_list_of_a_report_is_read_into_one_shape() -> None:
    d = v21.datatypes
    pf = d.FixedPFType(priority=1, displacement=0.9, excitation=True)
    request = v21.messages.ReportDERControlRequest(
        request_id=1,
        curve=[
            d.DERCurveGetType(
                id="c",
                curve_type="VoltVar",
                is_default=True,
                is_superseded=True,
                curve=d.DERCurveType(
                    curve_data=[d.DERCurvePointsType(x=1, y=2)], priority=1, y_unit="PctMaxVar"
                ),
            )
        ],
        enter_service=[
            d.EnterServiceGetType(
                id="e",
                enter_service=d.EnterServiceType(
                    priority=1, high_voltage=110, low_voltage=90, high_freq=50.1, low_freq=49.9
                ),
            )
        ],
        gradient=[
            d.GradientGetType(id="g", gradient=d.GradientType(priority=1, gradient=1, soft_gradient=1))
        ],
        fixed_pf_absorb=[d.FixedPFGetType(id="a", fixed_pf=pf, is_default=False, is_superseded=False)],
        fixed_pf_inject=[d.FixedPFGetType(id="i", fixed_pf=pf, is_default=True, is_superseded=False)],
        fixed_var=[
            d.FixedVarGetType(
                id="v",
                fixed_var=d.FixedVarType(priority=1, setpoint=10, unit="PctMaxVar"),
                is_default=True,
                is_superseded=False,
            )
        ],
        freq_droop=[
            d.FreqDroopGetType(
                id="f",
                freq_droop=d.FreqDroopType(
                    priority=1,
                    over_freq=50.2,
                    under_freq=49.8,
                    over_droop=0.05,
                    under_droop=0.05,
                    response_time=1,
                ),
                is_default=True,
                is_superseded=False,
            )
        ],
        limit_max_discharge=[
            d.LimitMaxDischargeGetType(
                id="l",
                limit_max_discharge=d.LimitMaxDischargeType(priority=1, pct_max_discharge_power=50),
                is_default=True,
                is_superseded=False,
            )
        ],
    )
    found = {(c["id"], c["controlType"], c["isDefault"], c["isSuperseded"]) for c in flatten(request)}
    assert found == {
        ("c", "VoltVar", True, True),
        ("e", "EnterService", True, False),
        ("g", "Gradients", True, False),
        ("a", "FixedPFAbsorb", False, False),
        ("i", "FixedPFInject", True, False),
        ("v", "FixedVar", True, False),
        ("f", "FreqDroop", True, False),
        ("l", "LimitMaxDischarge", True, False),
    }
    assert next(c for c in flatten(request) if c["id"] == "f")["setting"]["overFreq"] == 50.2


async def test_R02_FR_01_an_EVs_der_charging_parameters_are_kept_per_transaction(csms: RunningCsms) -> None:
    await csms.add_station("DEREV")
    allowed = {"allowedEnergyTransfer": ["AC_three_phase", "AC_BPT_DER"]}  # Q01: else the needs are refused
    await _json(csms, "PUT", "/v2x/allowed/station/DEREV", json=allowed)
    async with peer(csms.ocpp_url, "DEREV", "2.1", station_class=DerStation) as station:
        await boot(station, "2.1")
        for transaction_id, supported in (("TX-D1", ["VoltWatt"]), ("TX-D2", ["VoltWatt", "HVMustTrip"])):
            await started(station, transaction_id)
            needs = {
                "requested_energy_transfer": "AC_BPT_DER",
                "control_mode": "DynamicControl",
                "v2x_charging_parameters": {"max_charge_current": 16, "max_discharge_power": 9000},
                "der_charging_parameters": {  # the package's camelCase would write evSupportedDerControl
                    "evSupportedDERControl": supported,
                    "maxDischargeApparentPower": 9000,
                    "evInverterManufacturer": "Peer",
                },
            }
            answer = await station.call(V21.call.NotifyEVChargingNeeds(evse_id=1, charging_needs=needs))
            assert answer.status in ("Accepted", "Processing")  # the DER parameters refuse nothing
            await station.call(
                V21.call.TransactionEvent(
                    event_type="Ended",
                    timestamp="2026-12-07T10:30:00Z",
                    trigger_reason="EVDeparted",
                    seq_no=1,
                    transaction_info={"transaction_id": transaction_id},
                )
            )
    page = await _json(csms, "GET", "/stations/DEREV/der-ev-parameters")
    assert page["total"] == 2
    [one] = (await _json(csms, "GET", "/stations/DEREV/der-ev-parameters?transactionId=TX-D2"))["items"]
    assert (one["transactionId"], one["evseId"], one["energyTransfer"]) == ("TX-D2", 1, "AC_BPT_DER")
    assert one["derChargingParameters"] == {
        "evSupportedDERControl": ["VoltWatt", "HVMustTrip"],
        "maxDischargeApparentPower": 9000,
        "evInverterManufacturer": "Peer",
    }
    await _json(csms, "GET", "/stations/NOPE/der-ev-parameters", 404)
