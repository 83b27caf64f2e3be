"""Checks that a revocation answer (an OCSP response, a CRL) really comes from the issuer of the certificate
it speaks about, so that a forged or redirected answer cannot make a revoked certificate look good.

RFC 6960 §4.2.2.2: an OCSP response is signed either by the issuer itself or by a responder the issuer
delegated (a certificate the issuer signed, with the id-kp-OCSPSigning extended key usage, carried in the
response). RFC 5280 §6.3.3: a CRL is signed by its issuer. Pure: no I/O.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from chargeplane.pki.hashes import HashData, hash_data, key_bits


def names_issuer(data: HashData, issuer: x509.Certificate) -> bool:
    """Whether ``data`` (a CertID's hashes) names ``issuer`` as the certificate's issuer."""
    try:
        ours = hash_data(issuer, issuer, data.hash_algorithm)
    except KeyError:
        return False
    return (ours.issuer_name_hash, ours.issuer_key_hash) == (
        data.issuer_name_hash.lower(),
        data.issuer_key_hash.lower(),
    )


def _sha1(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SHA1())  # the ResponderID's byKey hash is SHA-1 (RFC 6960 §4.2.1)
    digest.update(data)
    return digest.finalize()


def _identifies(response: ocsp.OCSPResponse, certificate: x509.Certificate) -> bool:
    """Whether the response's ResponderID (by key hash or by name) designates ``certificate``."""
    if response.responder_key_hash is not None:
        return response.responder_key_hash == _sha1(key_bits(certificate))
    return response.responder_name == certificate.subject


def _signature_valid(
    key: object, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None
) -> bool:
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        return False
    return True


def _delegated(responder: x509.Certificate, issuer: x509.Certificate, now: datetime) -> bool:
    """A responder certificate the issuer signed for OCSP signing, valid now (RFC 6960 §4.2.2.2)."""
    try:
        responder.verify_directly_issued_by(issuer)
        usages = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (InvalidSignature, ValueError, TypeError, x509.ExtensionNotFound):
        return False
    return (
        ExtendedKeyUsageOID.OCSP_SIGNING in usages
        and responder.not_valid_before_utc <= now <= responder.not_valid_after_utc
    )


def ocsp_signed_by_issuer(response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime) -> bool:
    """Whether a successful OCSP response is signed by ``issuer`` or by a responder ``issuer`` delegated."""
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return False
    if _identifies(response, issuer):
        signer = issuer
    else:
        delegated = [c for c in response.certificates if _identifies(response, c)]
        if not delegated or not _delegated(delegated[0], issuer, now):
            return False
        signer = delegated[0]
    return _signature_valid(
        signer.public_key(),
        response.signature,
        response.tbs_response_bytes,
        response.signature_hash_algorithm,
    )


def crl_signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` issued and signed ``crl``."""
    if crl.issuer != issuer.subject:
        return False
    try:
        return crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (TypeError, UnsupportedAlgorithm, ValueError):
        return False
