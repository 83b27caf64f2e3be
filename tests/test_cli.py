"""Process tuning of ``chargeplane serve`` (issue #6): the garbage collector settings."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from chargeplane.cli import _tune_garbage_collector


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_serve_freezes_start_up_objects_and_collects_less_often(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHARGEPLANE_GC", raising=False)
    _tune_garbage_collector()
    assert gc.get_threshold() == (50_000, 20, 100)
    assert gc.get_freeze_count() > 0


@pytest.mark.usefixtures("restored_gc")
def test_chargeplane_gc_default_keeps_cpythons_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARGEPLANE_GC", "default")
    before = gc.get_threshold()
    _tune_garbage_collector()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
