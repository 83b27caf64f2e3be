"""The ``status`` command's description of a station: with display messages, what the display shows."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from chargeplane.ocpp.messages import v201
from chargeplane.station.control import describe, execute
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


def test_status_hides_a_pin_C04_FR_04() -> None:
    rig = make_rig()
    runtime: Any = SimpleNamespace(core=rig.core, hardware=SimulatedStation.build("CS", 1))
    rig.do("ev_plugged", 1, 1)
    rig.do("pin_entered", "8642")
    text = describe(runtime)
    assert "authorized=(PIN)" in text
    assert "8642" not in text


class _Grid:
    """A runtime that records the V2X inputs (Q08 frequency, Q09 upstream load)."""

    def __init__(self) -> None:
        self.hardware = SimulatedStation.build("CS", 1)
        self.calls: list[tuple[str, float]] = []

    def set_grid_frequency(self, hz: float) -> None:
        self.calls.append(("frequency", hz))

    def upstream_load(self, load_w: float) -> None:
        self.calls.append(("load", load_w))


async def test_frequency_and_load_commands_reach_the_runtime() -> None:
    runtime: Any = _Grid()
    await execute(runtime, "frequency 49.95", print)
    await execute(runtime, "load -3000", print)
    assert runtime.calls == [("frequency", 49.95), ("load", -3000.0)]
    with pytest.raises(ValueError, match="frequency needs"):
        await execute(runtime, "frequency -1", print)
    with pytest.raises(ValueError, match="load needs"):
        await execute(runtime, "load lots", print)
