"""The time-based one-time password of OCPP 2.1's dynamic QR code (Part 2 C25, "TOTP algorithm, version 1"),
which the station shows in the payment URL and the CSMS checks (C25.FR.07).

HMAC-SHA256 keyed with the shared secret (UTF-8) over the big-endian 8-byte number of the validity interval
since the Unix epoch; ``length`` characters are then read from the hash, from an offset given by its last
byte's low nibble, each byte mapped into the spec's alphabet (which has no ``o``).
"""

from __future__ import annotations

import hashlib
import hmac

ALPHABET_V1 = "0123456789abcdefghijklmnpqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
VERSION_1 = "v1"


def totp_v1(shared_secret: str, unix_seconds: float, validity_s: int, length: int) -> str:
    interval = int(unix_seconds // validity_s)
    digest = hmac.new(shared_secret.encode(), interval.to_bytes(8, "big"), hashlib.sha256).digest()
    offset = digest[-1] & 0x0F
    return "".join(ALPHABET_V1[digest[(offset + i) % len(digest)] % len(ALPHABET_V1)] for i in range(length))


def matches_v1(
    candidate: str, shared_secret: str, unix_seconds: float, validity_s: int, length: int, intervals: int = 1
) -> bool:
    """True when ``candidate`` is the password of this interval or of one of the ``intervals`` before it
    (a code scanned just before its interval ended is still good)."""
    return any(
        hmac.compare_digest(
            candidate, totp_v1(shared_secret, unix_seconds - back * validity_s, validity_s, length)
        )
        for back in range(intervals + 1)
    )
