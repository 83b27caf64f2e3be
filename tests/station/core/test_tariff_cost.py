"""Tariff and cost on the station (2.0.1 I01-I06; 2.1 I07-I12): what the driver is shown, and the 2.1 local
cost calculation with its tariff management and costDetails."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from chargeplane.cost.engine import cost
from chargeplane.cost.model import TariffSpan
from chargeplane.cost.samples import meter_samples
from chargeplane.cost.wire import tariff_from_wire
from chargeplane.ocpp.errors import NotSupported
from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.model import ShowMessage
from chargeplane.station.core.tariff_cost import CTRLR, TariffCost, _readings
from tests.station.core.helpers import D, M, Rig, charge, make_rig, set_var

M21 = v21.messages
D21 = v21.datatypes


def shown(rig: Rig) -> list[str]:
    return [a.text for a in rig.actions if type(a) is ShowMessage]


def answer201(total: float | None = None, message: str | None = None) -> Any:
    def answer(request: Any, now: datetime) -> Any:
        if isinstance(request, M.AuthorizeRequest):
            content = D.MessageContentType(format="UTF8", content=message) if message else None
            info = D.IdTokenInfoType(status="Accepted", **({"personal_message": content} if content else {}))
            return M.AuthorizeResponse(id_token_info=info)
        if isinstance(request, M.TransactionEventRequest) and total is not None:
            return M.TransactionEventResponse(total_cost=total)
        return None

    return answer


def test_TC_I_01_CS_I01_FR_03_I02_FR_02_tariff_text_and_running_cost_of_cost_updated() -> None:
    rig = make_rig(answer=answer201(message="0.25 EUR/kWh"))
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    assert "Tariff: 0.25 EUR/kWh" in shown(rig)
    tx = rig.core.transaction(1)
    assert tx is not None
    rig.clear()
    answer = rig.handle(M.CostUpdatedRequest(total_cost=1.5, transaction_id=tx.id))
    assert isinstance(answer, M.CostUpdatedResponse)
    assert shown(rig) == ["Running cost: 1.50 EUR"]


def test_TC_I_07_CS_I02_FR_04_running_cost_in_the_answer_and_TC_I_02_CS_the_final_cost() -> None:
    rig = make_rig(answer=answer201(total=2.345))
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    charge(rig, energy=5000)
    assert "Running cost: 2.35 EUR" in shown(rig)  # Updated events answered with totalCost
    rig.clear()
    rig.do("ev_unplugged", 1)
    assert shown(rig)[-1] == "Total cost: 2.35 EUR"  # I03.FR.03


def test_I03_FR_05_no_total_when_the_ev_leaves_the_bay_to_end_it() -> None:
    rig = make_rig(answer=answer201(total=3.0))
    assert set_var(rig, "TxCtrlr", "TxStopPoint", "ParkingBayOccupancy,EVConnected") == "Accepted"
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    rig.clear()
    rig.do("ev_unplugged", 1)
    assert not any(text.startswith("Total cost") for text in shown(rig))


def test_I04_FR_01_fallback_tariff_text_and_I05_FR_02_fallback_total_when_offline() -> None:
    rig = make_rig()
    assert set_var(rig, CTRLR, "TariffFallbackMessage", "Standard tariff 0.30/kWh") == "Accepted"
    assert set_var(rig, CTRLR, "TotalCostFallbackMessage", "See your invoice") == "Accepted"
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    assert "Standard tariff 0.30/kWh" in shown(rig)
    rig.do("connection_closed")
    rig.clear()
    rig.do("ev_unplugged", 1)
    assert "See your invoice" in shown(rig)


# -- 2.1 local cost calculation ---------------------------------------------------------------------------

TARIFF = D21.TariffType(
    tariff_id="T-A",
    currency="EUR",
    energy=D21.TariffEnergyType(
        prices=[
            D21.TariffEnergyPriceType(
                price_kwh=0.40,
                conditions=D21.TariffConditionsType(start_time_of_day="12:00", end_time_of_day="12:30"),
            ),
            D21.TariffEnergyPriceType(price_kwh=0.25),
        ],
        tax_rates=[D21.TaxRateType(type="vat", tax=10)],
    ),
    charging_time=D21.TariffTimeType(prices=[D21.TariffTimePriceType(price_minute=0.01)]),
)


def answer21(request: Any, now: datetime) -> Any:
    if isinstance(request, M21.BootNotificationRequest):
        return M21.BootNotificationResponse(current_time=to_wire(now), interval=300, status="Accepted")
    if isinstance(request, M21.AuthorizeRequest):
        return M21.AuthorizeResponse(id_token_info=D21.IdTokenInfoType(status="Accepted"))
    for name in ("StatusNotification", "TransactionEvent", "SecurityEventNotification", "MeterValues"):
        if type(request).__name__ == f"{name}Request":
            return getattr(M21, f"{name}Response")()
    return None


def rig21() -> Rig:
    return make_rig(version=Version.V21, answer=answer21)


def set_default(rig: Rig, tariff: Any = TARIFF, evse_id: int = 0) -> str:
    return str(rig.handle(M21.SetDefaultTariffRequest(evse_id=evse_id, tariff=tariff)).status)


def events21(rig: Rig) -> list[Any]:
    return rig.of(M21.TransactionEventRequest)


def set21(rig: Rig, variable: str, value: str, instance: str | None = None) -> str:
    data = D21.SetVariableDataType(
        attribute_value=value,
        component=D21.ComponentType(name=CTRLR),
        variable=D21.VariableType(name=variable, instance=instance)
        if instance
        else D21.VariableType(name=variable),
    )
    answer = rig.handle(M21.SetVariablesRequest(set_variable_data=[data]))
    return str(answer.set_variable_result[0].attribute_status)


def test_I07_set_default_tariff_statuses() -> None:
    rig = rig21()
    assert set_default(rig) == "Accepted"
    assert set_default(rig) == "DuplicateTariffId"  # I07.FR.04
    answer = rig.handle(M21.SetDefaultTariffRequest(evse_id=9, tariff=TARIFF))
    assert (answer.status, answer.status_info.reason_code) == ("Rejected", "UnknownEVSE")  # I07.FR.06
    power = D21.TariffType(
        tariff_id="P",
        currency="EUR",
        energy=D21.TariffEnergyType(
            prices=[
                D21.TariffEnergyPriceType(price_kwh=1, conditions=D21.TariffConditionsType(max_power=11000))
            ]
        ),
    )
    assert set_default(rig, power) == "ConditionNotSupported"  # I07.FR.03 (power conditions: not evaluated)
    many = D21.TariffType(
        tariff_id="M",
        currency="EUR",
        energy=D21.TariffEnergyType(prices=[D21.TariffEnergyPriceType(price_kwh=i / 100) for i in range(31)]),
    )
    assert set_default(rig, many) == "TooManyElements"  # I07.FR.02
    assert set21(rig, "Enabled", "false", instance="Tariff") == "Accepted"
    with pytest.raises(NotSupported):  # I07.FR.01
        rig.core.handle(M21.SetDefaultTariffRequest(evse_id=0, tariff=TARIFF), rig.now)


def test_I09_I10_get_and_clear_tariffs() -> None:
    rig = make_rig(version=Version.V21, answer=answer21, connectors=(1, 1))
    assert rig.handle(M21.GetTariffsRequest(evse_id=0)).status == "NoTariff"  # I09.FR.03
    assert set_default(rig) == "Accepted"
    other = D21.TariffType(
        tariff_id="T-B",
        currency="EUR",
        energy=D21.TariffEnergyType(prices=[D21.TariffEnergyPriceType(price_kwh=1)]),
    )
    assert set_default(rig, other, evse_id=2) == "Accepted"
    answer = rig.handle(M21.GetTariffsRequest(evse_id=0))
    assert [(a.tariff_id, a.tariff_kind, a.evse_ids) for a in answer.tariff_assignments] == [
        ("T-A", "DefaultTariff", [1]),  # T-B replaced T-A at EVSE 2 (no validFrom)
        ("T-B", "DefaultTariff", [2]),
    ]
    assert [a.tariff_id for a in rig.handle(M21.GetTariffsRequest(evse_id=2)).tariff_assignments] == ["T-B"]
    cleared = rig.handle(M21.ClearTariffsRequest(tariff_ids=["T-B"]))
    assert [(r.tariff_id, r.status) for r in cleared.clear_tariffs_result] == [("T-B", "Accepted")]
    nothing = rig.handle(M21.ClearTariffsRequest(tariff_ids=["nope"]))
    assert [r.status for r in nothing.clear_tariffs_result] == ["NoTariff"]  # I10.FR.06
    rig.handle(M21.ClearTariffsRequest())
    assert rig.handle(M21.GetTariffsRequest(evse_id=0)).status == "NoTariff"


def test_I12_local_cost_running_and_final_cost_details_from_the_readings_it_sent() -> None:
    rig = rig21()
    assert set21(rig, "Interval", "600", instance="Cost") == "Accepted"
    assert set_default(rig) == "Accepted"
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    charge(rig, energy=0, power=11000)
    started = events21(rig)[0]
    assert started.event_type == "Started"
    assert started.transaction_info.tariff_id == "T-A"
    assert started.cost_details.total_cost.currency == "EUR"  # I12.FR.02 in Started
    for minute in range(1, 61):
        charge(rig, energy=minute * 200.0, power=12000)
        rig.advance(60)
    running = [e for e in events21(rig) if e.trigger_reason == "RunningCost"]
    assert len(running) == 6  # every 600 s (I12.FR.03)
    assert all(e.cost_details.charging_periods is msgspec_unset() for e in running)
    rig.do("ev_unplugged", 1)
    ended = events21(rig)[-1]
    assert ended.event_type == "Ended"
    details = ended.cost_details  # I12.FR.01
    assert details.charging_periods
    assert {p.tariff_id for p in details.charging_periods} == {"T-A"}  # I12.FR.04
    # the same readings, priced by the engine, give the same total: what the CSMS will calculate
    readings = [r for e in events21(rig) for r in _readings(e)]
    expected = cost([TariffSpan(started_at(started), tariff_from_wire(TARIFF))], meter_samples(readings))
    assert Decimal(repr(details.total_cost.total.incl_tax)) == expected.total.incl_tax
    assert expected.energy_wh > 0
    assert expected.total.incl_tax > 0
    assert "TariffCost" in type(rig.core.ctx.get(TariffCost)).__name__


def msgspec_unset() -> Any:
    import msgspec

    return msgspec.UNSET


def started_at(event: Any) -> datetime:
    from chargeplane.ocpp.timestamps import from_wire

    result: datetime = from_wire(event.timestamp)
    return result


def test_I11_change_transaction_tariff() -> None:
    rig = rig21()
    assert set_default(rig) == "Accepted"
    unknown = rig.handle(M21.ChangeTransactionTariffRequest(transaction_id="nope", tariff=TARIFF))
    assert unknown.status == "TxNotFound"  # I11.FR.04
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    tx = rig.core.transaction(1)
    assert tx is not None
    dollars = D21.TariffType(
        tariff_id="USD",
        currency="USD",
        energy=D21.TariffEnergyType(prices=[D21.TariffEnergyPriceType(price_kwh=1)]),
    )
    answer = rig.handle(M21.ChangeTransactionTariffRequest(transaction_id=tx.id, tariff=dollars))
    assert answer.status == "NoCurrencyChange"  # I11.FR.05
    dear = D21.TariffType(
        tariff_id="T-D",
        currency="EUR",
        energy=D21.TariffEnergyType(prices=[D21.TariffEnergyPriceType(price_kwh=1)]),
    )
    rig.clear()
    assert (
        rig.handle(M21.ChangeTransactionTariffRequest(transaction_id=tx.id, tariff=dear)).status == "Accepted"
    )
    [changed] = events21(rig)
    assert (changed.trigger_reason, changed.transaction_info.tariff_id) == (
        "TariffChanged",
        "T-D",
    )  # I11.FR.07
