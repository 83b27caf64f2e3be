"""The TLS door: revoked client certificates refused in the handshake (CRL, reloaded live), and the profile a
station authenticated with (A05: an upgrade connects above the recorded profile, never below it, A05.FR.07)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from websockets.exceptions import ConnectionClosed, InvalidMessage

from chargeplane.transport.connection import OcppConnection
from chargeplane.transport.security import (
    CertificateFiles,
    SecurityProfile,
    StationSecurity,
    client_tls_context,
    hash_password,
)
from tests.transport import certs
from tests.transport.conftest import PASSWORD, Directory, FakeCsms, Harness, Pki, running_server
from tests.transport.test_server_client import a_handshake_held, basic, status_of


def crl_of(authority: certs.Authority, revoked: list[int]) -> bytes:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(authority.certificate.subject)
        .last_update(now - dt.timedelta(minutes=1))
        .next_update(now + dt.timedelta(hours=1))
    )
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
        )
    return builder.sign(authority.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def serial_of(files: CertificateFiles) -> int:
    return x509.load_pem_x509_certificate(files.certificate.read_bytes()).serial_number


async def attempt(
    harness: Harness, pki: Pki, station: str, files: CertificateFiles | None, password: bool
) -> int:
    headers = basic(station, PASSWORD) if password else {}
    context = client_tls_context(pki.ca.path, files)
    try:
        return await status_of(
            harness.tls_url + "/" + station,
            ssl=context,
            subprotocols=["ocpp2.0.1"],
            additional_headers=headers,
        )
    except (OSError, ConnectionClosed, InvalidMessage):  # refused in the TLS handshake (1.3: right after it)
        return 0


async def test_revoked_client_certificate_refused_in_the_handshake_after_a_crl_reload(pki: Pki) -> None:
    directory = Directory({"CSR1": StationSecurity(SecurityProfile.TLS_CLIENT_CERTIFICATE)})
    files = certs.issue(pki.ca, pki.directory, "CSR1")
    other = certs.issue(pki.ca, pki.directory, "CSR1")
    async with running_server(directory, tls=pki.tls) as harness:
        harness.server.set_client_crl(crl_of(pki.ca, []))
        assert await attempt(harness, pki, "CSR1", files, password=False) == 101  # an empty CRL: accepted
        harness.server.set_client_crl(crl_of(pki.ca, [serial_of(files)]))  # the CA revoked it: reloaded live
        assert await attempt(harness, pki, "CSR1", files, password=False) == 0
        assert await attempt(harness, pki, "CSR1", other, password=False) == 101  # its other one is fine
        for _ in range(50):
            if harness.security_events:
                break
            await asyncio.sleep(0.02)
        revoked = [e for e in harness.security_events if "revoked" in e.reason]
        assert len(revoked) == 1
        assert revoked[0].station_id == "CSR1"
        assert revoked[0].kind == "InvalidChargingStationCertificate"
        assert format(serial_of(files), "x") in revoked[0].reason
        assert revoked[0].remote_address.startswith("127.0.0.1")  # the peer the handshake came from


async def test_the_profile_a_station_authenticated_with(pki: Pki) -> None:
    """A05: the connection's profile is what the station presented; below the recorded one is refused."""
    directory = Directory(
        {
            "CSP1": StationSecurity(SecurityProfile.BASIC_AUTH, hash_password(PASSWORD)),
            "CSP2": StationSecurity(SecurityProfile.TLS_BASIC_AUTH, hash_password(PASSWORD)),
        }
    )
    p1 = certs.issue(pki.ca, pki.directory, "CSP1")
    profiles: list[SecurityProfile | None] = []

    async def record(connection: OcppConnection) -> None:
        profiles.append(connection.security_profile)

    async with running_server(directory, FakeCsms(on_connect=record), tls=pki.tls) as harness:
        assert await attempt(harness, pki, "CSP1", None, password=True) == 101
        assert profiles[-1] is SecurityProfile.TLS_BASIC_AUTH
        assert await attempt(harness, pki, "CSP1", p1, password=True) == 101
        assert profiles[-1] is SecurityProfile.TLS_CLIENT_CERTIFICATE
        assert (
            await status_of(
                harness.url + "/CSP1", subprotocols=["ocpp2.0.1"], additional_headers=basic("CSP1")
            )
            == 101
        )
        assert profiles[-1] is SecurityProfile.BASIC_AUTH
        # A05.FR.07: recorded at 2, a plain connection is refused
        assert (
            await status_of(
                harness.url + "/CSP2", subprotocols=["ocpp2.0.1"], additional_headers=basic("CSP2")
            )
            == 401
        )


async def test_a_connection_arriving_while_handshakes_are_at_their_cap_is_dropped_before_tls(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #19: with admission_max_opening handshakes in progress a wss:// connection is dropped as it
    arrives, before any TLS work (which costs more than the 503 it would lead to), and counted as refused;
    once the handshake in progress is over the next one goes through."""
    directory = Directory(
        {
            "CS1": StationSecurity(SecurityProfile.BASIC_AUTH, hash_password(PASSWORD)),
            "CSP2": StationSecurity(SecurityProfile.TLS_BASIC_AUTH, hash_password(PASSWORD)),
        }
    )
    async with running_server(
        directory, tls=pki.tls, admission_max_opening=1, admission_opening_wait=0
    ) as harness:
        first, go_on = await a_handshake_held(monkeypatch, harness)
        started = asyncio.get_running_loop().time()
        assert await attempt(harness, pki, "CSP2", None, password=True) == 0
        assert asyncio.get_running_loop().time() - started < 2  # dropped at once, no handshake timeout
        assert harness.server.admission.refusals == {"opening": 1}
        go_on.set()
        assert await first == 101
        assert await attempt(harness, pki, "CSP2", None, password=True) == 101
