"""Transaction limits on the station (2.1 E16, F07): set by the CSMS or the driver, confirmed once with
LimitSet, enforced on energy, time, SoC and cost (suspend, or end with EnergyTransfer in TxStopPoint)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from msgspec import UNSET

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.device_model import VariableKey
from chargeplane.station.core.model import MeterReading, SetContactor
from chargeplane.station.core.tx_limits import limits_of, reached
from chargeplane.station.core.tx_limits import to_wire as limit_wire
from tests.station.core.helpers import Rig, charge, make_rig

M21 = v21.messages
D21 = v21.datatypes


class Csms:
    """Answers like the default 2.1 CSMS; ``limit`` goes once into the next TransactionEvent answer."""

    def __init__(self) -> None:
        self.limit: D21.TransactionLimitType | None = None
        self.total: float | None = None

    def __call__(self, request: Any, now: datetime) -> Any:
        if isinstance(request, M21.BootNotificationRequest):
            return M21.BootNotificationResponse(current_time=to_wire(now), interval=300, status="Accepted")
        if isinstance(request, M21.AuthorizeRequest):
            return M21.AuthorizeResponse(id_token_info=D21.IdTokenInfoType(status="Accepted"))
        if isinstance(request, M21.TransactionEventRequest):
            limit, self.limit = self.limit, None
            return M21.TransactionEventResponse(
                transaction_limit=limit if limit is not None else UNSET,
                total_cost=self.total if self.total is not None else UNSET,
            )
        for name in ("StatusNotification", "SecurityEventNotification", "MeterValues", "NotifyEvent"):
            if type(request).__name__ == f"{name}Request":
                return getattr(M21, f"{name}Response")()
        return None


def rig21(csms: Csms | None = None) -> tuple[Rig, Csms]:
    csms = csms or Csms()
    return make_rig(version=Version.V21, answer=csms), csms


def put(rig: Rig, component: str, variable: str, value: str, instance: str | None = None) -> None:
    rig.core.model.put(VariableKey(component, variable, None, instance), value, persist=True)


def events(rig: Rig) -> list[Any]:
    return rig.of(M21.TransactionEventRequest)


def charging(rig: Rig, csms: Csms, limit: D21.TransactionLimitType | None = None) -> None:
    """A transaction charging; ``limit`` in the answer to its Started event (F07.FR.02)."""
    csms.limit = limit
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    charge(rig, energy=0, power=11000)


def contactor(rig: Rig) -> bool | None:
    found = [a.closed for a in rig.actions if isinstance(a, SetContactor)]
    return found[-1] if found else None


def test_pure_rules() -> None:
    assert reached({"maxEnergy": 100}, {"maxEnergy": 99.9}) is None
    assert reached({"maxEnergy": 100}, {"maxEnergy": 100}) == "maxEnergy"
    assert reached({"maxTime": -1}, {"maxTime": None}) == "maxTime"  # E16.FR.10: a negative limit at once
    assert reached({"maxSoC": 80, "maxEnergy": 10}, {"maxSoC": 85, "maxEnergy": 20}) == "maxEnergy"
    wire = limit_wire({"maxEnergy": 5000, "maxTime": 60.0})
    assert wire.max_time == 60
    assert wire.max_cost is UNSET
    assert limits_of(wire) == {"maxEnergy": 5000.0, "maxTime": 60.0}


def test_F07_FR_03_E16_FR_03_csms_limit_confirmed_once_with_LimitSet() -> None:
    rig, csms = rig21()
    charging(rig, csms, D21.TransactionLimitType(max_energy=5000))
    sent = events(rig)
    assert sent[0].event_type == "Started"
    limit_set = [e for e in sent if e.trigger_reason == "LimitSet"]
    assert len(limit_set) == 1
    assert limit_set[0].transaction_info.transaction_limit == D21.TransactionLimitType(max_energy=5000)
    charge(rig, energy=1000, power=11000)
    rig.do("ev_unplugged", 1)
    later = events(rig)[sent.index(limit_set[0]) + 1 :]
    assert later
    assert all(e.transaction_info.transaction_limit is UNSET for e in later)


def test_E16_FR_05_energy_limit_suspends_and_E16_FR_14_raising_it_resumes() -> None:
    rig, csms = rig21()
    charging(rig, csms, D21.TransactionLimitType(max_energy=2000))
    charge(rig, energy=1999, power=11000)
    assert contactor(rig) is True
    rig.clear()
    charge(rig, energy=2000, power=11000)
    assert contactor(rig) is False
    suspended = events(rig)[0]
    assert suspended.trigger_reason == "EnergyLimitReached"
    assert suspended.transaction_info.charging_state == "SuspendedEVSE"
    assert suspended.event_type == "Updated"
    rig.clear()
    csms.limit = D21.TransactionLimitType(max_energy=3000)  # E16.FR.02: in the next answer
    charge(rig, energy=2000, power=0)
    rig.do("set_transaction_limit", 1, {"maxEnergy": 9000.0})  # the driver's event carries the CSMS's answer
    assert contactor(rig) is True
    limit_set = [e for e in events(rig) if e.trigger_reason == "LimitSet"]
    assert limit_set[-1].transaction_info.transaction_limit.max_energy == 3000


def test_E16_FR_06_limit_ends_the_transaction_with_EnergyTransfer_stop_point() -> None:
    rig, csms = rig21()
    put(rig, "TxCtrlr", "TxStopPoint", "EnergyTransfer")
    charging(rig, csms, D21.TransactionLimitType(max_energy=500))
    charge(rig, energy=600, power=11000)
    ended = events(rig)[-1]
    assert ended.event_type == "Ended"
    assert ended.trigger_reason == "EnergyLimitReached"
    assert ended.transaction_info.stopped_reason == "EnergyLimitReached"
    assert rig.core.transaction(1) is None


def test_E16_FR_09_time_limit_from_the_start() -> None:
    rig, csms = rig21()
    charging(rig, csms, D21.TransactionLimitType(max_time=120))
    rig.advance(119)
    assert not [e for e in events(rig) if e.trigger_reason == "TimeLimitReached"]
    rig.advance(2)
    hit = [e for e in events(rig) if e.trigger_reason == "TimeLimitReached"]
    assert len(hit) == 1
    assert hit[0].transaction_info.charging_state == "SuspendedEVSE"


def test_E16_FR_10_a_limit_already_exceeded_acts_at_once() -> None:
    rig, csms = rig21()
    charging(rig, csms)
    charge(rig, energy=4000, power=11000)
    rig.clear()
    rig.do("set_transaction_limit", 1, {"maxEnergy": 1000.0})
    assert [e.trigger_reason for e in events(rig)] == ["LimitSet", "EnergyLimitReached"]
    assert contactor(rig) is False


def test_E16_FR_01_E16_FR_04_driver_limit_capped_by_the_csms_and_E16_FR_13_unsupported_dropped() -> None:
    rig, csms = rig21()
    put(rig, "TxCtrlr", "SupportedLimits", "maxEnergy,maxTime")
    charging(rig, csms, D21.TransactionLimitType(max_energy=5000, max_cost=3.0))
    confirmed = [e for e in events(rig) if e.trigger_reason == "LimitSet"][-1]
    assert confirmed.transaction_info.transaction_limit == D21.TransactionLimitType(max_energy=5000)
    rig.clear()
    taken = rig.core.set_transaction_limit(1, {"maxEnergy": 8000.0, "maxSoC": 80.0}, rig.now)
    rig.pump()
    assert taken == {"maxEnergy": 5000.0}
    assert events(rig)[0].transaction_info.transaction_limit == D21.TransactionLimitType(max_energy=5000)


def test_E16_soc_limit() -> None:
    rig, csms = rig21()
    charging(rig, csms, D21.TransactionLimitType(max_so_c=80))
    rig.do("update_meter", 1, MeterReading(energy_wh=100, power_w=11000, soc=79.0))
    assert contactor(rig) is True
    rig.do("update_meter", 1, MeterReading(energy_wh=200, power_w=11000, soc=80.0))
    assert events(rig)[-1].trigger_reason == "SoCLimitReached"
    assert contactor(rig) is False


def test_E16_FR_15_cost_limit_on_the_csms_cost_updates() -> None:
    rig, csms = rig21()
    put(rig, "TariffCostCtrlr", "Enabled", "false", "Tariff")  # no local cost
    charging(rig, csms, D21.TransactionLimitType(max_cost=5.0))
    tx = rig.core.transaction(1)
    assert tx is not None
    rig.handle(M21.CostUpdatedRequest(total_cost=4.0, transaction_id=tx.id))
    assert contactor(rig) is True
    rig.handle(M21.CostUpdatedRequest(total_cost=5.0, transaction_id=tx.id))
    assert events(rig)[-1].trigger_reason == "CostLimitReached"
    assert contactor(rig) is False


def test_E16_FR_16_cost_limit_on_the_local_tariff() -> None:
    rig, csms = rig21()
    tariff = D21.TariffType(
        tariff_id="T1",
        currency="EUR",
        energy=D21.TariffEnergyType(prices=[D21.TariffEnergyPriceType(price_kwh=0.50)]),
    )
    assert str(rig.handle(M21.SetDefaultTariffRequest(evse_id=0, tariff=tariff)).status) == "Accepted"
    csms.total = 99.0  # the CSMS's figure does not count with local cost
    charging(rig, csms, D21.TransactionLimitType(max_cost=2.0))
    rig.advance(60)  # the engine prices energy over time: readings need time between them
    charge(rig, energy=3900, power=11000)  # 1.95 EUR
    assert contactor(rig) is True
    rig.advance(2)
    charge(rig, energy=4000, power=11000)  # 2.00 EUR
    assert events(rig)[-1].trigger_reason == "CostLimitReached"
    assert contactor(rig) is False
