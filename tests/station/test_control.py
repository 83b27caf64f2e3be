"""The ``status`` command's description of a station: with display messages, what the display shows."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from chargeplane.ocpp.messages import v21, v201
from chargeplane.ocpp.versions import Version
from chargeplane.station.control import EXTERNAL_REFUSED, describe, execute
from chargeplane.station.core.device_model import VariableKey
from chargeplane.station.hardware import SimulatedStation
from tests.station.core.helpers import make_rig

M, D = v201.messages, v201.datatypes


def test_status_says_what_the_display_shows() -> None:
    rig = make_rig()
    runtime: Any = SimpleNamespace(core=rig.core, hardware=SimulatedStation.build("CS", 1))
    assert "display:" not in describe(runtime)
    content = D.MessageContentType(format="ASCII", content="Happy hour: -20%")
    rig.handle(
        M.SetDisplayMessageRequest(message=D.MessageInfoType(id=3, priority="NormalCycle", message=content))
    )
    assert "  display: 'Happy hour: -20%' (1 display message(s))" in describe(runtime).splitlines()


class _Keys:
    """A runtime that records the local authorization commands (C02-C04)."""

    def __init__(self) -> None:
        self.hardware = SimulatedStation.build("CS", 2)
        self.calls: list[tuple[str, Any]] = []

    def press_start_button(self, evse_id: int) -> None:
        self.calls.append(("button", evse_id))

    def enter_pin(self, pin: str, evse_id: int | None) -> None:
        self.calls.append(("pin", (pin, evse_id)))

    def pay_by_card(self, evse_id: int | None) -> str | None:
        self.calls.append(("card", evse_id))
        return "PSP1"

    def enrol_customer(self, identifier: str, token: str | None = None) -> None:
        self.calls.append(("enrol", (identifier, token)))


async def test_button_pin_and_card_commands_reach_the_runtime() -> None:
    runtime: Any = _Keys()
    said: list[str] = []
    await execute(runtime, "button 2", said.append)
    await execute(runtime, "pin 0042", said.append)
    await execute(runtime, "pin 1234 2", said.append)
    await execute(runtime, "card", said.append)
    assert runtime.calls == [("button", 2), ("pin", ("0042", None)), ("pin", ("1234", 2)), ("card", None)]
    assert said == ["payment reference PSP1"]
    with pytest.raises(ValueError, match="pin needs"):
        await execute(runtime, "pin", said.append)
    with pytest.raises(ValueError, match="no EVSE 3"):
        await execute(runtime, "button 3", said.append)


async def test_enrol_command_enrols_a_customer_C_14() -> None:
    runtime: Any = _Keys()
    await execute(runtime, "enrol user-42 CARD1")
    await execute(runtime, "enrol user-43")
    assert runtime.calls == [("enrol", ("user-42", "CARD1")), ("enrol", ("user-43", None))]
    with pytest.raises(ValueError, match="enrol needs"):
        await execute(runtime, "enrol")


def test_status_hides_a_pin_C04_FR_04() -> None:
    rig = make_rig()
    runtime: Any = SimpleNamespace(core=rig.core, hardware=SimulatedStation.build("CS", 1))
    rig.do("ev_plugged", 1, 1)
    rig.do("pin_entered", "8642")
    text = describe(runtime)
    assert "authorized=(PIN)" in text
    assert "8642" not in text


class _Grid:
    """A runtime that records the simulated grid's moves (2.1 DER control, R05)."""

    def __init__(self) -> None:
        self.hardware = SimulatedStation.build("CS", 1)
        self.moves: list[tuple[float | None, float | None]] = []

    def set_grid(self, voltage_v: float | None = None, frequency_hz: float | None = None) -> None:
        self.moves.append((voltage_v, frequency_hz))


async def test_grid_command_moves_the_simulated_grid() -> None:
    runtime: Any = _Grid()
    await execute(runtime, "grid 253", print)
    await execute(runtime, "grid 230 50.6", print)
    assert runtime.moves == [(253.0, None), (230.0, 50.6)]
    with pytest.raises(ValueError, match="grid needs"):
        await execute(runtime, "grid high", print)


def test_status_shows_the_der_controls_and_the_grid() -> None:
    rig = make_rig(version=Version.V21, online=False)
    runtime: Any = SimpleNamespace(core=rig.core, hardware=SimulatedStation.build("CS", 1))
    assert "DER:" not in describe(runtime)
    d21 = v21.datatypes
    curve = d21.DERCurveType(curve_data=[d21.DERCurvePointsType(x=100, y=100)], priority=1, y_unit="PctMaxW")
    rig.core.der.set(
        v21.messages.SetDERControlRequest(
            is_default=True, control_id="vw", control_type="VoltWatt", curve=curve
        ),
        rig.now,
    )
    rig.core.set_grid(240.0, None, rig.now)
    line = "  DER: 1 control(s) grid=240.0V/50.00Hz P=0W Q=0var tripped=False EVSE 1 <= 22000/-22000W"
    assert line in describe(runtime).splitlines()  # the VoltWatt curve's 100 % of MaxW caps EVSE 1 both ways


