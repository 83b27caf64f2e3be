"""Certificates for the station tests, valid around the tests' clock (T0)."""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from chargeplane.tools.conformance.pki import Issued
from tests.station.core.helpers import T0

DAY = timedelta(days=1)


def issue(
    name: str,
    issuer: Issued | None = None,
    *,
    ca: bool = True,
    not_before: datetime = T0 - 10 * DAY,
    not_after: datetime = T0 + 365 * DAY,
    key: ec.EllipticCurvePrivateKey | None = None,
    public_key: ec.EllipticCurvePublicKey | None = None,
    ocsp_url: str | None = None,
) -> Issued:
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(public_key or key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ocsp_url is not None:
        access = x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
        )
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    return Issued(builder.sign(issuer.key if issuer else key, hashes.SHA256()), key)
