"""NATS for the cluster tests: skipped locally when absent, failed in CI (CI=true), as PostgreSQL is."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from tests.csms.conftest import _create_postgres_database, _drop_postgres_database

NATS_URL = os.environ.get("CHARGEPLANE_TEST_NATS", "nats://127.0.0.1:4222")


def _nats_reachable() -> bool:
    address = urlsplit(NATS_URL)
    try:
        with socket.create_connection((address.hostname or "127.0.0.1", address.port or 4222), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def nats_url() -> str:
    if not _nats_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(f"NATS (JetStream) is required in CI but not reachable at {NATS_URL}")
        pytest.skip(f"NATS not reachable at {NATS_URL} (required in CI)")
    return NATS_URL


@pytest.fixture
async def shared_database() -> AsyncIterator[str]:
    """One new PostgreSQL database (already migrated) for all the nodes of a test."""
    url = await _create_postgres_database(migrated=True)
    if url is None:
        pytest.skip("PostgreSQL not reachable (required in CI): the nodes share one database")
    try:
        yield url
    finally:
        await _drop_postgres_database(url)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The nodes of these tests share the NATS server's buckets and streams (presence, leader lease, events):
    two tests at once on parallel workers would see each other's nodes, so they run alone (``serial``)."""
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.serial)
