"""The ``status`` command's description of a station: with display messages, what the display shows."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from chargeplane.ocpp.messages import v201
from chargeplane.station.control import describe
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
