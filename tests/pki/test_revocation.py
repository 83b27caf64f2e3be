"""A revocation answer counts only when the certificate's issuer (or a responder it delegated) signed it
(RFC 6960 §4.2.2.2, RFC 5280 §6.3.3): a forged OCSP response or CRL is recognised as such."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from chargeplane.pki.hashes import hash_data
from chargeplane.pki.revocation import crl_signed_by, names_issuer, ocsp_signed_by_issuer

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
Key = ec.EllipticCurvePrivateKey


def certificate(
    name: str, key: Key, issuer: x509.Certificate | None, signer: Key, *, ca: bool, ocsp_signing: bool = False
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ocsp_signing:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


def new_key() -> Key:
    return ec.generate_private_key(ec.SECP256R1())


CA_KEY, OTHER_KEY, LEAF_KEY, RESPONDER_KEY = new_key(), new_key(), new_key(), new_key()
CA = certificate("MO Sub-CA", CA_KEY, None, CA_KEY, ca=True)
OTHER = certificate("MO Sub-CA", OTHER_KEY, None, OTHER_KEY, ca=True)  # same name, another key: an impostor
LEAF = certificate("DE8AA1234567890", LEAF_KEY, CA, CA_KEY, ca=False)


def response(
    signer: x509.Certificate,
    key: Key,
    *,
    extra: list[x509.Certificate] | None = None,
    by: ocsp.OCSPResponderEncoding = ocsp.OCSPResponderEncoding.HASH,
) -> ocsp.OCSPResponse:
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=LEAF,
            issuer=CA,
            algorithm=hashes.SHA256(),
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=NOW,
            next_update=NOW + timedelta(days=1),
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(by, signer)
    )
    if extra:
        builder = builder.certificates(extra)
    return builder.sign(key, hashes.SHA256())


def test_an_answer_signed_by_the_issuer_counts() -> None:
    assert ocsp_signed_by_issuer(response(CA, CA_KEY), CA, NOW)


def test_an_answer_by_name_signed_with_another_key_is_forged() -> None:
    # The impostor has the issuer's name; by name the responder id designates the issuer, the signature fails.
    forged = response(OTHER, OTHER_KEY, by=ocsp.OCSPResponderEncoding.NAME)
    assert not ocsp_signed_by_issuer(forged, CA, NOW)
    assert not ocsp_signed_by_issuer(response(OTHER, OTHER_KEY), CA, NOW)


def test_a_delegated_responder_counts_only_with_the_ocsp_signing_usage_and_the_issuers_signature() -> None:
    delegated = certificate("OCSP", RESPONDER_KEY, CA, CA_KEY, ca=False, ocsp_signing=True)
    assert ocsp_signed_by_issuer(response(delegated, RESPONDER_KEY, extra=[delegated]), CA, NOW)
    assert not ocsp_signed_by_issuer(response(delegated, RESPONDER_KEY), CA, NOW)  # its certificate not sent
    plain = certificate("OCSP", RESPONDER_KEY, CA, CA_KEY, ca=False)
    assert not ocsp_signed_by_issuer(response(plain, RESPONDER_KEY, extra=[plain]), CA, NOW)
    foreign = certificate("OCSP", RESPONDER_KEY, OTHER, OTHER_KEY, ca=False, ocsp_signing=True)
    assert not ocsp_signed_by_issuer(response(foreign, RESPONDER_KEY, extra=[foreign]), CA, NOW)
    later = NOW + timedelta(days=60)  # the responder's certificate has expired
    assert not ocsp_signed_by_issuer(response(delegated, RESPONDER_KEY, extra=[delegated]), CA, later)


def test_an_unsuccessful_response_never_counts() -> None:
    assert not ocsp_signed_by_issuer(
        ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER), CA, NOW
    )


def crl(issuer: x509.Certificate, key: Key) -> x509.CertificateRevocationList:
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(NOW)
        .next_update(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def test_a_crl_counts_only_when_signed_by_its_issuer() -> None:
    assert crl_signed_by(crl(CA, CA_KEY), CA)
    assert not crl_signed_by(crl(OTHER, OTHER_KEY), CA)  # same name, another key


def test_hash_data_names_its_issuer() -> None:
    data = hash_data(LEAF, CA, "SHA384")
    assert names_issuer(data, CA)
    assert not names_issuer(data, OTHER)
    assert not names_issuer(data, LEAF)
