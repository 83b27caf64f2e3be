"""The OCPP server under attack (issue #13), over real loopback sockets: brute force meets a lockout
answered without hashing, unknown identities look like wrong passwords, strangers cannot spend the
stations' admission budget, refused TLS handshakes leave a security event with the peer's address."""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus

from chargeplane.transport import server as server_module
from chargeplane.transport.security import (
    CertificateFiles,
    SecurityProfile,
    StationSecurity,
    client_tls_context,
    hash_generated_password,
)
from tests.transport import certs
from tests.transport.conftest import PASSWORD, Directory, Harness, Pki, protected, running_server
from tests.transport.test_server_client import basic

SUB = {"subprotocols": ["ocpp2.0.1"]}


async def answer(url: str, **options: Any) -> tuple[int, bytes, str | None]:
    """Status, body and Retry-After of a handshake (101 when accepted)."""
    try:
        async with connect(url, open_timeout=5, **SUB, **options):
            return 101, b"", None
    except InvalidStatus as refused:
        response = refused.response
        return response.status_code, response.body, response.headers.get("Retry-After")


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password hash the server computes (the stored hash it was checked against)."""
    seen: list[str] = []
    real = server_module.verify_password

    def counting(password: bytes, stored: str) -> bool:
        seen.append(stored)
        return real(password, stored)

    monkeypatch.setattr(server_module, "verify_password", counting)
    return seen


async def test_brute_force_locks_the_identity_without_hashing_and_the_right_password_works_after(
    hashes: list[str],
) -> None:
    async with running_server(
        Directory({"CS1": protected()}), lockout_station_failures=3, lockout_base=0.3, source_failure_rate=0
    ) as harness:
        url = harness.url + "/CS1"
        for i in range(3):
            assert (await answer(url, additional_headers=basic("CS1", f"wrong-password-{i:06d}")))[0] == 401
        assert len(hashes) == 3
        # Locked: wrong and right passwords alike get the same 401, and no hash is computed.
        assert (await answer(url, additional_headers=basic("CS1", "wrong-password-999999")))[0] == 401
        assert (await answer(url, additional_headers=basic("CS1")))[0] == 401
        assert len(hashes) == 3
        assert harness.server.guard.counters.refused_locked == 2
        [lockout] = harness.server.guard.lockouts(harness.server.now())
        assert (lockout.kind, lockout.key, lockout.failures) == ("station", "cs1", 3)
        kinds = [event.kind for event in harness.security_events]
        assert kinds == ["AuthenticationFailed"] * 3 + ["AuthenticationLockout"]
        assert harness.security_events[-1].station_id == "CS1"
        await asyncio.sleep(0.35)  # the lockout expires
        assert (await answer(url, additional_headers=basic("CS1")))[0] == 101
        assert harness.server.guard.lockouts(harness.server.now()) == []


async def test_a_station_verified_before_keeps_connecting_while_an_attacker_locks_its_identity(
    hashes: list[str],
) -> None:
    async with running_server(
        Directory({"CS1": protected()}), lockout_station_failures=2, lockout_base=60, source_failure_rate=0
    ) as harness:
        url = harness.url + "/CS1"
        assert (await answer(url, additional_headers=basic("CS1")))[0] == 101
        for _ in range(4):
            await answer(url, additional_headers=basic("CS1", "wrong-password-000000"))
        assert harness.server.guard.station_locked("CS1", harness.server.now()) is not None
        before = len(hashes)
        assert (await answer(url, additional_headers=basic("CS1")))[0] == 101  # cached: an HMAC, no hash
        assert len(hashes) == before


async def test_unknown_identity_and_wrong_password_get_the_same_answer_after_the_same_work(
    hashes: list[str],
) -> None:
    async with running_server(Directory({"CS1": protected()}), source_failure_rate=0) as harness:
        unknown = await answer(
            harness.url + "/NOPE", additional_headers=basic("NOPE", "wrong-password-000000")
        )
        wrong = await answer(harness.url + "/CS1", additional_headers=basic("CS1", "wrong-password-000000"))
        assert unknown == wrong
        assert unknown[0] == 401
        assert len(hashes) == 2  # the unknown identity was checked against a dummy hash
        assert hashes[0] != hashes[1]
        # Timing: medians of a few tries each lie within a few milliseconds (scrypt dominates both).
        timings: dict[str, list[float]] = {"NOPE": [], "CS1": []}
        for _ in range(5):
            for station in timings:
                started = time.perf_counter()
                await answer(
                    harness.url + f"/{station}", additional_headers=basic(station, "wrong-password-0")
                )
                timings[station].append(time.perf_counter() - started)
        medians = {station: sorted(values)[2] for station, values in timings.items()}
        assert abs(medians["NOPE"] - medians["CS1"]) < 0.5 * max(medians.values())


async def test_without_uniform_answers_unknown_identities_get_404() -> None:
    async with running_server(Directory({"CS1": protected()}), uniform_auth_failures=False) as harness:
        assert (await answer(harness.url + "/NOPE", additional_headers=basic("NOPE")))[0] == 404


async def test_an_address_that_only_fails_gets_429_and_other_addresses_are_unaffected(
    hashes: list[str],
) -> None:
    async with running_server(
        Directory({"CS1": protected()}),
        source_failure_rate=0.01,
        source_failure_burst=3,
        lockout_station_failures=0,
    ) as harness:
        for i in range(3):
            assert (await answer(harness.url + f"/X{i}", additional_headers=basic(f"X{i}")))[0] == 401
        status, _, retry = await answer(harness.url + "/CS1", additional_headers=basic("CS1"))
        assert status == 429
        assert retry is not None
        assert int(retry) >= 1
        assert len(hashes) == 3  # refused before any work
        local = {"local_addr": ("127.0.0.2", 0)}
        assert (await answer(harness.url + "/CS1", additional_headers=basic("CS1"), **local))[0] == 101


async def test_strangers_cannot_spend_the_admission_budget_of_registered_stations() -> None:
    """Issue #13: admission is checked once the identity is known to be registered or not; unknown ones
    have their own small budget."""
    stations = {f"CS{i}": protected() for i in range(5)}
    async with running_server(
        Directory(stations),
        admission_rate=0.01,
        admission_burst=5,
        unknown_admission_rate=0.01,
        unknown_admission_burst=2,
        source_failure_rate=0,
        lockout_source_failures=0,
    ) as harness:
        strangers = await asyncio.gather(*(answer(harness.url + f"/STRANGER{i}") for i in range(20)))
        # All get the 401 of a failed login (a 503 would tell the identity is unknown), but only the two
        # of the unknown budget were looked at further.
        assert {status for status, _, _ in strangers} == {401}
        assert len(harness.security_events) == 2
        for station in stations:
            assert (await answer(harness.url + f"/{station}", additional_headers=basic(station)))[0] == 101


def self_signed(pki: Pki, name: str) -> CertificateFiles:
    authority = certs.make_ca(pki.directory, name)
    key = pki.directory / f"{name}-self.key"
    key.write_bytes(
        authority.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return CertificateFiles(authority.path, key)


async def tls_attempt(harness: Harness, pki: Pki, files: CertificateFiles | None, **tls: Any) -> int:
    context = client_tls_context(pki.ca.path, files)
    if "minimum_version" in tls:
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # so that OpenSSL really offers the old version
    for name, value in tls.items():
        setattr(context, name, value)
    try:
        return (await answer(harness.tls_url + "/CS3", ssl=context))[0]
    except (OSError, ConnectionClosed, InvalidMessage, ssl.SSLError):
        return 0


async def until(condition: Any) -> None:
    deadline = time.monotonic() + 5.0
    while not condition():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")  # old versions on purpose
async def test_refused_tls_handshakes_are_security_events_with_the_peer_address(pki: Pki) -> None:
    directory = Directory({"CS3": StationSecurity(SecurityProfile.TLS_CLIENT_CERTIFICATE)})
    expired = certs.issue(pki.ca, pki.directory, "CS3", expired=True)
    wrong_ca = certs.issue(pki.other_ca, pki.directory, "CS3")
    async with running_server(directory, tls=pki.tls, source_failure_rate=0) as harness:
        assert await tls_attempt(harness, pki, certs.issue(pki.ca, pki.directory, "CS3")) == 101
        for files in (expired, wrong_ca, self_signed(pki, "CS3")):
            assert await tls_attempt(harness, pki, files) == 0
        old: dict[str, Any] = {
            "minimum_version": ssl.TLSVersion.TLSv1,
            "maximum_version": ssl.TLSVersion.TLSv1_1,
        }
        assert await tls_attempt(harness, pki, None, **old) == 0
        await until(lambda: len(harness.security_events) == 4)
        events = harness.security_events
        assert [event.kind for event in events] == ["InvalidChargingStationCertificate"] * 3 + [
            "InvalidTLSVersion"
        ]
        assert "expired" in events[0].reason
        assert "self-signed" in events[2].reason or "self signed" in events[2].reason
        assert all(event.remote_address.startswith("127.0.0.1:") for event in events)
        assert harness.server.guard.counters.failures == 4
        # and a genuine station still connects on the same listener
        assert await tls_attempt(harness, pki, certs.issue(pki.ca, pki.directory, "CS3")) == 101


async def test_an_address_locked_by_tls_failures_is_dropped_before_the_handshake(pki: Pki) -> None:
    wrong_ca = certs.issue(pki.other_ca, pki.directory, "CS3")
    directory = Directory({"CS3": StationSecurity(SecurityProfile.TLS_CLIENT_CERTIFICATE)})
    async with running_server(
        directory, tls=pki.tls, source_failure_rate=0, lockout_source_failures=2, lockout_base=60
    ) as harness:
        for _ in range(2):
            assert await tls_attempt(harness, pki, wrong_ca) == 0
        await until(lambda: len(harness.security_events) == 3)
        assert harness.security_events[-1].kind == "AuthenticationLockout"
        assert await tls_attempt(harness, pki, certs.issue(pki.ca, pki.directory, "CS3")) == 0
        assert harness.server.guard.counters.refused_source == 1
        assert len(harness.security_events) == 3  # no event per refused attempt


async def test_with_404_for_unknown_identities_the_unknown_budget_answers_503() -> None:
    async with running_server(
        Directory({"CS1": protected()}),
        uniform_auth_failures=False,
        unknown_admission_rate=0.01,
        unknown_admission_burst=1,
        source_failure_rate=0,
    ) as harness:
        assert (await answer(harness.url + "/X1"))[0] == 404
        status, _, retry = await answer(harness.url + "/X2")
        assert status == 503
        assert retry is not None
        assert (await answer(harness.url + "/CS1", additional_headers=basic("CS1")))[0] == 101


async def test_locked_refusals_spend_no_admission_token_and_take_as_long_as_a_check() -> None:
    async with running_server(
        Directory({"CS1": protected()}),
        lockout_station_failures=1,
        lockout_base=60,
        admission_rate=0.01,
        admission_burst=3,
        source_failure_rate=0,
    ) as harness:
        url = harness.url + "/CS1"
        assert (await answer(url, additional_headers=basic("CS1", "wrong-password-000000")))[0] == 401
        for _ in range(10):  # beyond the admission burst: still 401, not 503
            started = time.perf_counter()
            assert (await answer(url, additional_headers=basic("CS1", "wrong-password-000000")))[0] == 401
            assert time.perf_counter() - started >= 0.5 * harness.server._check_seconds
        assert harness.server.admission.connections <= 1
        assert harness.server.guard.counters.refused_locked == 10


async def test_refusals_before_the_password_check_still_take_a_check(hashes: list[str]) -> None:
    """A profile-2 station's credentials on the plain port are refused without checking its password, but
    after a dummy check: otherwise the time would tell a known identity from an unknown one."""
    directory = Directory({"CS2": protected(SecurityProfile.TLS_BASIC_AUTH)})
    async with running_server(directory, source_failure_rate=0) as harness:
        assert (await answer(harness.url + "/CS2", additional_headers=basic("CS2")))[0] == 401
        assert len(hashes) == 1
        assert hashes[0] != directory.stations["CS2"].password_hash
        assert harness.security_events[0].reason == "profile 2 requires TLS"


async def test_a_wrong_password_for_a_generated_one_takes_as_long_as_a_check(hashes: list[str]) -> None:
    """A generated password's hash is checked in microseconds; a refusal of a wrong one waits as long as a
    scrypt check, so that it is not told apart from an unknown identity (checked against the dummy hash)."""
    generated = StationSecurity(SecurityProfile.BASIC_AUTH, hash_generated_password(PASSWORD))
    async with running_server(
        Directory({"CS1": generated}), source_failure_rate=0, lockout_station_failures=0
    ) as harness:
        assert (await answer(harness.url + "/CS1", additional_headers=basic("CS1")))[0] == 101
        timings: dict[str, list[float]] = {"NOPE": [], "CS1": []}
        for _ in range(5):
            for station in timings:
                started = time.perf_counter()
                refused = await answer(
                    harness.url + f"/{station}", additional_headers=basic(station, "wrong-password-0")
                )
                timings[station].append(time.perf_counter() - started)
                assert refused[0] == 401
        medians = {station: sorted(values)[2] for station, values in timings.items()}
        assert abs(medians["NOPE"] - medians["CS1"]) < 0.5 * max(medians.values())
        assert [stored.startswith("sha256$") for stored in hashes] == [True] + [False, True] * 5
