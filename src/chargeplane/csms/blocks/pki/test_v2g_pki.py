"""The built-in test V2G PKI as the CSMS's contract-certificate backend (``test_v2g_pki``, development and
tests only): :class:`~chargeplane.pki.dev_v2g_pki.TestV2gPki` issuing from the CSMS's own CAs, contract
certificates from the ``mo`` CA and its SA provisioning certificate from the ``v2g`` CA, both recorded like any
certificate the CA issues, so that its OCSP responder and CRL know them (C07 checks the contract there)."""

from __future__ import annotations

import asyncio
import logging

from cryptography import x509

from chargeplane.csms.blocks.pki.service import PkiService
from chargeplane.csms.blocks.pki.settings import PkiSettings
from chargeplane.csms.settings import SettingsError
from chargeplane.pki.ca import CertificateAuthority
from chargeplane.pki.dev_v2g_pki import IssueError, TestV2gPki
from chargeplane.pki.v2g_exi import ExiError, start

log = logging.getLogger(__name__)

SOURCE = "test-v2g-pki"  # the certificates' source in the inventory (at most 16 characters)
SA_PROVISIONING = "SAProvisioningCertificate"


class ServiceIssuers:
    """:class:`~chargeplane.pki.dev_v2g_pki.Issuers` on the PKI service's CAs."""

    def __init__(self, service: PkiService) -> None:
        self.service = service

    async def contract(self, csr: x509.CertificateSigningRequest, station_id: str) -> list[x509.Certificate]:
        self._require("mo")
        _, chain = await self.service.issue(csr, "mo", "ContractCertificate", station_id, SOURCE)
        return chain

    async def sa_provisioning(self, csr: x509.CertificateSigningRequest) -> list[x509.Certificate]:
        authority = self._require("v2g")
        _, chain = await self.service.issue(csr, "v2g", SA_PROVISIONING, None, SOURCE)
        return [*chain, authority.root]

    def _require(self, kind: str) -> CertificateAuthority:
        authority = self.service.authority(kind)
        if authority is None:
            raise IssueError(f"no {kind} CA: run `chargeplane ca init --kind {kind}`")
        return authority


def oem_cas(settings: PkiSettings) -> list[x509.Certificate]:
    path = settings.test_v2g_pki_oem_cas
    if path is None:
        return []
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as error:
        raise SettingsError(f"test_v2g_pki_oem_cas {path}: {error}") from None


def backend(service: PkiService, settings: PkiSettings) -> TestV2gPki:
    return TestV2gPki(ServiceIssuers(service), service.clock.now, oem_cas(settings))


async def start_codec() -> None:
    """A background job: the EXI codec's JVM starts with the CSMS (seconds), not in the EV's 5 s for M01."""
    try:
        await asyncio.to_thread(start)
    except ExiError as error:
        log.warning("test V2G PKI: %s; it answers Failed until the codec can run", error)
