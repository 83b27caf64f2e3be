"""M01 answered by the built-in test V2G PKI (``test_v2g_pki``), with the `ocpp` package as the 2.0.1
station (it checks each answer against the OCA schema): a real ISO 15118-2 CertificateInstallationReq comes back
Accepted with a CertificateInstallationRes our simulated EV verifies and installs, a bad one Failed with a
statusInfo saying why; the setting's own rules."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from chargeplane.csms.blocks.pki.service import PkiService
from chargeplane.csms.blocks.pki.settings import PkiSettings
from chargeplane.csms.blocks.pki.test_v2g_pki import oem_cas
from chargeplane.csms.clock import ManualClock, utc_now
from chargeplane.csms.settings import SettingsError
from chargeplane.pki.ca import CertificateAuthority
from chargeplane.pki.dev_v2g_pki import TestV2gPki
from chargeplane.station.ev_contract import EvProvisioning
from tests.csms.conftest import running, settings_for
from tests.csms.peers import MODULES, boot, peer

SCHEMA = "urn:iso:15118:2:2013:MsgDef"


def test_test_v2g_pki_is_one_backend_and_reads_its_oem_cas(tmp_path: Path) -> None:
    for other in ({"contract_service_url": "http://127.0.0.1:1/c"}, {"contract_backend": "m:f"}):
        with pytest.raises(SettingsError, match="test_v2g_pki"):
            PkiSettings(ca_dir=tmp_path, test_v2g_pki=True, **other)  # type: ignore[arg-type]
    assert oem_cas(PkiSettings(ca_dir=tmp_path, test_v2g_pki=True)) == []
    ev = EvProvisioning.generate((), utc_now())
    assert ev.oem_ca is not None
    bundle = tmp_path / "oem.pem"
    bundle.write_bytes(ev.oem_ca.public_bytes(serialization.Encoding.PEM))
    assert oem_cas(PkiSettings(ca_dir=tmp_path, test_v2g_pki=True, test_v2g_pki_oem_cas=bundle)) == [
        ev.oem_ca
    ]
    with pytest.raises(SettingsError, match="test_v2g_pki_oem_cas"):
        oem_cas(
            PkiSettings(ca_dir=tmp_path, test_v2g_pki=True, test_v2g_pki_oem_cas=tmp_path / "missing.pem")
        )


@pytest.mark.serial  # the EXI codec's JVM calls take seconds on a loaded machine
@pytest.mark.usefixtures("exi_codec")
async def test_M01_ocpp_package_station_gets_a_real_contract_from_the_test_v2g_pki(
    database_url: str, tmp_path: Path
) -> None:
    version = "2.0.1"  # 2.1: our own station, tests/test_end_to_end_plug_and_charge.py
    ca_dir = tmp_path / "ca"
    CertificateAuthority.init(ca_dir / "mo", "Test MO", name="MO", now=utc_now())
    v2g = CertificateAuthority.init(ca_dir / "v2g", "Test V2G", name="V2G", now=utc_now())
    ev = EvProvisioning.generate((v2g.root,), utc_now())
    call = MODULES[version].call
    pki = PkiSettings(ca_dir=ca_dir, test_v2g_pki=True)
    async with running(settings_for(database_url, pki), ManualClock()) as csms:
        assert isinstance(csms.app.blocks.require(PkiService).contracts, TestV2gPki)
        await csms.add_station("PNC30")
        async with peer(csms.ocpp_url, "PNC30", version) as station:
            await boot(station, version)
            request = base64.b64encode(ev.request()).decode()
            answer = await station.call(
                call.Get15118EVCertificate(
                    iso15118_schema_version=SCHEMA, action="Install", exi_request=request
                )
            )
            assert answer.status == "Accepted"
            contract = ev.install(base64.b64decode(answer.exi_response), utc_now())
            assert contract.chain[1] == CertificateAuthority.load(ca_dir / "mo").sub
            garbage = base64.b64encode(b"not EXI").decode()
            refused = await station.call(
                call.Get15118EVCertificate(
                    iso15118_schema_version=SCHEMA, action="Install", exi_request=garbage
                )
            )
            assert refused.status == "Failed"
            assert refused.status_info["reason_code"] == "InvalidExi"
