"""Fixtures shared by tests in more than one package."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests import migrated_databases

# The longest tests (mostly waiting on a station's timers) run first: under `make test` (xdist, --dist worksteal)
# the worker that starts with them keeps them while the others take over its short tests, instead of one worker
# still running a long module when the rest are done.
LONG_FIRST = (
    "tests/csms/api/test_fuzz.py::",
    "tests/tools/conformance/test_against_our_station.py::",
    "tests/tools/conformance/test_scripted_station.py::",
    "tests/tools/conformance/test_against_chargeplane.py::",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The LONG_FIRST tests before the others; each group in its collection order (the same on every worker)."""
    items.sort(key=lambda item: not item.nodeid.startswith(LONG_FIRST))


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
