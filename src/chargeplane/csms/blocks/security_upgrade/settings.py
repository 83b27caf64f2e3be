"""Settings of the security profile block (``CHARGEPLANE_SECURITY_UPGRADE_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from typing_extensions import Doc


@dataclass(frozen=True)
class SecurityUpgradeSettings:
    tls_crl_check: Annotated[
        bool,
        Doc(
            "when the TLS listener asks for client certificates (--client-ca) and the built-in station CA "
            "exists: refuse, in the TLS handshake, a station certificate the CA revoked (its CRL); a client "
            "certificate of another CA is then refused too (no CRL for it)"
        ),
    ] = True
    crl_refresh_interval: Annotated[
        float,
        Doc(
            "seconds between two reloads of the CA's CRL into the TLS listener (a revocation through the API "
            "applies at once; one by `chargeplane ca revoke` at the next reload); keep it well below the PKI's "
            "revocation_validity, after which an unrefreshed CRL would refuse every client certificate"
        ),
    ] = 60.0
    csms_root_file: Annotated[
        Path | None,
        Doc(
            "PEM file of the root CA the CSMS's TLS server certificate chains to: the CSMSRootCertificate an "
            "upgrade installs first (a request may give its own)"
        ),
    ] = None
    step_timeout: Annotated[
        float,
        Doc("seconds each step of an upgrade may take (the station's answer, its certificate, its return)"),
    ] = 120.0
