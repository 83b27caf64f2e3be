"""Sans-I/O parts of the transport: passwords, Basic auth, certificate identity, admission, back-off."""

from __future__ import annotations

import pytest

from chargeplane.ocpp.versions import Version
from chargeplane.transport.admission import AdmissionControl
from chargeplane.transport.backoff import BackOff, BackOffSettings
from chargeplane.transport.security import (
    CertificateSubject,
    PasswordRuleError,
    V16KeyEncoding,
    VerifiedPasswordCache,
    basic_auth_header,
    check_client_certificate,
    check_password_rules,
    generate_password,
    hash_generated_password,
    hash_password,
    is_costly_to_verify,
    parse_basic_auth,
    subject_of,
    verify_password,
    wire_password_to_configured,
)


def test_passwords_are_stored_as_salted_hashes() -> None:
    first, second = hash_password("s3cret-password-16"), hash_password("s3cret-password-16")
    assert first != second  # fresh salt each time
    assert "s3cret" not in first
    assert verify_password(b"s3cret-password-16", first)
    assert not verify_password(b"s3cret-password-17", first)
    assert not verify_password(b"x", "md5$whatever")
    assert not verify_password(b"x", "garbage")


def test_a_generated_password_is_stored_as_a_salted_sha256_checked_without_a_kdf() -> None:
    password = generate_password(Version.V201)
    first, second = hash_generated_password(password), hash_generated_password(password)
    assert first != second
    assert first.startswith("sha256$")
    assert password not in first
    assert verify_password(password.encode(), first)
    assert not verify_password(password.encode()[:-1], first)
    assert not verify_password(password.encode(), first[:-2] + ("00" if first[-2:] != "00" else "11"))
    assert not verify_password(password.encode(), "sha256$zz$00")  # not hex
    assert not verify_password(password.encode(), "sha256$00")
    assert not is_costly_to_verify(first)
    assert is_costly_to_verify(hash_password(password))  # an operator's password: scrypt, in a thread


@pytest.mark.parametrize(
    ("password", "version", "ok"),
    [
        ("a" * 16, Version.V201, True),
        ("a" * 15, Version.V201, False),  # A00.FR.205: at least 16
        ("a" * 41, Version.V201, False),  # at most 40 on 2.0.1
        ("a" * 41, Version.V21, True),  # up to 64 on 2.1
        ("a" * 65, Version.V21, False),
        ("abc def ghi jkl mno", Version.V201, False),  # passwordString has no space
        ("abc def ghi jkl mno", Version.V21, True),  # 2.1: any UTF-8
        ("00112233445566778899aabbccddeeff", Version.V16, True),  # 16 bytes as hex
        ("00112233445566778899aabbccddeeff00112233", Version.V16, True),  # 20 bytes
        ("00112233445566778899aabbccddeeff0", Version.V16, False),  # odd number of digits
        ("zz112233445566778899aabbccddeeff", Version.V16, False),
    ],
)
def test_password_rules_per_version(password: str, version: Version, ok: bool) -> None:
    if ok:
        check_password_rules(password, version)
    else:
        with pytest.raises(PasswordRuleError):
            check_password_rules(password, version)


@pytest.mark.parametrize("version", list(Version))
def test_generated_passwords_meet_the_rules(version: Version) -> None:
    check_password_rules(generate_password(version), version)


def test_basic_auth_round_trip_and_malformed_headers() -> None:
    credentials = parse_basic_auth(basic_auth_header("CS1", "pa:ss"))
    assert credentials is not None
    assert (credentials.username, credentials.password) == ("CS1", b"pa:ss")  # only the first ':' splits
    assert parse_basic_auth(basic_auth_header("CS1", b"\xff\x00")).password == b"\xff\x00"  # type: ignore[union-attr]
    for header in (None, "", "Bearer x", "Basic !!!", "Basic " + "Q1Mx", "Basic //79"):
        assert parse_basic_auth(header) is None


def test_v16_raw_key_is_compared_in_its_configured_hex_form() -> None:
    raw = bytes.fromhex("00112233445566778899aabbccddeeff00112233")
    assert wire_password_to_configured(raw, V16KeyEncoding.RAW) == b"00112233445566778899aabbccddeeff00112233"
    assert wire_password_to_configured(b"abc", V16KeyEncoding.HEX) == b"abc"


def test_verified_password_cache_is_bounded_and_keyed_by_stored_hash() -> None:
    cache = VerifiedPasswordCache(capacity=2)
    cache.add("A", "h1", b"p")
    assert cache.contains("A", "h1", b"p")
    assert not cache.contains("A", "h2", b"p")  # password changed: old success does not count
    assert not cache.contains("B", "h1", b"p")
    cache.add("B", "h1", b"p")
    cache.add("C", "h1", b"p")
    assert not cache.contains("A", "h1", b"p")  # evicted, least recently used


