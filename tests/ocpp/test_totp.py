"""The dynamic QR code's one-time password (2.1 C25, TOTP v1)."""

from __future__ import annotations

import hashlib
import hmac

from chargeplane.ocpp.totp import ALPHABET_V1, matches_v1, totp_v1


def reference(secret: str, seconds: int, validity: int, length: int) -> str:
    """The spec's pseudocode, step by step (C25 "TOTP algorithm, version 1")."""
    time_bytes = (seconds // validity).to_bytes(8, "little")[::-1]  # little-endian machine: reversed
    digest = hmac.new(secret.encode("utf-8"), time_bytes, hashlib.sha256).digest()
    offset = digest[-1] & 0x0F
    return "".join(ALPHABET_V1[digest[(offset + i) % len(digest)] % len(ALPHABET_V1)] for i in range(length))


def test_C25_totp_v1_follows_the_pseudocode_and_changes_per_interval() -> None:
    assert len(ALPHABET_V1) == 61  # the spec's alphabet leaves out "o"
    for seconds in (0, 59, 60, 1_765_100_000):
        assert totp_v1("s3cret", seconds, 60, 8) == reference("s3cret", seconds, 60, 8)
    assert totp_v1("s3cret", 0, 60, 8) == totp_v1("s3cret", 59, 60, 8)
    assert totp_v1("s3cret", 59, 60, 8) != totp_v1("s3cret", 60, 60, 8)
    assert totp_v1("other", 0, 60, 8) != totp_v1("s3cret", 0, 60, 8)
    assert len(totp_v1("s3cret", 0, 60, 12)) == 12


def test_C25_FR_07_matches_this_or_an_earlier_interval_only() -> None:
    code = totp_v1("k", 1000, 30, 8)
    assert matches_v1(code, "k", 1000, 30, 8)
    assert matches_v1(code, "k", 1025, 30, 8)  # the next interval: one back is allowed
    assert not matches_v1(code, "k", 1085, 30, 8)
    assert matches_v1(code, "k", 1085, 30, 8, intervals=3)
    assert not matches_v1(code, "wrong", 1000, 30, 8)
