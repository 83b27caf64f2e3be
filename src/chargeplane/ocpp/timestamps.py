"""Wire timestamps: RFC 3339 in UTC with at most millisecond precision (2.0.1 Part 2 §2.1.4 / §3.1).

Generated message types keep ``date-time`` fields as strings (what was received is re-sent verbatim);
these two functions are the one way to go between them and :class:`datetime.datetime`.
"""

from __future__ import annotations

from datetime import UTC, datetime


def to_wire(moment: datetime) -> str:
    """``2024-05-01T12:00:00.123Z``: UTC, milliseconds (dropped when zero). Naive datetimes are refused."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: OCPP timestamps need a time zone")
    # isoformat truncates to milliseconds as ``microsecond // 1000`` does, at a third of strftime's cost
    # (several timestamps per station coming online: boot and heartbeat answers, bus events; #19).
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")  # 2024-05-01T12:00:00.123+00:00
    return f"{text[:19]}Z" if text[20:23] == "000" else f"{text[:23]}Z"


def from_wire(text: str) -> datetime:
    """An aware datetime from any valid RFC 3339 ``date-time`` (``Z`` or offset, any fraction digits)."""
    try:
        # Python >= 3.11 reads the usual forms itself (``Z``, offsets, fractions cut to microseconds) at a
        # fraction of the cost of the normalisation below, which stays for the rest (a lower-case ``z``).
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = _normalized(text)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without offset: {text!r}")
    return parsed


def _normalized(text: str) -> datetime:
    normalized = text.replace("z", "Z").replace("t", "T")
    if normalized.endswith("Z"):
        normalized = normalized[:-1] + "+00:00"
    date_part, _, rest = normalized.partition("T")
    clock, sign, offset = _split_offset(rest)
    if "." in clock:
        whole, fraction = clock.split(".", 1)
        clock = f"{whole}.{(fraction + '000000')[:6]}"
    return datetime.fromisoformat(f"{date_part}T{clock}{sign}{offset}")


def _split_offset(clock_and_offset: str) -> tuple[str, str, str]:
    for sign in ("+", "-"):
        clock, found, offset = clock_and_offset.rpartition(sign)
        if found:
            return clock, sign, offset
    return clock_and_offset, "", ""


def utc_now() -> str:
    """The current time as a wire timestamp."""
    return to_wire(datetime.now(UTC))