def test_client_certificate_identity_checks() -> None:  # A00.FR.402-403
    subject = subject_of({"subject": ((("commonName", "CS1"),), (("organizationName", "Op"),))})
    assert subject == CertificateSubject("CS1", "Op")
    assert check_client_certificate(subject, "cs1", "Op") is None
    assert (
        check_client_certificate(subject, "CS2", None) == "certificate CN does not match the station identity"
    )
    assert check_client_certificate(subject, "CS1", "Other") == "certificate O does not match the operator"
    assert check_client_certificate(None, "CS1", None) == "no client certificate"
    assert subject_of({}) is None
    assert subject_of({"subject": "odd"}) == CertificateSubject(None, None)


def test_admission_sheds_load_while_the_event_loop_lags() -> None:
    admission = AdmissionControl(rate=1000.0, burst=1000, max_connections=1000, max_lag=0.5)
    admission.observe(0.0, 0.01)
    assert admission.try_admit(0.0) is None
    admission.observe(0.0, 1.2)  # a spike counts at once
    refused = admission.try_admit(0.0)
    assert refused is not None
    assert refused.reason == "server busy"
    assert refused.retry_after == 3  # twice the lag, rounded up
    admission.observe(0.0, 0.0)  # one quiet tick is not enough: the figure decays by a fifth per tick
    assert admission.try_admit(0.0) is not None
    for _ in range(4):
        admission.observe(0.0, 0.0)
    assert admission.lag == pytest.approx(1.2 * 0.8**5)
    assert admission.try_admit(0.0) is None  # 0.39 s: below the threshold again
    admission.observe(0.0, 100.0)
    refused = admission.try_admit(0.0)
    assert refused is not None
    assert refused.retry_after == 30  # capped
    assert AdmissionControl(rate=1.0, burst=1, max_connections=1).max_lag is None  # no shedding by default
    with pytest.raises(ValueError, match="max_lag"):
        AdmissionControl(rate=1.0, burst=1, max_connections=1, max_lag=0)


def test_admission_rate_and_count_with_time_as_argument() -> None:
    admission = AdmissionControl(rate=2.0, burst=3, max_connections=4)
    assert [admission.try_admit(0.0) for _ in range(3)] == [None, None, None]
    refused = admission.try_admit(0.0)
    assert refused is not None
    assert refused.reason == "connection rate limit reached"
    assert refused.retry_after == 1
    assert admission.try_admit(0.5) is None  # one token back after half a second at 2/s
    refused = admission.try_admit(10.0)
    assert refused is not None
    assert refused.reason == "connection limit reached"
    admission.release()
    assert admission.try_admit(10.0) is None
    for _ in range(10):
        admission.release()
    assert admission.connections == 0
    with pytest.raises(ValueError, match="admission needs"):
        AdmissionControl(rate=0, burst=1, max_connections=1)


def test_backoff_doubles_up_to_repeat_times_then_resets() -> None:  # Part 4 §5.3, errata 2025-04
    jitter = iter([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    backoff = BackOff(
        BackOffSettings(wait_minimum=30, random_range=10, repeat_times=3), lambda a, b: next(jitter)
    )
    assert [backoff.next_wait() for _ in range(5)] == [31, 62, 123, 244, 245]
    backoff.reset()
    assert backoff.next_wait() == 36


def test_backoff_jitter_stays_in_range() -> None:
    backoff = BackOff(BackOffSettings(wait_minimum=5, random_range=2, repeat_times=0))
    waits = [backoff.next_wait() for _ in range(200)]
    assert all(5 <= wait <= 7 for wait in waits)


def test_admission_counts_its_refusals_by_kind() -> None:
    admission = AdmissionControl(rate=1.0, burst=1, max_connections=2, max_lag=0.5)
    assert admission.try_admit(0.0) is None
    refused = admission.try_admit(0.0)  # no token left
    assert refused is not None
    assert refused.kind == "rate"
    admission.observe(0.0, 2.0)
    busy = admission.try_admit(5.0)
    assert busy is not None
    assert busy.kind == "overload"
    admission.observe(0.0, 0.0)
    for _ in range(20):
        admission.observe(0.0, 0.0)
    assert admission.try_admit(10.0) is None
    full = admission.try_admit(20.0)
    assert full is not None
    assert full.kind == "limit"
    assert admission.refusals == {"rate": 1, "overload": 1, "limit": 1}
