"""C07.FR.06: checks of an ISO 15118 contract certificate chain that a station passes in PEM (Authorize's
``certificate``) for the CSMS to validate, before the leaf's revocation is asked by OCSP.

Pure (no I/O): the chain is the leaf first, then its sub-CAs; each must be signed by the next, and the last by a
root the operator trusts (an MO or V2G root; a root the station sent along is ignored, trust comes only from the
CSMS's own list). The answer is an AuthorizeCertificateStatusEnumType value:

* NoCertificateAvailable: the field holds no certificate;
* CertChainError: not PEM certificates, the names do not chain, no trusted root issued the last one, or the
  leaf does not name the eMAID presented (the errata of TC_C_50_CSMS: the contract's CN is the eMAID);
* SignatureError: the names chain but a signature does not verify (a forged or altered certificate);
* CertificateExpired: a certificate of the chain (the root included) is outside its validity (C07.FR.15);
* Accepted: then the caller asks the leaf's OCSP responder (C07.FR.05).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
MAX_CHAIN = 5  # leaf, up to 2 sub-CAs in ISO 15118-2, a little slack; anything longer is not a contract chain

ACCEPTED = "Accepted"
CHAIN_ERROR = "CertChainError"
SIGNATURE_ERROR = "SignatureError"
EXPIRED = "CertificateExpired"
NO_CERTIFICATE = "NoCertificateAvailable"


@dataclass(frozen=True, slots=True)
class ChainCheck:
    status: str
    leaf: x509.Certificate | None = None
    issuer: x509.Certificate | None = None  # the leaf's issuer (for the OCSP request's CertID)


def parse_chain(pem: str) -> list[x509.Certificate] | None:
    """The certificates of a PEM chain in order; [] when there is none; None when one is not a certificate."""
    blocks = PEM_BLOCK.findall(pem.encode())
    try:
        return [x509.load_pem_x509_certificate(block) for block in blocks]
    except ValueError:
        return None


def _signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool | None:
    """True: ``issuer`` signed it; False: the names match but the signature fails; None: not its issuer."""
    if certificate.issuer != issuer.subject:
        return None
    try:
        certificate.verify_directly_issued_by(issuer)
    except InvalidSignature:
        return False
    except (ValueError, TypeError):  # names chain, but an unsupported key or signature algorithm
        return False
    return True


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def normalised_emaid(emaid: str) -> str:
    """An eMAID compared without its optional separators and case (DE-8AA-123 equals de8aa123)."""
    return emaid.replace("-", "").casefold()


def common_name(certificate: x509.Certificate) -> str | None:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else None
    return value if isinstance(value, str) else None


def ocsp_url(certificate: x509.Certificate) -> str | None:
    """The OCSP responder the certificate names (authorityInfoAccess), if any."""
    try:
        access = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    except x509.ExtensionNotFound:
        return None
    for description in access.value:
        if description.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
            description.access_location, x509.UniformResourceIdentifier
        ):
            return description.access_location.value
    return None


def check_chain(pem: str, emaid: str, roots: list[x509.Certificate], now: datetime) -> ChainCheck:
    """The status of the contract chain ``pem`` for the eMAID ``emaid`` under ``roots`` at ``now``."""
    chain = parse_chain(pem)
    if chain is None:
        return ChainCheck(CHAIN_ERROR)
    if not chain:
        return ChainCheck(NO_CERTIFICATE)
    if len(chain) > MAX_CHAIN:
        return ChainCheck(CHAIN_ERROR)
    leaf = chain[0]
    name = common_name(leaf)
    if name is None or normalised_emaid(name) != normalised_emaid(emaid):
        return ChainCheck(CHAIN_ERROR)
    # A self-signed certificate the station appended is not trusted for being there: drop it, the CSMS's
    # own root must sign the last sub-CA.
    links = [c for c in chain if c.issuer != c.subject or c is leaf]
    if any(not _is_ca(c) for c in links[1:]):
        return ChainCheck(CHAIN_ERROR)
    for child, parent in itertools.pairwise(links):
        signed = _signed_by(child, parent)
        if signed is None:
            return ChainCheck(CHAIN_ERROR)
        if not signed:
            return ChainCheck(SIGNATURE_ERROR)
    top = links[-1]
    verdicts = [_signed_by(top, root) for root in roots]
    if True in verdicts:
        root = roots[verdicts.index(True)]
    elif False in verdicts:
        return ChainCheck(SIGNATURE_ERROR)
    else:
        return ChainCheck(CHAIN_ERROR)
    if any(not c.not_valid_before_utc <= now <= c.not_valid_after_utc for c in (*links, root)):
        return ChainCheck(EXPIRED)
    return ChainCheck(ACCEPTED, leaf, links[1] if len(links) > 1 else root)
