"""Tariffs and cost on the CSMS side (2.0.1 I01-I03, I06; 2.1 I07-I12) against peer stations of the ``ocpp``
package: tariffs in the API, the tariff text at Authorize, running cost (CostUpdated, TransactionEvent answers),
the final totalCost, the receipt, the 2.1 local-cost commands and a station's costDetails checked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from ocpp.routing import on

from chargeplane.csms.blocks.authorization.service import AuthorizationService
from chargeplane.csms.blocks.tariffs.repository import TariffRepository
from chargeplane.csms.blocks.tariffs.service import TariffService
from chargeplane.csms.blocks.tariffs.settings import TariffsSettings, TariffText
from chargeplane.csms.blocks.transactions.fold import EventFacts
from chargeplane.csms.blocks.transactions.service import EventOutcome
from chargeplane.csms.bus.events import EventBus
from chargeplane.csms.clock import ManualClock
from tests.csms.conftest import RunningCsms, running, settings_for
from tests.csms.peers import MODULES, boot, peer

T0 = datetime(2026, 12, 7, 17, 30, tzinfo=UTC)

OFFICE_TARIFF = {
    "tariffId": "office",
    "currency": "EUR",
    "description": [{"format": "UTF8", "content": "0.40 EUR/kWh 08-18h, else 0.25"}],
    "energy": {
        "prices": [
            {"priceKwh": 0.40, "conditions": {"startTimeOfDay": "08:00", "endTimeOfDay": "18:00"}},
            {"priceKwh": 0.25},
        ],
        "taxRates": [{"type": "vat", "tax": 10}],
    },
}
FLAT_TARIFF = {"tariffId": "flat", "currency": "EUR", "energy": {"prices": [{"priceKwh": 0.30}]}}


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


@pytest.fixture
async def csms(database_url: str) -> AsyncIterator[RunningCsms]:
    settings = TariffsSettings(cost_updated_interval=30, tariff_text=TariffText.ALWAYS)
    async with running(settings_for(database_url, settings)) as running_csms:
        yield running_csms


async def _json(csms: RunningCsms, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
    response = await csms.api.request(method, f"/api/v1{url}", headers=csms.auth, **kwargs)
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def station_class(version: str) -> Any:
    module = MODULES[version]

    class Station(module.ChargePoint):  # type: ignore[misc,name-defined]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.costs: list[tuple[float, str]] = []
            self.tariffs: dict[str, Any] = {}

        @on("CostUpdated")
        def cost_updated(self, total_cost: float, transaction_id: str, **_: Any) -> Any:
            self.costs.append((total_cost, transaction_id))
            return module.call_result.CostUpdated()

        if version == "2.1":

            @on("SetDefaultTariff")
            def set_default_tariff(self, evse_id: int, tariff: dict[str, Any], **_: Any) -> Any:
                if tariff["tariff_id"] in self.tariffs:
                    return module.call_result.SetDefaultTariff(status="DuplicateTariffId")
                self.tariffs[tariff["tariff_id"]] = tariff
                return module.call_result.SetDefaultTariff(status="Accepted")

            @on("ChangeTransactionTariff")
            def change_tariff(self, transaction_id: str, tariff: dict[str, Any], **_: Any) -> Any:
                return module.call_result.ChangeTransactionTariff(status="Accepted")

    return Station


def meter(seconds: float, wh: float) -> list[dict[str, Any]]:
    return [
        {
            "timestamp": at(seconds),
            "sampled_value": [
                {"value": wh, "measurand": "Energy.Active.Import.Register", "unit_of_measure": {"unit": "Wh"}}
            ],
        }
    ]


def event(version: str, kind: str, seq: int, seconds: float, wh: float, **fields: Any) -> Any:
    return MODULES[version].call.TransactionEvent(
        event_type=kind,
        timestamp=at(seconds),
        trigger_reason=fields.pop("trigger", "MeterValuePeriodic"),
        seq_no=seq,
        transaction_info={"transaction_id": "TX-1", "charging_state": "Charging"} | fields.pop("info", {}),
        evse={"id": 1, "connector_id": 1},
        meter_value=meter(seconds, wh),
        **fields,
    )


async def test_tariff_crud_default_and_refusals(csms: RunningCsms) -> None:
    created = await _json(
        csms, "POST", "/tariffs", 201, json={"tariff": OFFICE_TARIFF, "default": True, "groups": ["FLEET"]}
    )
    assert created["default"]
    assert created["groups"] == ["FLEET"]
    assert created["currency"] == "EUR"
    await _json(csms, "POST", "/tariffs", 409, json={"tariff": OFFICE_TARIFF})
    power = {**FLAT_TARIFF, "energy": {"prices": [{"priceKwh": 1, "conditions": {"maxPower": 11000}}]}}
    refused = await _json(csms, "POST", "/tariffs", 400, json={"tariff": power})
    assert "maxPower" in str(refused) or "max_power" in str(refused)
    await _json(csms, "POST", "/tariffs", 400, json={"tariff": {"tariffId": "x"}})
    await _json(
        csms, "POST", "/tariffs", 201, json={"tariff": FLAT_TARIFF, "default": True, "idTokens": ["T1"]}
    )
    assert (await _json(csms, "GET", "/tariffs/office"))["default"] is False  # one default only
    page = await _json(csms, "GET", "/tariffs")
    assert [t["tariffId"] for t in page["items"]] == ["flat", "office"]
    await _json(csms, "PUT", "/tariffs/flat", 400, json={"tariff": OFFICE_TARIFF})  # id differs
    await _json(csms, "DELETE", "/tariffs/flat", 204)
    await _json(csms, "GET", "/tariffs/flat", 404)
    await _json(csms, "GET", "/transactions/999/cost", 404)


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_TC_I_02_CSMS_I01_I02_I03_driver_tariff_running_and_final_cost(
    csms: RunningCsms, version: str
) -> None:
    await csms.app.blocks.require(AuthorizationService).create_token(
        {"id_token": "TAG-1", "type": "ISO14443", "status": "Accepted", "local_list": False}
    )
    await _json(csms, "POST", "/tariffs", 201, json={"tariff": OFFICE_TARIFF, "idTokens": ["TAG-1"]})
    await _json(csms, "POST", "/tariffs", 201, json={"tariff": FLAT_TARIFF, "default": True})
    await csms.add_station("CS1")
    module = MODULES[version]
    async with peer(csms.ocpp_url, "CS1", version, station_class=station_class(version)) as station:
        await boot(station, version)
        token = {"id_token": "TAG-1", "type": "ISO14443"}
        answer = await station.call(module.call.Authorize(id_token=token))
        # I01.FR.01: the driver's tariff text
        assert answer.id_token_info["personal_message"]["content"] == "0.40 EUR/kWh 08-18h, else 0.25"
        started = await station.call(
            event(version, "Started", 0, 0, 1000, id_token=token, trigger="Authorized")
        )
        assert started.total_cost is None
        updated = await station.call(event(version, "Updated", 1, 1800, 7000))
        # I02 (alternative): 6 kWh at 0.40 before 18:00, 10 % VAT
        assert updated.total_cost == pytest.approx(2.64)
        service = csms.app.blocks.require(TariffService)
        await service.tick(T0 + timedelta(seconds=1900))
        assert station.costs == [(pytest.approx(2.64), "TX-1")]  # I02: CostUpdated with the running cost
        await service.tick(T0 + timedelta(seconds=1910))  # not due yet
        assert len(station.costs) == 1
        ended = await station.call(
            event(
                version, "Ended", 2, 3600, 13000, trigger="StopAuthorized", info={"stopped_reason": "Local"}
            )
        )
        # I03.FR.02: 6 kWh at 0.40 + 6 kWh at 0.25 = 3.90, 4.29 with VAT
        assert ended.total_cost == pytest.approx(4.29)
    page = await _json(csms, "GET", "/transactions?station=CS1")
    receipt = await _json(csms, "GET", f"/transactions/{page['items'][0]['id']}/cost")
    assert (receipt["status"], receipt["tariffId"], receipt["totalInclTax"]) == ("ended", "office", "4.29")
    assert receipt["totalExclTax"] == "3.90"
    assert receipt["currency"] == "EUR"
    periods = receipt["costDetails"]["chargingPeriods"]
    assert [p["startPeriod"] for p in periods] == [at(0), at(1800)]


async def test_I03_FR_04_free_transaction_is_zero_and_no_tariff_no_cost(csms: RunningCsms) -> None:
    await csms.add_station("CS2")
    async with peer(csms.ocpp_url, "CS2", "2.0.1") as station:
        await boot(station, "2.0.1")
        await station.call(event("2.0.1", "Started", 0, 0, 0))
        ended = await station.call(event("2.0.1", "Ended", 1, 60, 100, info={"stopped_reason": "Local"}))
        assert ended.total_cost is None  # no tariff at all: the cost is not known
        free = {"tariffId": "free", "currency": "EUR", "energy": {"prices": [{"priceKwh": 0}]}}
        await _json(csms, "POST", "/tariffs", 201, json={"tariff": free, "default": True})
        await station.call(event("2.0.1", "Started", 0, 100, 0, info={"transaction_id": "TX-2"}))
        ended = await station.call(
            event("2.0.1", "Ended", 1, 200, 500, info={"transaction_id": "TX-2", "stopped_reason": "Local"})
        )
        assert ended.total_cost == 0.0


async def test_I07_I11_I12_local_cost_commands_and_station_cost_checked(csms: RunningCsms) -> None:
    await _json(csms, "POST", "/tariffs", 201, json={"tariff": FLAT_TARIFF, "default": True})
    await _json(
        csms,
        "POST",
        "/tariffs",
        201,
        json={"tariff": {**FLAT_TARIFF, "tariffId": "dear", "energy": {"prices": [{"priceKwh": 1.0}]}}},
    )
    await csms.add_station("CS3")
    async with peer(csms.ocpp_url, "CS3", "2.1", station_class=station_class("2.1")) as station:
        await boot(station, "2.1")
        answer = await _json(csms, "POST", "/stations/CS3/tariffs/default", json={"tariffId": "flat"})
        assert answer["status"] == "Accepted"
        assert "flat" in station.tariffs
        again = await _json(csms, "POST", "/stations/CS3/tariffs/default", json={"tariffId": "flat"})
        assert again["status"] == "DuplicateTariffId"
        await _json(csms, "POST", "/stations/CS3/tariffs/default", 404, json={"tariffId": "nope"})
        day = (
            -20 * 3600
        )  # a day earlier: the samples lie before the change, which happens now (the real clock)
        await station.call(event("2.1", "Started", 0, day, 0))
        page = await _json(csms, "GET", "/transactions?station=CS3")
        key = page["items"][0]["id"]
        # I11: from the change on, 1.00/kWh (I11.FR.08: not retroactively)
        changed = await _json(csms, "POST", f"/transactions/{key}/tariff", json={"tariffId": "dear"})
        assert changed["status"] == "Accepted"
        details = {
            "total_cost": {
                "currency": "EUR",
                "type_of_cost": "NormalCost",
                "total": {"excl_tax": 9.99, "incl_tax": 9.99},
            },
            "total_usage": {"energy": 2000, "charging_time": 3600, "idle_time": 0},
        }
        await station.call(
            event("2.1", "Ended", 1, day + 3600, 2000, cost_details=details, info={"stopped_reason": "Local"})
        )
    receipt = await _json(csms, "GET", f"/transactions/{key}/cost")
    assert receipt["totalExclTax"] == "0.60"  # 2 kWh at 0.30: the change came after the transaction's samples
    assert [span["tariff"]["tariffId"] for span in receipt["tariffs"]] == ["flat", "dear"]
    assert receipt["mismatch"] == "total exclTax 9.99, the CSMS calculated 0.60"
    assert receipt["stationCostDetails"]["totalCost"]["total"]["exclTax"] == 9.99


async def test_I01_FR_02_no_tariff_text_when_the_station_cannot_show_it(database_url: str) -> None:
    async with running(settings_for(database_url, TariffsSettings(tariff_text=TariffText.AUTO))) as csms:
        await csms.app.blocks.require(AuthorizationService).create_token(
            {"id_token": "TAG-2", "type": "ISO14443", "status": "Accepted", "local_list": False}
        )
        await _json(csms, "POST", "/tariffs", 201, json={"tariff": FLAT_TARIFF, "default": True})
        await csms.add_station("CS4")
        async with peer(csms.ocpp_url, "CS4", "2.0.1") as station:
            await boot(station, "2.0.1")
            answer = await station.call(
                MODULES["2.0.1"].call.Authorize(id_token={"id_token": "TAG-2", "type": "ISO14443"})
            )
            assert answer.id_token_info["status"] == "Accepted"
            assert (
                "personal_message" not in answer.id_token_info
            )  # the inventory does not say it can show one


async def test_I01_FR_02_I08_tariff_text_and_driver_tariff_when_the_station_calculates_locally(
    database_url: str,
) -> None:
    from chargeplane.csms.blocks.device_model.repository import VariableRef
    from chargeplane.csms.blocks.device_model.service import DeviceModelService

    async with running(settings_for(database_url, TariffsSettings(tariff_text=TariffText.AUTO))) as csms:
        await csms.app.blocks.require(AuthorizationService).create_token(
            {"id_token": "TAG-3", "type": "ISO14443", "status": "Accepted", "local_list": False}
        )
        await _json(csms, "POST", "/tariffs", 201, json={"tariff": OFFICE_TARIFF, "idTokens": ["TAG-3"]})
        await csms.add_station("CS5")
        inventory = csms.app.blocks.require(DeviceModelService).repository
        enabled = VariableRef("TariffCostCtrlr", "Enabled", variable_instance="Tariff")
        await inventory.store_values("CS5", [(enabled, "true")], "get", datetime.now(UTC))
        async with peer(csms.ocpp_url, "CS5", "2.1") as station:
            await boot(station, "2.1")
            token = {"id_token": "TAG-3", "type": "ISO14443"}
            answer = await station.call(MODULES["2.1"].call.Authorize(id_token=token))
            assert answer.id_token_info["personal_message"]["content"] == "0.40 EUR/kWh 08-18h, else 0.25"
            assert answer.tariff["tariff_id"] == "office"  # I08: the driver's tariff for local calculation


async def test_events_that_find_the_tariff_answer_out_of_date_together_read_it_once() -> None:
    """Whether anything is to be priced is read at most every few seconds; under load every station's next
    event arrived while the first read was on its way, and each read it again."""

    class Repository:
        reads = 0

        async def anything_to_price(self) -> bool:
            self.reads += 1
            await asyncio.sleep(0.01)
            return False

    repository = Repository()
    unused: Any = None
    service = TariffService(
        cast(TariffRepository, repository), TariffsSettings(), unused, unused, EventBus(), ManualClock(T0)
    )
    facts = EventFacts(transaction_id="TX-1", event_type="Updated", timestamp=T0, seq_no=1)
    outcome = EventOutcome(transaction_key=1, transaction_id="TX-1", duplicate=False, decision=None)
    answers = await asyncio.gather(*(service.on_event(f"CS{i}", "2.0.1", facts, outcome) for i in range(50)))
    assert answers == [None] * 50  # nothing to price
    assert repository.reads == 1
