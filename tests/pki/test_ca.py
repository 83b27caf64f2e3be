"""The CA logic (no database): CSR refusals before signing, issued certificates' properties (A00.FR.5xx), CRL
and OCSP responses verified with ``cryptography``, OCPP hash data = RFC 6960 CertID."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from chargeplane.pki.ca import (
    CertificateAuthority,
    CertStatus,
    CsrPolicy,
    CsrRefused,
    RevocationEntry,
    Status,
    Urls,
    check_csr,
    generate_key,
)
from chargeplane.pki.hashes import HashData, hash_data, ocsp_request

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
POLICY = CsrPolicy("Acme", "CS1")


def csr(
    names: list[x509.NameAttribute] | None = None,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
    extensions: list[x509.ExtensionType] = (),  # type: ignore[assignment]
) -> str:
    key = key or generate_key("ec-p256")
    names = names or [
        x509.NameAttribute(NameOID.COMMON_NAME, "CS1"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme"),
    ]
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names))
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module", params=["ec-p256", "rsa2048"])
def ca(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority.init(
        tmp_path_factory.mktemp("ca") / "station", "Acme", algorithm=request.param, now=NOW
    )


def test_a_good_csr_passes_for_every_allowed_key() -> None:
    for algorithm in ("ec-p256", "ec-p384", "rsa2048"):
        assert check_csr(csr(key=generate_key(algorithm)), POLICY).subject.rfc4514_string() == "O=Acme,CN=CS1"


@pytest.mark.parametrize(
    ("pem", "reason"),
    [
        ("not a csr", "unreadable"),
        (csr(key=rsa.generate_private_key(public_exponent=65537, key_size=1024)), "RSA key of 1024 bits"),
        (csr(key=ec.generate_private_key(ec.SECP256K1())), "curve secp256k1 not allowed"),
        (
            csr(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, "CS2"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme"),
                ]
            ),
            "CN",
        ),
        (
            csr(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, "CS1"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Evil"),
                ]
            ),
            "organisation",
        ),
        (csr([x509.NameAttribute(NameOID.COMMON_NAME, "CS1")]), "organisation"),
        (
            csr(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, "CS1"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "CS3"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme"),
                ]
            ),
            "exactly one CN",
        ),
        (
            csr(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, "CS1"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme"),
                    x509.NameAttribute(NameOID.EMAIL_ADDRESS, "a@b.c"),
                ]
            ),
            "subject attribute",
        ),
        (csr(extensions=[x509.SubjectAlternativeName([x509.DNSName("csms.example")])]), "extension"),
        (csr(extensions=[x509.BasicConstraints(ca=True, path_length=None)]), "extension"),
    ],
)
def test_A02_FR_07_csr_refusals(pem: str, reason: str) -> None:
    with pytest.raises(CsrRefused) as refused:
        check_csr(pem, POLICY)
    assert reason in refused.value.reason


def test_a_csr_whose_signature_does_not_verify_is_refused() -> None:
    good = x509.load_pem_x509_csr(csr().encode()).public_bytes(serialization.Encoding.DER)
    tampered = bytearray(good)
    tampered[-5] ^= 0x01  # inside the signature
    pem = x509.load_der_x509_csr(bytes(tampered)).public_bytes(serialization.Encoding.PEM).decode()
    with pytest.raises(CsrRefused, match="signature"):
        check_csr(pem, POLICY)


def test_issued_certificate_properties(ca: CertificateAuthority) -> None:
    request = check_csr(csr(), POLICY)
    urls = Urls("http://127.0.0.1:1/crl", "http://127.0.0.1:1/ocsp")
    leaf = ca.issue(request, now=NOW, days=365, urls=urls)
    leaf.verify_directly_issued_by(ca.sub)
    ca.sub.verify_directly_issued_by(ca.root)
    assert leaf.subject == request.subject
    assert leaf.not_valid_after_utc == NOW + timedelta(days=365)
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert leaf.signature_hash_algorithm is not None
    assert leaf.signature_hash_algorithm.name == "sha256"  # A00.FR.507
    access = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert access[0].access_location.value == urls.ocsp
    chain = x509.load_pem_x509_certificates(ca.chain(leaf).encode())
    assert chain == [leaf, ca.sub]
    longer = ca.issue(request, now=NOW, days=100_000)  # never past the sub-CA
    assert longer.not_valid_after_utc == ca.sub.not_valid_after_utc


def test_ca_reloads_from_its_directory(ca: CertificateAuthority) -> None:
    again = CertificateAuthority.load(ca.directory)
    assert (again.root, again.sub) == (ca.root, ca.sub)
    assert CertificateAuthority.exists(ca.directory)
    assert not CertificateAuthority.exists(Path("/nonexistent"))


def test_crl_lists_revoked_and_is_signed_by_the_sub_ca(ca: CertificateAuthority) -> None:
    entries = [RevocationEntry(1234, NOW, x509.ReasonFlags.key_compromise)]
    crl = ca.crl(entries, now=NOW, next_update=NOW + timedelta(hours=1), number=7)
    public = ca.sub.public_key()
    assert isinstance(public, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey))
    assert crl.is_signature_valid(public)
    revoked = crl.get_revoked_certificate_by_serial_number(1234)
    assert revoked is not None
    assert crl.get_revoked_certificate_by_serial_number(99) is None
    assert crl.next_update_utc == NOW + timedelta(hours=1)


def test_ocsp_good_revoked_unknown_malformed_unauthorized(ca: CertificateAuthority) -> None:
    leaf = ca.issue(check_csr(csr(), POLICY), now=NOW, days=30)
    statuses = {leaf.serial_number: CertStatus(Status.REVOKED, NOW, x509.ReasonFlags.superseded)}

    def status_of(serial: int) -> CertStatus:
        return statuses.get(serial, CertStatus(Status.GOOD))

    data = hash_data(leaf, ca.sub, "SHA384")
    request = ocsp_request(data)
    same = ocsp.OCSPRequestBuilder().add_certificate(leaf, ca.sub, hashes.SHA384()).build()
    assert request == same.public_bytes(serialization.Encoding.DER)  # OCPP hash data = RFC 6960 CertID
    response = ocsp.load_der_ocsp_response(
        ca.ocsp_response(request, status_of, now=NOW, next_update=NOW + timedelta(hours=1))
    )
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_reason == x509.ReasonFlags.superseded
    assert response.certificates == [ca.sub]
    del statuses[leaf.serial_number]
    good = ocsp.load_der_ocsp_response(ca.ocsp_response(request, status_of, now=NOW, next_update=NOW))
    assert good.certificate_status == ocsp.OCSPCertStatus.GOOD
    malformed = ocsp.load_der_ocsp_response(
        ca.ocsp_response(b"\x30\x00", status_of, now=NOW, next_update=NOW)
    )
    assert malformed.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    foreign = ocsp_request(HashData("SHA256", "00" * 32, "11" * 32, "1"))
    unauthorized = ocsp.load_der_ocsp_response(ca.ocsp_response(foreign, status_of, now=NOW, next_update=NOW))
    assert unauthorized.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_hash_data_of_a_root_is_its_own_and_normalises() -> None:
    key = generate_key("ec-p256")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "R")])
    root = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x0ABC)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    data = hash_data(root, None)
    assert data.serial_number == "abc"
    assert (
        HashData("SHA256", data.issuer_name_hash.upper(), data.issuer_key_hash, "0ABC").normalised() == data
    )


def test_ocsp_about_the_sub_ca_is_answered_by_the_root(ca: CertificateAuthority) -> None:
    request = ocsp.OCSPRequestBuilder().add_certificate(ca.sub, ca.root, hashes.SHA256()).build()
    der = request.public_bytes(serialization.Encoding.DER)
    reloaded = CertificateAuthority.load(ca.directory)  # the root's key comes from its file
    response = ocsp.load_der_ocsp_response(
        reloaded.ocsp_response(der, lambda _: CertStatus(Status.REVOKED), now=NOW, next_update=NOW)
    )
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert response.certificates == [ca.root]
