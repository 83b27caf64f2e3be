"""The HTTP API fuzzed from its own OpenAPI document (issue "Field readiness" #10): schemathesis generates
valid and invalid requests for every operation against a CSMS started in-process on SQLite on loopback; no
answer may be a 5xx, and every answer must match the document (status, content type, body schema).

Bounded: a few examples per operation and mode, and a time budget for each shard. The operations are dealt out
to SHARDS tests (by their place in the document), so that parallel workers share the run; together the shards
cover every operation.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from chargeplane.csms.app import Csms
from tests import migrated_databases
from tests.csms.conftest import settings_for

EXAMPLES = 8  # per operation and generation mode
BUDGET_SECONDS = 120.0  # per shard
SHARDS = 4
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# The token import stores the valid items and reports the others by index (200): by design, it does not
# reject the whole body for one bad item.
ACCEPTS_INVALID_ITEMS = {("POST", "/api/v1/id-tokens/import")}
# The OCSP responder's body is a DER OCSPRequest: sent as the raw bytes, like a file.
schemathesis.serializer.alias("application/ocsp-request", "application/octet-stream")


def rejects_invalid(case: Any) -> bool:
    """Whether this (negative) case must be refused: bodies must match their schema exactly; query strings
    are read leniently by design (unknown parameters are ignored, a number is a Unix time for a date-time)."""
    if (case.operation.method.upper(), case.operation.path) in ACCEPTS_INVALID_ITEMS:
        return False
    meta = case.meta
    data = getattr(getattr(meta, "phase", None), "data", None)
    return getattr(data, "parameter_location", None) in (None, ParameterLocation.BODY)


@dataclass
class Served:
    base_url: str
    token: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A CSMS on its own event loop in a thread (schemathesis calls it synchronously over HTTP)."""
    database = migrated_databases.sqlite_url(tmp_path_factory.mktemp("fuzz"))
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        app = Csms(settings_for(database))
        holder["token"] = await app.start()
        holder["app"] = app
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop)
    assert ready.wait(30), "the CSMS did not start"
    app: Csms = holder["app"]
    # A known station, so that station routes reach past the 404 now and then.
    requests.post(
        f"http://127.0.0.1:{app.api_port}/api/v1/stations",
        json={"stationId": "CS1", "password": "station-password-0123456789"},
        headers={"Authorization": f"Bearer {holder['token']}"},
        timeout=10,
    ).raise_for_status()
    try:
        yield Served(f"http://127.0.0.1:{app.api_port}", holder["token"])
    finally:
        asyncio.run_coroutine_threadsafe(app.stop(deadline=1.0), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def fuzz(operation: Any, mode: GenerationMode, served: Served, session: requests.Session) -> None:
    """Up to EXAMPLES generated requests for one operation; raises schemathesis's failures."""
    headers = {"Authorization": f"Bearer {served.token}"}

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=served.base_url, session=session, headers=headers, timeout=10)
        strict = mode is GenerationMode.POSITIVE or rejects_invalid(case)
        checks = [c for c in CHECKS if strict or c is not negative_data_rejection]
        case.validate_response(response, checks=checks, headers=headers)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise  # else: nothing of this operation can be made invalid (a free string path parameter)


@pytest.mark.parametrize("shard", range(SHARDS))
def test_the_api_answers_every_generated_request_without_5xx_and_as_documented(
    served: Served, shard: int
) -> None:
    document = requests.get(f"{served.base_url}/schema/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    # The bearer token is ours to send (every request has a valid one): no generated or dropped Authorization.
    schema.config.generation.update(with_security_parameters=False)
    deadline = time.monotonic() + BUDGET_SECONDS
    session = requests.Session()
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/api/v1/events":  # a stream that stays open: not a request-answer route
            continue
        operations += 1
        if operations % SHARDS != shard:  # another shard's
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if time.monotonic() > deadline:
                break
            try:
                fuzz(operation, mode, served, session)
            except KeyboardInterrupt:
                raise
            except BaseException as error:  # schemathesis raises groups of failures: collected per operation
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {error}")
    assert operations >= 30
    assert not failures, "\n\n".join(failures)
