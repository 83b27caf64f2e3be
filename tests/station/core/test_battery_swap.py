"""Battery swapping on the station (2.1 S01-S04): local and remote authorization, BatteryIn / BatteryOut with
the swap's requestId, timeouts, slot availability, batteries charging in transactions of their own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.device_model import VariableKey
from chargeplane.station.core.model import MeterReading
from tests.station.core.helpers import Rig, make_rig

M21 = v21.messages
D21 = v21.datatypes


class Csms:
    """A 2.1 CSMS that accepts every token but those in ``refused``."""

    def __init__(self) -> None:
        self.refused: set[str] = set()

    def __call__(self, request: Any, now: datetime) -> Any:
        if isinstance(request, M21.BootNotificationRequest):
            return M21.BootNotificationResponse(current_time=to_wire(now), interval=300, status="Accepted")
        if isinstance(request, M21.AuthorizeRequest):
            status = "Invalid" if request.id_token.id_token in self.refused else "Accepted"
            return M21.AuthorizeResponse(id_token_info=D21.IdTokenInfoType(status=status))
        for name in ("StatusNotification", "TransactionEvent", "NotifyEvent", "BatterySwap", "MeterValues"):
            if type(request).__name__ == f"{name}Request":
                return getattr(M21, f"{name}Response")()
        return None


def put(rig: Rig, component: str, variable: str, value: str, instance: str | None = None) -> None:
    rig.core.model.put(VariableKey(component, variable, None, instance), value, persist=True)


def swap_station(slots: int = 3) -> tuple[Rig, Csms]:
    """A 2.1 swap station with ``slots`` slots; slots 2.. stocked with charged batteries."""
    csms = Csms()
    rig = make_rig(connectors=(1,) * slots, version=Version.V21, answer=csms)
    put(rig, "BatterySwapCtrlr", "Enabled", "true")
    put(rig, "TxCtrlr", "TxStartPoint", "EVConnected")  # S04.FR.08
    put(rig, "TxCtrlr", "TxStopPoint", "EVConnected")  # S04.FR.09
    rig.do("handle_timer")
    for slot in range(2, slots + 1):
        assert rig.core.battery_inserted(slot, f"BAT-{slot}", 90.0, 95.0, rig.now, stock=True)
    rig.pump()
    rig.clear()
    return rig, csms


def swaps(rig: Rig) -> list[Any]:
    return rig.of(M21.BatterySwapRequest)


def slot_states(rig: Rig) -> list[tuple[int, str]]:
    out = []
    for notify in rig.of(M21.NotifyEventRequest):
        for event in notify.event_data:
            if event.variable.name == "AvailabilityState" and event.component.name == "Connector":
                out.append((event.component.evse.id, event.actual_value))
    return out


def test_s01_fr_01_local_authorization_opens_an_empty_slot_and_s03_fr_01_battery_in() -> None:
    rig, _ = swap_station()
    rig.do("swap_token", "DRIVER")
    (authorize,) = rig.of(M21.AuthorizeRequest)
    assert authorize.id_token.id_token == "DRIVER"
    assert rig.core.battery_swap.session is not None
    assert rig.core.battery_swap.session.opened == [1]
    assert rig.core.battery_inserted(1, "OLD-1", 12.0, 80.0, rig.now)
    rig.pump()
    (battery_in,) = swaps(rig)
    assert battery_in.event_type == "BatteryIn"
    assert battery_in.id_token.id_token == "DRIVER"
    (data,) = battery_in.battery_data
    assert (data.evse_id, data.serial_number, data.so_c, data.so_h) == (1, "OLD-1", 12.0, 80.0)
    assert (1, "Occupied") in slot_states(rig)  # S03.FR.02


def test_s03_fr_03_battery_out_carries_the_same_request_id_and_s03_fr_04_slot_available() -> None:
    rig, _ = swap_station()
    rig.do("swap_token", "DRIVER")
    rig.do("battery_inserted", 1, "OLD-1", 12.0, 80.0)
    offered = rig.core.battery_swap.session.offered  # type: ignore[union-attr]
    assert len(offered) == 1
    taken = rig.core.battery_removed(offered[0], rig.now)
    rig.pump()
    assert taken is not None
    battery_in, battery_out = swaps(rig)
    assert battery_out.event_type == "BatteryOut"
    assert battery_out.request_id == battery_in.request_id
    assert battery_out.battery_data[0].serial_number == taken.serial
    assert (offered[0], "Available") in slot_states(rig)
    assert rig.core.battery_swap.session is None


def test_s03_fr_05_refused_without_a_charged_battery_and_no_authorize_sent() -> None:
    rig, _ = swap_station(slots=2)
    rig.core.battery_removed(2, rig.now)
    rig.pump()
    rig.clear()
    rig.do("swap_token", "DRIVER")
    assert rig.of(M21.AuthorizeRequest) == []
    assert rig.core.battery_swap.session is None


def test_s01_a_refused_token_opens_no_slot() -> None:
    rig, csms = swap_station()
    csms.refused.add("BAD")
    rig.do("swap_token", "BAD")
    assert rig.core.battery_swap.session is None
    assert not rig.core.battery_inserted(1, "OLD-1", 12.0, 80.0, rig.now)


def test_s01_c13_offline_swap_with_a_token_of_the_local_list() -> None:
    rig, _ = swap_station()
    rig.handle(
        M21.SendLocalListRequest(
            version_number=1,
            update_type="Full",
            local_authorization_list=[
                D21.AuthorizationData(
                    id_token=D21.IdTokenType(id_token="LOCAL-1", type="ISO14443"),
                    id_token_info=D21.IdTokenInfoType(status="Accepted"),
                )
            ],
        )
    )
    rig.do("connection_closed")
    rig.clear()
    rig.do("swap_token", "LOCAL-1")
    assert rig.of(M21.AuthorizeRequest) == []
    assert rig.core.battery_swap.session is not None  # LocalAuthorizationOffline (default true)
    rig.core.battery_swap.session = None
    rig.do("swap_token", "STRANGER")
    assert rig.core.battery_swap.session is None  # unknown and offline: refused


def test_s01_fr_02_no_battery_in_before_timeout_in_ends_the_authorization() -> None:
    rig, _ = swap_station()
    put(rig, "BatterySwapCtrlr", "Timeout", "30", "In")
    rig.do("swap_token", "DRIVER")
    rig.advance(31)
    assert rig.core.battery_swap.session is None
    assert swaps(rig) == []
    assert not rig.core.battery_inserted(1, "OLD-1", 12.0, 80.0, rig.now)


def test_s03_fr_06_battery_out_timeout_reports_the_offered_battery() -> None:
    rig, _ = swap_station()
    put(rig, "BatterySwapCtrlr", "Timeout", "20", "Out")
    rig.do("swap_token", "DRIVER")
    rig.do("battery_inserted", 1, "OLD-1", 12.0, 80.0)
    offered = rig.core.battery_swap.session.offered  # type: ignore[union-attr]
    rig.advance(21)
    battery_in, timeout = swaps(rig)
    assert timeout.event_type == "BatteryOutTimeout"
    assert timeout.request_id == battery_in.request_id
    assert [d.evse_id for d in timeout.battery_data] == offered


def test_s02_fr_01_02_remote_request_accepted_and_its_request_id_used() -> None:
    rig, _ = swap_station()
    token = D21.IdTokenType(id_token="APP-1", type="Central")
    response = rig.handle(M21.RequestBatterySwapRequest(request_id=77, id_token=token))
    assert response.status == "Accepted"
    rig.do("battery_inserted", 1, "OLD-1", 10.0, 90.0)
    (battery_in,) = swaps(rig)
    assert battery_in.request_id == 77
    assert (battery_in.id_token.id_token, battery_in.id_token.type) == ("APP-1", "Central")


def test_s02_fr_04_remote_request_rejected_without_batteries() -> None:
    rig, _ = swap_station(slots=1)  # one empty slot and no battery at all
    token = D21.IdTokenType(id_token="APP-1", type="Central")
    response = rig.handle(M21.RequestBatterySwapRequest(request_id=1, id_token=token))
    assert response.status == "Rejected"
    assert response.status_info.reason_code == "NoBatteryAvailable"


def test_s02_fr_05_remote_swap_times_out_without_battery() -> None:
    rig, _ = swap_station()
    token = D21.IdTokenType(id_token="APP-1", type="Central")
    rig.handle(M21.RequestBatterySwapRequest(request_id=5, id_token=token))
    rig.advance(61)
    assert rig.core.battery_swap.session is None
    assert swaps(rig) == []


def test_s02_disabled_swap_station_rejects() -> None:
    rig = make_rig(version=Version.V21, answer=Csms())
    token = D21.IdTokenType(id_token="APP-1", type="Central")
    response = rig.handle(M21.RequestBatterySwapRequest(request_id=5, id_token=token))
    assert response.status == "Rejected"


def test_s04_fr_01_03_inserted_battery_charges_in_a_no_authorization_transaction() -> None:
    rig, _ = swap_station()
    rig.do("swap_token", "DRIVER")
    rig.do("battery_inserted", 1, "OLD-1", 12.0, 80.0)
    started = [e for e in rig.of(M21.TransactionEventRequest) if e.event_type == "Started"]
    assert len(started) == 1
    assert started[0].evse.id == 1
    assert started[0].trigger_reason == "CablePluggedIn"
    assert (started[0].id_token.id_token, started[0].id_token.type) == ("", "NoAuthorization")


def test_s04_fr_02_swap_id_token_and_s04_fr_07_removal_ends_the_transaction() -> None:
    rig, _ = swap_station(slots=2)
    put(rig, "BatterySwapCtrlr", "IdToken", "BSS-001")
    rig.do("battery_inserted", 1, "NEW-1", 50.0, 99.0, stock=True)
    started = rig.of(M21.TransactionEventRequest)[0]
    assert (started.id_token.id_token, started.id_token.type) == ("BSS-001", "Central")
    rig.do("battery_removed", 1)
    ended = rig.of(M21.TransactionEventRequest)[-1]
    assert ended.event_type == "Ended"
    assert ended.transaction_info.stopped_reason == "EVDisconnected"


def test_s04_fr_05_battery_eligible_once_charged_to_target_soc() -> None:
    rig, _ = swap_station(slots=2)
    rig.core.battery_removed(2, rig.now)
    rig.do("battery_inserted", 2, "LOW", 40.0, 99.0, stock=True)
    assert rig.core.battery_swap.eligible() == []
    rig.do("update_meter", 2, MeterReading(energy_wh=500.0, power_w=3000.0, soc=75.0))
    assert rig.core.battery_swap.eligible() == [2]
    assert rig.core.model.actual(VariableKey("BatteryCartridge", "SoC", evse=2)) == "75"


def test_s04_fr_06_charged_to_max_soc_suspends_with_energy_limit_reached() -> None:
    rig, _ = swap_station(slots=2)
    put(rig, "BatterySwapCtrlr", "MaxSoc", "80")
    rig.core.battery_removed(2, rig.now)
    rig.do("battery_inserted", 2, "LOW", 40.0, 99.0, stock=True)
    rig.do("update_meter", 2, MeterReading(energy_wh=100.0, power_w=900.0, soc=60.0))
    rig.clear()
    rig.do("update_meter", 2, MeterReading(energy_wh=300.0, power_w=900.0, soc=80.0))
    (suspended,) = rig.of(M21.TransactionEventRequest)
    assert suspended.event_type == "Updated"
    assert suspended.trigger_reason == "EnergyLimitReached"
    assert suspended.transaction_info.charging_state == "SuspendedEVSE"
    assert rig.core.transaction(2) is not None  # kept alive


def test_s04_fr_11_slots_survive_a_reboot_and_charge_in_new_transactions() -> None:
    rig, _ = swap_station(slots=2)
    again = make_rig(storage=rig.storage, connectors=(1, 1), version=Version.V21, answer=Csms())
    assert set(again.core.battery_swap.slots) == {2}  # the accepted boot started its transaction
    started = [e for e in again.of(M21.TransactionEventRequest) if e.event_type == "Started"]
    assert [e.evse.id for e in started] == [2]


def test_s04_fr_10_max_soc_never_below_target_soc() -> None:
    rig, _ = swap_station(slots=1)
    assert set_var21(rig, "TargetSoc", "90") == "Accepted"  # MaxSoc is 100
    assert set_var21(rig, "MaxSoc", "80") == "Rejected"
    assert set_var21(rig, "MaxSoc", "95") == "Accepted"
    assert set_var21(rig, "TargetSoc", "96") == "Rejected"


def set_var21(rig: Rig, variable: str, value: str) -> str:
    item = D21.SetVariableDataType(
        attribute_value=value,
        component=D21.ComponentType(name="BatterySwapCtrlr"),
        variable=D21.VariableType(name=variable),
    )
    response = rig.handle(M21.SetVariablesRequest(set_variable_data=[item]))
    return str(response.set_variable_result[0].attribute_status)


def slot_status(rig: Rig, slot: int) -> str | None:
    return rig.core.model.actual(VariableKey("Connector", "SlotStatus", evse=slot, connector=1))


def test_connector_slot_status_open_while_a_swap_waits_locked_after_faulted_on_a_fault() -> None:
    rig, _ = swap_station(slots=3)
    assert [slot_status(rig, n) for n in (1, 2, 3)] == ["Locked"] * 3
    rig.do("swap_token", "DRIVER")
    assert slot_status(rig, 1) == "Open"  # opened for the returned battery (S01.FR.01)
    rig.do("battery_inserted", 1, "OLD-1", 12.0, 80.0)
    offered = rig.core.battery_swap.session.offered  # type: ignore[union-attr]
    assert slot_status(rig, 1) == "Locked"
    assert [slot_status(rig, n) for n in offered] == ["Open"]  # the charged battery to take (S03)
    rig.core.battery_removed(offered[0], rig.now)
    assert [slot_status(rig, n) for n in (1, 2, 3)] == ["Locked"] * 3
    rig.core.fault(2, True, rig.now)
    assert slot_status(rig, 2) == "Faulted"
    rig.core.fault(2, False, rig.now)
    assert slot_status(rig, 2) == "Locked"


def test_connector_slot_status_locked_again_when_the_swap_times_out() -> None:
    rig, _ = swap_station(slots=2)
    rig.do("swap_token", "DRIVER")
    assert slot_status(rig, 1) == "Open"
    rig.advance(61)  # BatterySwapCtrlr.Timeout[In]
    assert slot_status(rig, 1) == "Locked"
