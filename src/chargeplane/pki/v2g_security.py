"""ISO 15118-2 message security for certificate installation: the xmldsig signature over EXI fragments (the
digest of each signed element's EXI, the ECDSA-SHA256 of the EXI ``SignedInfo``, a raw r || s value), and the
contract private key sent encrypted to the EV (ephemeral ECDH with the OEM provisioning key, the concatenation
KDF of NIST SP 800-56A with SHA-256, AES-128-CBC, the IV first)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from chargeplane.pki.v2g_exi import (
    CANONICAL_EXI,
    ECDSA_SHA256,
    SHA256,
    Reference,
    Signature,
    SignedInfo,
    encode_signed_info,
)

CURVE = ec.SECP256R1()  # ISO 15118-2: every key of the Plug & Charge PKI is on secp256r1
KEY_BYTES = 32
IV_BYTES = 16
# The KDF's OtherInfo: AlgorithmID 0x01, PartyUInfo 'U' (0x55), PartyVInfo 'V' (0x56); a 128-bit AES key.
OTHER_INFO = bytes((0x01, 0x55, 0x56))


class KeyDecryptionError(Exception):
    pass


def _digest(data: bytes) -> bytes:
    hasher = hashes.Hash(hashes.SHA256())
    hasher.update(data)
    return hasher.finalize()


def sign(elements: Sequence[tuple[str, bytes]], key: ec.EllipticCurvePrivateKey) -> Signature:
    """The Signature of the header over ``elements`` (Id, EXI fragment), made with ``key``."""
    info = SignedInfo(tuple(Reference(f"#{identifier}", _digest(exi)) for identifier, exi in elements))
    r, s = decode_dss_signature(key.sign(encode_signed_info(info), ec.ECDSA(hashes.SHA256())))
    return Signature(info, r.to_bytes(KEY_BYTES, "big") + s.to_bytes(KEY_BYTES, "big"))


def signature_problem(
    signature: Signature | None, elements: Sequence[tuple[str, bytes]], key: ec.EllipticCurvePublicKey
) -> str | None:
    """Why ``signature`` does not prove that the holder of ``key`` signed ``elements`` (Id, EXI fragment), or
    None when it does: every element referenced with its digest, the algorithms ISO 15118-2 names, the value
    verified over the EXI SignedInfo."""
    if signature is None:
        return "the message is not signed"
    info = signature.signed_info
    if info.canonicalization != CANONICAL_EXI or info.method != ECDSA_SHA256:
        return f"signature algorithm not supported: {info.method}"
    references = {r.uri: r for r in info.references}
    for identifier, exi in elements:
        reference = references.get(f"#{identifier}")
        if reference is None:
            return f"element {identifier} is not signed"
        if reference.transform != CANONICAL_EXI or reference.digest_method != SHA256:
            return f"element {identifier}: digest algorithm not supported"
        if reference.digest != _digest(exi):
            return f"element {identifier} does not match its digest"
    if len(signature.value) != 2 * KEY_BYTES:
        return "the signature value is not 64 bytes"
    der = encode_dss_signature(
        int.from_bytes(signature.value[:KEY_BYTES], "big"), int.from_bytes(signature.value[KEY_BYTES:], "big")
    )
    try:
        key.verify(der, encode_signed_info(info), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "the signature does not verify"
    return None


def _aes_key(own: ec.EllipticCurvePrivateKey, other: ec.EllipticCurvePublicKey) -> bytes:
    secret = own.exchange(ec.ECDH(), other)
    return ConcatKDFHash(hashes.SHA256(), 16, OTHER_INFO).derive(secret)


def encrypt_private_key(
    key: ec.EllipticCurvePrivateKey, recipient: ec.EllipticCurvePublicKey
) -> tuple[bytes, bytes]:
    """(DHpublickey, ContractSignatureEncryptedPrivateKey): ``key`` (its 32-byte scalar) encrypted for the
    holder of ``recipient`` (the OEM provisioning key) with a fresh ECDH key pair, whose public point is the
    first value."""
    ephemeral = ec.generate_private_key(CURVE)
    iv = os.urandom(IV_BYTES)
    encryptor = Cipher(algorithms.AES(_aes_key(ephemeral, recipient)), modes.CBC(iv)).encryptor()
    scalar = key.private_numbers().private_value.to_bytes(KEY_BYTES, "big")
    dh_public = ephemeral.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return dh_public, iv + encryptor.update(scalar) + encryptor.finalize()


def decrypt_private_key(
    encrypted: bytes, dh_public: bytes, own: ec.EllipticCurvePrivateKey
) -> ec.EllipticCurvePrivateKey:
    """The contract key the MO encrypted for ``own`` (the OEM provisioning key) with ``dh_public``."""
    if len(encrypted) != IV_BYTES + KEY_BYTES:
        raise KeyDecryptionError(f"the encrypted key is {len(encrypted)} bytes, not {IV_BYTES + KEY_BYTES}")
    try:
        other = ec.EllipticCurvePublicKey.from_encoded_point(CURVE, dh_public)
    except ValueError:
        raise KeyDecryptionError("DHpublickey is not a point of secp256r1") from None
    iv, ciphertext = encrypted[:IV_BYTES], encrypted[IV_BYTES:]
    decryptor = Cipher(algorithms.AES(_aes_key(own, other)), modes.CBC(iv)).decryptor()
    scalar = int.from_bytes(decryptor.update(ciphertext) + decryptor.finalize(), "big")
    try:
        return ec.derive_private_key(scalar, CURVE)
    except ValueError:
        raise KeyDecryptionError("the decrypted key is not a secp256r1 private key") from None
