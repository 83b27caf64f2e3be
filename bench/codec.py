"""Codec micro-benchmark: decode + validate an OCPP 2.0.1 TransactionEventRequest.

Compares the generated msgspec types (through the 2.0.1 registry decoder) with jsonschema
(Draft6Validator with a format checker, on ``json.loads`` output), on the payload alone and on a full
CALL frame ``[2, "<uuid>", "TransactionEvent", {...}]``. For the codec the frame is parsed with msgspec:
the array is decoded with the payload left as ``msgspec.Raw``, then the payload goes to the action's
decoder. Prints the median time per message over several repeats and the ratio.

Run: ``.venv/bin/python bench/codec.py`` (``--quick`` for a short smoke run). Not a test.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import msgspec

from chargeplane.ocpp.messages import registry_for

REPO = Path(__file__).resolve().parent.parent
SCHEMA = REPO / "schemas" / "v201" / "TransactionEventRequest.json"


def sampled(value: float, measurand: str, unit: str, phase: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "value": value,
        "context": "Sample.Periodic",
        "measurand": measurand,
        "location": "Outlet",
        "unitOfMeasure": {"unit": unit},
    }
    if phase is not None:
        result["phase"] = phase
    return result


PAYLOAD: dict[str, Any] = {
    "eventType": "Updated",
    "timestamp": "2024-05-14T09:31:15.250Z",
    "triggerReason": "MeterValuePeriodic",
    "seqNo": 17,
    "offline": False,
    "transactionInfo": {
        "transactionId": "f3b0c7a2-5d1e-4b8a-9c6f-2e7d4a1b8c90",
        "chargingState": "Charging",
    },
    "evse": {"id": 1, "connectorId": 1},
    "meterValue": [
        {
            "timestamp": "2024-05-14T09:31:15.000Z",
            "sampledValue": [
                sampled(15234.5, "Energy.Active.Import.Register", "Wh"),
                sampled(10980.0, "Power.Active.Import", "W"),
                sampled(15.87, "Current.Import", "A", "L1"),
                sampled(229.6, "Voltage", "V", "L1-N"),
            ],
        }
    ],
}


def per_call_us(func: Callable[[], object], number: int) -> float:
    """Mean time of one call over ``number`` calls, in microseconds."""
    start = time.perf_counter()
    for _ in range(number):
        func()
    return (time.perf_counter() - start) / number * 1e6


def medians(candidates: dict[str, tuple[Callable[[], object], int]], repeats: int) -> dict[str, float]:
    """Median per-call time of each candidate; the repeats of all candidates are interleaved, so that
    drift of a shared machine affects them alike."""
    for func, number in candidates.values():
        per_call_us(func, max(1, number // 10))  # warm up
    rounds: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, (func, number) in candidates.items():
            rounds[name].append(per_call_us(func, number))
    return {name: statistics.median(times) for name, times in rounds.items()}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="few iterations (smoke run)")
    args = parser.parse_args()
    number_codec, number_js, repeats = (2_000, 100, 3) if args.quick else (20_000, 200, 15)

    payload_bytes = json.dumps(PAYLOAD, separators=(",", ":")).encode()
    frame_bytes = json.dumps(
        [2, str(uuid.uuid4()), "TransactionEvent", PAYLOAD], separators=(",", ":")
    ).encode()

    registry = registry_for("2.0.1")
    request_decoder = registry["TransactionEvent"].request_decoder
    frame_decoder = msgspec.json.Decoder(tuple[int, str, str, msgspec.Raw])

    def codec_payload() -> object:
        return request_decoder.decode(payload_bytes)

    def codec_frame() -> object:
        _kind, _message_id, action, raw = frame_decoder.decode(frame_bytes)
        return registry[action].request_decoder.decode(raw)

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft6Validator(schema, format_checker=jsonschema.FormatChecker())

    def jsonschema_payload() -> object:
        data = json.loads(payload_bytes)
        if not validator.is_valid(data):
            raise AssertionError("invalid")
        return data

    def jsonschema_frame() -> object:
        frame = json.loads(frame_bytes)
        if not validator.is_valid(frame[3]):
            raise AssertionError("invalid")
        return frame[3]

    # Both sides must agree that the sample is valid and decode it fully.
    decoded = codec_frame()
    assert msgspec.json.decode(msgspec.json.encode(decoded)) == PAYLOAD
    jsonschema_frame()

    result = medians(
        {
            "codec payload": (codec_payload, number_codec),
            "codec frame": (codec_frame, number_codec),
            "jsonschema payload": (jsonschema_payload, number_js),
            "jsonschema frame": (jsonschema_frame, number_js),
        },
        repeats,
    )
    rows = []
    for label, key in (("payload", "payload"), ("CALL frame", "frame")):
        codec_us, oracle_us = result[f"codec {key}"], result[f"jsonschema {key}"]
        rows.append((label, codec_us, oracle_us, oracle_us / codec_us))

    print(
        f"TransactionEventRequest 2.0.1 (Updated, 4 sampled values): payload {len(payload_bytes)} B, frame {len(frame_bytes)} B"
    )
    print(
        f"median of {repeats} repeats; {number_codec} (codec) / {number_js} (jsonschema) messages per repeat"
    )
    print(
        f"Python {platform.python_version()}, msgspec {msgspec.__version__}, jsonschema {_version('jsonschema')}"
    )
    print()
    print(f"| {'input':<10} | {'codec (us/msg)':>14} | {'jsonschema (us/msg)':>19} | {'ratio':>7} |")
    print(f"|{'-' * 12}|{'-' * 16}|{'-' * 21}|{'-' * 9}|")
    for label, codec_us, oracle_us, ratio in rows:
        print(f"| {label:<10} | {codec_us:>14.2f} | {oracle_us:>19.1f} | {ratio:>6.0f}x |")
    return 0


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    sys.exit(main())
