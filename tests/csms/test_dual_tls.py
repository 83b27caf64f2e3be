"""``serve --tls-certificate2``: an RSA and an ECDSA certificate at once, so that a station offering only the
ECDHE-ECDSA pair or only the RSA pair (A00.FR.318 / 321) completes a handshake."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from chargeplane.csms.clock import utc_now
from chargeplane.csms.config import load_settings
from chargeplane.csms.settings import SettingsError
from chargeplane.pki.ca import CertificateAuthority, generate_key
from chargeplane.transport.security import server_tls_context

PAIRS = {
    "ecdsa": "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384",
    "rsa": "AES128-GCM-SHA256:AES256-GCM-SHA384",
}


def _server_files(ca: CertificateAuthority, directory: Path, algorithm: str) -> tuple[Path, Path]:
    key = generate_key(algorithm)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    leaf = ca.issue(csr, now=utc_now(), days=1)
    chain, key_file = directory / f"{algorithm}.pem", directory / f"{algorithm}.key"
    chain.write_text(ca.chain(leaf))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return chain, key_file


async def _handshake(port: int, ciphers: str, ca_file: Path) -> str:
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = False
    context.maximum_version = ssl.TLSVersion.TLSv1_2  # the pairs are TLS 1.2 suites
    context.set_ciphers(ciphers)
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    cipher = writer.get_extra_info("cipher")[0]
    writer.close()
    return str(cipher)


async def test_A00_FR_318_rsa_and_ecdsa_certificates_are_both_offered(tmp_path: Path) -> None:
    ca = CertificateAuthority.init(tmp_path / "ca", "Acme", now=utc_now())
    rsa_chain, rsa_key = _server_files(ca, tmp_path, "rsa2048")
    ec_chain, ec_key = _server_files(ca, tmp_path, "ec-p256")
    overrides = {
        "tls_certificate": rsa_chain,
        "tls_key": rsa_key,
        "tls_certificate2": ec_chain,
        "tls_key2": ec_key,
    }
    settings = load_settings({}, None, overrides)
    assert settings.ocpp.tls is not None
    assert len(settings.ocpp.tls.certificates) == 2
    context = server_tls_context(settings.ocpp.tls)
    ca_file = tmp_path / "root.pem"
    ca_file.write_bytes(ca.root.public_bytes(serialization.Encoding.PEM))

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        assert "ECDSA" in await _handshake(port, PAIRS["ecdsa"], ca_file)
        assert (await _handshake(port, PAIRS["rsa"], ca_file)).startswith("AES")
    finally:
        server.close()
        await server.wait_closed()


def test_a_second_certificate_needs_its_key(tmp_path: Path) -> None:
    overrides = {
        "tls_certificate": tmp_path / "a.pem",
        "tls_key": tmp_path / "a.key",
        "tls_certificate2": tmp_path,
    }
    with pytest.raises(SettingsError, match="tls_key2"):
        load_settings({}, None, overrides)
