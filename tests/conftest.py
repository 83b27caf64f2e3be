"""Fixtures shared by tests in more than one package."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

from tests import migrated_databases, parsed_signatures

parsed_signatures.install()  # each process parses a handler's signature once, not once per CSMS a test starts

# The longest tests (mostly waiting on a station's timers or fuzzing the API). Under `make test` (xdist,
# --dist worksteal) each worker is first dealt one contiguous share of the collection; every share starts with
# its part of these, so that they run at once on every worker rather than last, and the short tests at the end
# of the shares are what idle workers take over.
LONG_FIRST = (
    "tests/csms/api/test_fuzz.py::",
    "tests/tools/conformance/test_against_our_station.py::",
    "tests/tools/conformance/test_scripted_station.py::",
    "tests/tools/conformance/test_against_chargeplane.py::",
)


@pytest.hookimpl(trylast=True)  # after the deselection by marker (-m "not serial"): the final list
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each worker's share (cut as xdist's worksteal cuts it) begins with its round-robin part of the LONG_FIRST
    tests; the order is otherwise kept, and is the same on every worker, as xdist requires."""
    long = [item for item in items if item.nodeid.startswith(LONG_FIRST)]
    short = [item for item in items if not item.nodeid.startswith(LONG_FIRST)]
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    ordered: list[pytest.Item] = []
    left = len(items)
    for worker in range(workers):
        share = left // (workers - worker)  # worksteal's first deal: len(pending) // nodes still to serve
        left -= share
        firsts = long[worker::workers]
        cut = max(share - len(firsts), 0)
        ordered += firsts + short[:cut]
        short = short[cut:]
    items[:] = ordered + short


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Each process (xdist worker) removes the migrated templates it made (``tests/migrated_databases.py``)."""
    migrated_databases.remove_templates()


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    """For tests that configure logging: the root logger's handlers and level as they were, afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def exi_codec() -> None:
    """The ISO 15118-2 EXI codec (EXIficient in a JVM, one per test process, started here once): skipped
    locally when java, the jar or py4j is missing, failed in CI (CI=true), where it is required."""
    from chargeplane.pki import v2g_exi

    reason = v2g_exi.unavailable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the EXI codec is required in CI: {reason}")
        pytest.skip(f"no EXI codec (required in CI): {reason}")
    v2g_exi.start()
