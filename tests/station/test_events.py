"""The console's event lines: what the display shows (display messages, O01-O06) is said when it changes."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from chargeplane.ocpp.messages import v201
from chargeplane.station.events import EventReporter
from chargeplane.station.runtime import CallStats
from tests.station.core.helpers import make_rig

M, D = v201.messages, v201.datatypes


def test_the_display_message_shown_is_an_event_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "chargeplane.station.events")
    rig = make_rig()
    runtime: Any = SimpleNamespace(core=rig.core, connected=asyncio.Event(), stats=CallStats())
    reporter = EventReporter()
    reporter(runtime)
    content = D.MessageContentType(format="ASCII", content="Free parking tonight")
    rig.handle(
        M.SetDisplayMessageRequest(message=D.MessageInfoType(id=1, priority="InFront", message=content))
    )
    reporter(runtime)
    rig.handle(M.ClearDisplayMessageRequest(id=1))
    reporter(runtime)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("display:")]
    assert lines == ["display: Free parking tonight", "display: (no display message)"]
