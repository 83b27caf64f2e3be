"""``chargeplane simulate --register``: create the fleet's stations (with their password) and cards on a
Chargeplane CSMS through its HTTP API (``/api/v1``, bearer token), before the fleet connects.

Only HTTP: the station stack does not import the CSMS (the two ends meet on the wire), so this also works
against a CSMS in another process or on another host. Idempotent: a station or card that exists already is
updated to what the fleet needs (its password; Accepted).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import httpx

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
PARALLEL = 8  # requests at a time: enough to register thousands quickly, not a burst the CSMS must shed
IMPORT_BATCH = 10_000  # the most id tokens one import takes


class RegistrationError(Exception):
    """The CSMS refused or failed a registration request."""


async def register_fleet(
    api_url: str, api_token: str, stations: Sequence[str], password: str, cards: Sequence[str]
) -> None:
    try:
        await _register(api_url, api_token, stations, password, cards)
    except httpx.HTTPError as exc:  # could not connect, timed out, ...
        raise RegistrationError(f"{type(exc).__name__}: {exc}") from exc


async def _register(
    api_url: str, api_token: str, stations: Sequence[str], password: str, cards: Sequence[str]
) -> None:
    root = api_url.rstrip("/").removesuffix(API_PREFIX)
    headers = {"Authorization": f"Bearer {api_token}"}
    async with httpx.AsyncClient(base_url=root + API_PREFIX, headers=headers, timeout=30.0) as client:
        gate = asyncio.Semaphore(PARALLEL)

        async def one(station_id: str) -> None:
            async with gate:
                await _station(client, station_id, password)

        await asyncio.gather(*(one(station_id) for station_id in stations))
        for start in range(0, len(cards), IMPORT_BATCH):
            body = [{"idToken": card, "type": "ISO14443"} for card in cards[start : start + IMPORT_BATCH]]
            result = _json(await client.post("/id-tokens/import", json=body), 200)
            if result.get("errors"):
                raise RegistrationError(f"cards refused: {result['errors'][:3]}")
    log.info("registered %d stations and %d cards at %s", len(stations), len(cards), root)


async def _station(client: httpx.AsyncClient, station_id: str, password: str) -> None:
    body = {"stationId": station_id, "password": password, "registrationStatus": "Accepted"}
    response = await client.post("/stations", json=body)
    if response.status_code == 409:  # known already: give it the fleet's password
        patch = {"password": password, "registrationStatus": "Accepted"}
        response = await client.patch(f"/stations/{station_id}", json=patch)
        _json(response, 200)
    else:
        _json(response, 201)


def _json(response: httpx.Response, expected: int) -> dict[str, Any]:
    if response.status_code != expected:
        raise RegistrationError(
            f"{response.request.method} {response.request.url.path}: HTTP {response.status_code}"
            f" {response.text[:300]}"
        )
    body: dict[str, Any] = response.json()
    return body