class _SwapStation:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.hardware = SimpleNamespace(evses={1: None, 2: None})

    def swap_token(self, token: str, count: int = 1) -> None:
        self.calls.append(("swap", (token, count)))

    def insert_battery(self, evse_id: int, serial: str, soc: float, soh: float, stock: bool = False) -> bool:
        self.calls.append(("in", (evse_id, serial, soc, soh, stock)))
        return evse_id == 1

    def remove_battery(self, evse_id: int) -> bool:
        self.calls.append(("out", evse_id))
        return False


async def test_S01_S03_swap_and_battery_commands_reach_the_runtime() -> None:
    runtime: Any = _SwapStation()
    said: list[str] = []
    await execute(runtime, "swap CARD1 2", said.append)
    await execute(runtime, "battery-in 1 B-1 12.5 80", said.append)
    await execute(runtime, "battery-in 2 B-2 90 stock", said.append)
    await execute(runtime, "battery-out 2", said.append)
    assert runtime.calls == [
        ("swap", ("CARD1", 2)),
        ("in", (1, "B-1", 12.5, 80.0, False)),
        ("in", (2, "B-2", 90.0, 100.0, True)),
        ("out", 2),
    ]
    assert said == ["slot 2 did not take the battery", "slot 2 is empty"]
    with pytest.raises(ValueError, match="percentages"):
        await execute(runtime, "battery-in 1 B-1 120", said.append)
    with pytest.raises(ValueError, match="no slot 3"):
        await execute(runtime, "battery-in 3 B-1 20", said.append)


def test_status_lists_the_battery_slots_of_a_swap_station() -> None:
    rig = make_rig(connectors=(1, 1), version=Version.V21)
    rig.core.model.put(VariableKey("BatterySwapCtrlr", "Enabled"), "true")
    rig.core.battery_inserted(2, "BAT-2", 91.0, 99.0, rig.now, stock=True)
    runtime: Any = SimpleNamespace(core=rig.core, hardware=SimulatedStation.build("CS", 2))
    assert "battery slots: 2=BAT-2@91%" in describe(runtime)


class _V2xInputs:
    """A runtime that records the V2X inputs (Q08 frequency, Q09 upstream load)."""

    def __init__(self) -> None:
        self.hardware = SimulatedStation.build("CS", 1)
        self.calls: list[tuple[str, float]] = []

    def set_grid(self, voltage_v: float | None = None, frequency_hz: float | None = None) -> None:
        assert voltage_v is None
        assert frequency_hz is not None
        self.calls.append(("frequency", frequency_hz))

    def upstream_load(self, load_w: float) -> None:
        self.calls.append(("load", load_w))

    def external_limits(self, evse_id: int, limit: float | None, discharge: float | None) -> bool:
        self.calls.append(("v2xlimits", (evse_id, limit, discharge)))
        return evse_id != 9  # 9: refused (Q06.FR.08)


async def test_v2xlimits_command_gives_an_EMS_limits_Q06_FR_02() -> None:
    runtime: Any = _V2xInputs()
    said: list[str] = []
    await execute(runtime, "v2xlimits 1 3000 -2000", said.append)
    await execute(runtime, "v2xlimits 0 - -1500", said.append)
    await execute(runtime, "v2xlimits 1 off", said.append)
    assert runtime.calls == [
        ("v2xlimits", (1, 3000.0, -2000.0)),
        ("v2xlimits", (0, None, -1500.0)),
        ("v2xlimits", (1, None, None)),
    ]
    assert said == []
    await execute(runtime, "v2xlimits 9 1000 -", said.append)
    assert said == [EXTERNAL_REFUSED]
    for wrong in ("v2xlimits", "v2xlimits 1 - -", "v2xlimits 1 1000 500", "v2xlimits x 1 -1"):
        with pytest.raises(ValueError, match="v2xlimits needs"):
            await execute(runtime, wrong, print)


async def test_frequency_and_load_commands_reach_the_runtime() -> None:
    runtime: Any = _V2xInputs()
    await execute(runtime, "frequency 49.95", print)
    await execute(runtime, "load -3000", print)
    assert runtime.calls == [("frequency", 49.95), ("load", -3000.0)]
    with pytest.raises(ValueError, match="frequency needs"):
        await execute(runtime, "frequency -1", print)
    with pytest.raises(ValueError, match="load needs"):
        await execute(runtime, "load lots", print)


async def test_qr_command_passes_the_driver_maxima_C25_FR_03() -> None:
    asked: list[tuple[int, dict[str, float]]] = []

    class _Qr:
        hardware = SimulatedStation.build("CS", 2)

        def payment_url(self, evse_id: int, limits: dict[str, float]) -> str:
            asked.append((evse_id, limits))
            return "https://pay.example/x"

    said: list[str] = []
    runtime: Any = _Qr()
    await execute(runtime, "qr 2 maxtime=600 maxenergy=20000", said.append)
    assert asked == [(2, {"maxtime": 600.0, "maxenergy": 20000.0})]
    assert said == ["https://pay.example/x"]
    with pytest.raises(ValueError, match="maxtime needs a number"):
        await execute(runtime, "qr 1 maxtime=soon", said.append)
