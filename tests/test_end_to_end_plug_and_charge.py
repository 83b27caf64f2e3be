"""Plug & Charge end to end on loopback with real ISO 15118-2 EXI: OUR 2.1 station's simulated EV has no contract;
M01 Install through OUR CSMS answered by the built-in test V2G PKI (``test_v2g_pki``); the EV verifies and
installs the contract certificate the MO sub-CA issued, then authorizes with it (C07) and the CSMS checks it
by OCSP at its own responder: accepted while it is good, refused once revoked."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chargeplane.csms.blocks.pki.settings import PkiSettings
from chargeplane.csms.clock import utc_now
from chargeplane.pki.ca import CertificateAuthority, verify_issued_by
from chargeplane.station.ev_contract import EvProvisioning
from chargeplane.station.hardware import LogDisplay, SimulatedContract, SimulatedEv
from chargeplane.station.runtime import StationRuntime
from tests.end_to_end import csms_and_station
from tests.test_end_to_end_tariff import until

pytestmark = pytest.mark.usefixtures("exi_codec")
STATION = "PNC-E2E"
# C07.FR.06: our station holds no MO root, so it passes the chain to the CSMS (PEM) for it to check
CENTRAL = {("ISO15118Ctrlr", "CentralContractValidationAllowed", None): "true"}


async def present_again(runtime: StationRuntime, ev: SimulatedEv) -> None:
    """The EV leaves and comes back: with its contract it now authorizes at once (C07)."""
    runtime.unplug(1)
    await asyncio.sleep(0.2)
    runtime.plug(1, 1, ev)


def shown(runtime: StationRuntime, text: str) -> bool:
    display = runtime.hardware.display
    assert isinstance(display, LogDisplay)
    return display.text.endswith(text)


def authorized(runtime: StationRuntime) -> bool:
    return runtime.core.ctx.evses[1].authorized is not None


@pytest.mark.serial  # the EXI codec's JVM calls take seconds on a loaded machine
async def test_M01_C07_ev_gets_its_contract_from_the_test_v2g_pki_and_authorizes_with_it(
    tmp_path: Path,
) -> None:
    ca_dir = tmp_path / "ca"
    mo = CertificateAuthority.init(ca_dir / "mo", "Chargeplane test MO", name="MO", now=utc_now())
    v2g = CertificateAuthority.init(ca_dir / "v2g", "Chargeplane V2G", name="V2G", now=utc_now())
    pki = PkiSettings(ca_dir=ca_dir, test_v2g_pki=True, revocation_validity=1.0)
    contract = SimulatedContract("", provisioning=EvProvisioning.generate((v2g.root,), utc_now()))
    ev = SimulatedEv(contract=contract)
    async with csms_and_station(tmp_path, STATION, [], blocks=(pki,), variables=CENTRAL) as (api, runtime):
        runtime.plug(1, 1, ev)  # no contract: Get15118EVCertificate Install with a signed request (M01.FR.01)
        await until(lambda: contract.installed or contract.refusals, "the EV took or refused its answer", 60)
        assert contract.refusals == []
        installed = contract.installed
        assert installed is not None
        leaf = installed.chain[0]
        assert verify_issued_by(leaf, mo.sub)  # issued by our MO sub-CA, the eMAID its CN
        assert contract.emaid == installed.emaid
        assert contract.certificate_pem == installed.pem()
        issued = (await api.get("/pki/certificates", params={"stationId": STATION})).json()["items"]
        assert [(c["serial"], c["source"]) for c in issued] == [
            (format(leaf.serial_number, "x"), "test-v2g-pki")
        ]
        # It authorized at once; its eMAID is not an id token of the CSMS yet: not accepted (C07.FR.13-14)
        await until(lambda: shown(runtime, f"{contract.emaid}: Unknown"), "unknown eMAID", 20)
        assert not authorized(runtime)

        created = await api.post("/id-tokens", json={"idToken": contract.emaid, "type": "eMAID"})
        assert created.status_code == 201, created.text
        await present_again(runtime, ev)  # C07.FR.06 / FR.05: chain to our MO root, OCSP good
        await until(lambda: authorized(runtime), "authorized with its contract certificate", 20)

        revoked = await api.post(
            f"/pki/mo/certificates/{format(leaf.serial_number, 'x')}/revoke", json={"reason": "keyCompromise"}
        )
        assert revoked.status_code == 200, revoked.text
        await asyncio.sleep(1.1)  # the CSMS's cached OCSP answer lives until its nextUpdate
        runtime.unplug(1)
        await until(lambda: not authorized(runtime), "the EV left", 10)
        await present_again(runtime, ev)  # C07.FR.16: revoked at our OCSP responder
        await until(lambda: shown(runtime, f"{contract.emaid}: Invalid"), "refused", 20)
        assert not authorized(runtime)


async def test_M01_test_v2g_pki_refuses_an_ev_that_trusts_none_of_its_roots(tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    CertificateAuthority.init(ca_dir / "mo", "Chargeplane test MO", name="MO", now=utc_now())
    CertificateAuthority.init(ca_dir / "v2g", "Chargeplane V2G", name="V2G", now=utc_now())
    foreign = CertificateAuthority.init(tmp_path / "foreign", "Elsewhere", now=utc_now())
    pki = PkiSettings(ca_dir=ca_dir, test_v2g_pki=True)
    contract = SimulatedContract("", provisioning=EvProvisioning.generate((foreign.root,), utc_now()))
    async with csms_and_station(tmp_path, STATION, [], blocks=(pki,)) as (api, runtime):
        runtime.plug(1, 1, SimulatedEv(contract=contract))
        await until(lambda: contract.answers, "the CSMS answered the EV's certificate request", 60)
        assert [(action, accepted) for action, accepted, _ in contract.answers] == [("Install", False)]
        assert contract.installed is None
        assert not authorized(runtime)
        issued = await api.get("/pki/certificates", params={"stationId": STATION})
        assert issued.json()["items"] == []  # nothing issued for a request it refused
