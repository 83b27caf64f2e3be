"""The composition of the core: controllers registered once, shared tables, one device model."""

from __future__ import annotations

import pytest

from chargeplane.ocpp.versions import Version
from chargeplane.station.core.device_model import StationLayout
from chargeplane.station.core.station import CONTROLLERS, StationCore, handler_table, standard_variables
from chargeplane.station.core.storage import MemoryStorage
from tests.station.core.helpers import T0


@pytest.mark.parametrize("version", list(Version))
def test_handler_table_built_once_per_version_and_shared_by_every_core(version: Version) -> None:
    first = StationCore(version, MemoryStorage(), T0)
    second = StationCore(version, MemoryStorage(), T0)
    assert first.handled_requests() == second.handled_requests() == list(handler_table(version))
    assert handler_table(version) is handler_table(version)


def test_each_controller_declares_its_own_variables_once() -> None:
    layout = StationLayout(connectors=(2, 1))
    keys = [definition.key for definition in standard_variables(layout)]
    assert len(keys) == len(set(keys))
    owners = {kind.__name__: {d.key.component for d in kind.variables(layout)} for kind in CONTROLLERS}
    assert owners["Transactions"] >= {"TxCtrlr"}
    assert owners["Metering"] == {"SampledDataCtrlr", "AlignedDataCtrlr"}
    assert owners["Reservations"] == {"ReservationCtrlr"}


def test_controllers_know_their_place_in_the_core() -> None:
    core = StationCore(Version.V201, MemoryStorage(), T0)
    assert [type(c) for c in core.ctx.controllers] == list(CONTROLLERS)
    assert all(core.ctx.get(kind) is core.ctx.controllers[i] for i, kind in enumerate(CONTROLLERS))
