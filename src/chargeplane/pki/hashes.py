"""OCPP's ``CertificateHashData`` (2.0.1 Part 2 M-chapter datatypes; the 1.6 security extension's too) and the
OCSP request the station's ``OCSPRequestData`` stands for.

issuerNameHash is the hash of the issuer's DER-encoded name, issuerKeyHash the hash of the issuer's public key
bits (the BIT STRING of its SubjectPublicKeyInfo, without tag, length and unused-bits octet: RFC 6960's
CertID), serialNumber the serial in hexadecimal without leading zeros; all in lower case.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

HASH_ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}


@dataclass(frozen=True, slots=True)
class HashData:
    hash_algorithm: str  # SHA256 | SHA384 | SHA512
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    def wire(self) -> dict[str, str]:
        return {
            "hashAlgorithm": self.hash_algorithm,
            "issuerNameHash": self.issuer_name_hash,
            "issuerKeyHash": self.issuer_key_hash,
            "serialNumber": self.serial_number,
        }

    def normalised(self) -> HashData:
        """Lower case, the serial without leading zeros: two reports of one certificate compare equal."""
        return HashData(
            self.hash_algorithm,
            self.issuer_name_hash.lower(),
            self.issuer_key_hash.lower(),
            self.serial_number.lower().lstrip("0") or "0",
        )


def _der_length(data: bytes, at: int) -> tuple[int, int]:
    """(length, offset of the contents) of the DER element whose length octets start at ``at``."""
    first = data[at]
    if first < 0x80:
        return first, at + 1
    count = first & 0x7F
    return int.from_bytes(data[at + 1 : at + 1 + count], "big"), at + 1 + count


def key_bits(certificate: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's bits of ``certificate`` (what RFC 6960 hashes for issuerKeyHash)."""
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # SEQUENCE { SEQUENCE algorithm, BIT STRING subjectPublicKey }
    _, inner = _der_length(spki, 1)
    algorithm_length, algorithm_body = _der_length(spki, inner + 1)
    bit_string = algorithm_body + algorithm_length
    if spki[bit_string] != 0x03:
        raise ValueError("SubjectPublicKeyInfo without a BIT STRING")
    length, body = _der_length(spki, bit_string + 1)
    return spki[body + 1 : body + length]  # without the unused-bits octet


def _digest(algorithm: str, data: bytes) -> str:
    hasher = hashes.Hash(HASH_ALGORITHMS[algorithm]())
    hasher.update(data)
    return hasher.finalize().hex()


def hash_data(
    certificate: x509.Certificate, issuer: x509.Certificate | None, algorithm: str = "SHA256"
) -> HashData:
    """The hash data of ``certificate`` issued by ``issuer`` (None: self-signed, its own name and key)."""
    signer = certificate if issuer is None else issuer
    return HashData(
        algorithm,
        _digest(algorithm, signer.subject.public_bytes()),
        _digest(algorithm, key_bits(signer)),
        format(certificate.serial_number, "x"),
    )


def ocsp_request(data: HashData) -> bytes:
    """The DER OCSP request for the certificate ``data`` names (the station's OCSPRequestData, M06)."""
    builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        bytes.fromhex(data.issuer_name_hash),
        bytes.fromhex(data.issuer_key_hash),
        int(data.serial_number, 16),
        HASH_ALGORITHMS[data.hash_algorithm](),
    )
    return builder.build().public_bytes(serialization.Encoding.DER)
