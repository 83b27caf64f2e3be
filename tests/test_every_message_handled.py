"""No message of any version is answered NotSupported by our products: the CSMS has a handler (or, for a 2.1
SEND, a consumer) for every action a station sends, and our station for every action a CSMS sends (issues
#14, #16, #17: "nothing answered NotSupported")."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargeplane.csms.app import Csms
from chargeplane.csms.settings import CsmsSettings
from chargeplane.ocpp.catalog import CSMS, STATION, ActionCatalog
from chargeplane.ocpp.versions import Version
from chargeplane.station.runtime import _build_routers


@pytest.mark.parametrize("version", list(Version))
def test_the_csms_handles_every_action_a_station_sends(version: Version, tmp_path: Path) -> None:
    csms = Csms(CsmsSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}"))
    router = csms.routers[version]
    received = {
        a for a, spec in ActionCatalog.for_version(version).actions.items() if spec.direction in CSMS.receives
    }
    assert received - router.handled_actions - router.consumed_sends == set()


@pytest.mark.parametrize("version", list(Version))
def test_our_station_handles_every_action_a_csms_sends(version: Version) -> None:
    router = _build_routers(version)[version]
    received = {
        a
        for a, spec in ActionCatalog.for_version(version).actions.items()
        if spec.direction in STATION.receives
    }
    assert received - router.handled_actions - router.consumed_sends == set()
