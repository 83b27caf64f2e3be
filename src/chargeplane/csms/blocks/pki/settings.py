"""Settings of the PKI block (``CHARGEPLANE_PKI_*``): where the CA lives, what it signs, when it renews."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from typing_extensions import Doc

from chargeplane.csms.settings import SettingsError, csms_data_dir


def default_ca_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$CHARGEPLANE_DATA_DIR/csms/ca``, else ``$XDG_DATA_HOME/chargeplane/csms/ca``, else
    ``~/.local/share/chargeplane/csms/ca``."""
    return csms_data_dir(environ) / "ca"


@dataclass(frozen=True)
class PkiSettings:
    ca_dir: Annotated[
        Path | None,
        Doc(
            "the CA directory: station/ (the operator's root and station sub-CA), v2g/ (the V2G root and "
            "CPO sub-CA) and mo/ (an MO root and sub-CA for contract certificates, development), made by "
            "`chargeplane ca init --kind`; private keys in files of mode 0600 (default: csms/ca "
            "under $CHARGEPLANE_DATA_DIR, else under $XDG_DATA_HOME/chargeplane or ~/.local/share/chargeplane)"
        ),
    ] = None
    organisation: Annotated[
        str | None,
        Doc(
            "the O (organizationName) every CSR must carry (A00.FR.509); default: the O of the station sub-CA"
        ),
    ] = None
    certificate_days: Annotated[int, Doc("validity of an issued station or V2G certificate, in days")] = 365
    renew_before_days: Annotated[
        float,
        Doc(
            "the CSMS asks a station for a new certificate (TriggerMessage / ExtendedTriggerMessage "
            "SignChargingStationCertificate, A02) this many days before the one it issued expires"
        ),
    ] = 30.0
    renewal_interval: Annotated[float, Doc("seconds between two passes of the renewal job")] = 3600.0
    revocation_validity: Annotated[
        float, Doc("seconds a published CRL or OCSP response stays valid (its nextUpdate)")
    ] = 3600.0
    ocsp_timeout: Annotated[
        float, Doc("seconds to wait for an OCSP responder when a station asks GetCertificateStatus (M06)")
    ] = 5.0
    public_url: Annotated[
        str | None,
        Doc(
            "the HTTP API's base URL as stations and relying parties reach it (http://host:port), put in the "
            "CRL distribution point and OCSP responder of issued certificates; default: the API's listen "
            "address and port"
        ),
    ] = None

    external_ca: Annotated[
        str | None,
        Doc(
            "an operator's own CA for station certificates instead of the built-in one: `module:factory`, a "
            "callable that takes these settings and returns a chargeplane.pki.ca.ExternalCa (its sign(csr, "
            "certificateType, stationId) gives the chain, leaf first); CSRs are checked before it is called"
        ),
    ] = None

    contract_backend: Annotated[
        str | None,
        Doc(
            "the contract-certificate backend that answers Get15118EVCertificate (M01/M02): `module:factory`, "
            "a callable that takes these settings and returns a chargeplane.pki.contract."
            "ContractCertificateBackend; default: the HTTP backend when contract_service_url is set, else none "
            "(the CSMS answers Failed)"
        ),
    ] = None

    contract_service_url: Annotated[
        str | None,
        Doc(
            "an operator's contract-certificate service (a mobility operator's PKI or a contract certificate "
            "pool) that the CSMS forwards Get15118EVCertificate to: POST JSON {exiRequest, "
            "iso15118SchemaVersion, action, stationId} answered {status, exiResponse}"
        ),
    ] = None

    contract_service_timeout: Annotated[
        float,
        Doc("seconds to wait for the contract-certificate service (ISO 15118-2 gives the EV 5 s in all)"),
    ] = 4.0

    test_v2g_pki: Annotated[
        bool,
        Doc(
            "DEVELOPMENT AND TESTS ONLY: answer Get15118EVCertificate (M01) with the built-in test V2G PKI, "
            "which decodes the EV's ISO 15118-2 CertificateInstallationReq (EXI; needs java, py4j and the "
            "iso15118 package's EXICodec.jar), issues a contract certificate from the mo CA and signs the "
            "response with an SA provisioning certificate from the v2g CA; not with contract_backend or "
            "contract_service_url"
        ),
    ] = False
    test_v2g_pki_oem_cas: Annotated[
        Path | None,
        Doc(
            "with test_v2g_pki: a PEM file of the OEM CA certificates that issue the EVs' provisioning "
            "certificates; a request whose OEMProvisioningCert none of them issued is refused (default: any OEM)"
        ),
    ] = None

    def __post_init__(self) -> None:
        if self.certificate_days < 1:
            raise SettingsError("certificate_days must be >= 1")
        if self.renew_before_days < 0:
            raise SettingsError("renew_before_days must be >= 0")
        timeouts = (self.ocsp_timeout, self.contract_service_timeout)
        if self.renewal_interval <= 0 or self.revocation_validity <= 0 or min(timeouts) <= 0:
            raise SettingsError(
                "renewal_interval, revocation_validity, ocsp_timeout and contract_service_timeout must be > 0"
            )
        url = self.contract_service_url
        if url is not None and not url.startswith(("http://", "https://")):
            raise SettingsError("contract_service_url must start with http:// or https://")
        if self.public_url is not None and not self.public_url.startswith(("http://", "https://")):
            raise SettingsError("public_url must start with http:// or https://")
        if self.test_v2g_pki and (self.contract_backend is not None or url is not None):
            raise SettingsError(
                "test_v2g_pki is a contract backend: not with contract_backend or contract_service_url"
            )
        for name in ("external_ca", "contract_backend"):
            value = getattr(self, name)
            if value is not None and ":" not in value:
                raise SettingsError(f"{name} must be module:factory")

    def directory(self) -> Path:
        return self.ca_dir if self.ca_dir is not None else default_ca_dir()
