"""Round trip between OUR 2.1 station runtime and OUR CSMS (in-process, loopback, SQLite), through the HTTP API:
a token allowed a bidirectional transfer (Q01), a central setpoint for its transaction (Q03) makes the station
discharge the simulated EV, and the energy exported shows in the transaction's V2X view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from chargeplane.station.hardware import SimulatedEv
from chargeplane.station.runtime import StationRuntime
from tests.test_end_to_end_limits import CARD, run
from tests.test_end_to_end_tariff import until


async def test_Q01_Q03_our_station_discharges_under_our_csms_central_setpoint(tmp_path: Path) -> None:
    async def scenario(api: httpx.AsyncClient, station: StationRuntime) -> None:
        allowed = {"allowedEnergyTransfer": ["AC_three_phase", "AC_BPT"]}
        assert (await api.put(f"/v2x/allowed/token/{CARD}", json=allowed)).status_code == 200
        ev = SimulatedEv(soc=70.0, max_discharge_w=7000.0)
        station.plug(ev=ev)
        station.present_token(CARD)

        async def active() -> dict[str, Any] | None:
            items: list[dict[str, Any]] = (await api.get("/transactions?station=E2E17")).json()["items"]
            return items[0] if items and items[0]["status"] == "active" else None

        tx = await until(active, "the transaction in the CSMS")
        body = {"profileId": 501, "periods": [{"startPeriod": 0, "setpoint": -6000.0}]}
        answer = await api.post(f"/transactions/{tx['id']}/v2x/setpoint", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "Accepted"

        async def exported() -> dict[str, Any] | None:
            view: dict[str, Any] = (await api.get(f"/transactions/{tx['id']}/v2x")).json()
            return view if view["energyExportedWh"] > 1.0 else None

        view = await until(exported, "energy exported in the CSMS's V2X view")
        assert view["allowedEnergyTransfer"] == ["AC_three_phase", "AC_BPT"]
        assert view["powerW"] == -6000.0
        assert station.hardware.evses[1].energy_export_wh > 1.0
        assert ev.soc < 70.0

    await run(tmp_path, scenario)
