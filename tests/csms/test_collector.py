"""The collector pacing of `chargeplane serve`: survivors frozen out of the collections, a cycle among frozen
objects still collected by the periodic full collection."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from chargeplane.csms.collector import YOUNG_THRESHOLD, CollectorPacing, full_collection


@pytest.fixture(autouse=True)
def restored_collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("CHARGEPLANE_GC", raising=False)
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


async def test_survivors_are_frozen_every_interval() -> None:
    pacing = CollectorPacing(freeze_interval=0.05, full_interval=3600)
    pacing.start()
    try:
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 20, 100)
        survivors = [Node() for _ in range(1000)]
        await asyncio.sleep(0.2)
        # gc.get_objects() lists what the collections walk, which leaves the frozen out
        walked = {id(tracked) for tracked in gc.get_objects()}
        assert not walked & {id(survivor) for survivor in survivors}
    finally:
        await pacing.stop()


async def test_a_cycle_among_frozen_objects_goes_at_the_full_collection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pacing = CollectorPacing(freeze_interval=0.05, full_interval=0.3)
    pacing.start()
    try:
        garbage = cycle()  # unreachable at once, but no collection ran before the next freeze took it
        await asyncio.sleep(0.1)
        gc.collect()
        assert garbage() is not None  # out of reach of the ordinary collections: only the full one finds it
        caplog.set_level("INFO", logger="chargeplane.csms.collector")
        for _ in range(40):
            if garbage() is None:
                break
            await asyncio.sleep(0.05)
        assert garbage() is None
        assert "full garbage collection" in caplog.text
    finally:
        await pacing.stop()


def test_a_full_collection_leaves_everything_frozen_again() -> None:
    garbage = cycle()
    gc.freeze()
    assert full_collection() >= 2
    assert garbage() is None
    assert gc.get_freeze_count() > 0
    assert gc.get_count()[0] < 100


async def test_default_keeps_cpythons_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARGEPLANE_GC", "default")
    thresholds = gc.get_threshold()
    pacing = CollectorPacing()
    pacing.start()
    await pacing.stop()
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0


def test_intervals_are_checked() -> None:
    with pytest.raises(ValueError, match="freeze_interval"):
        CollectorPacing(freeze_interval=0)
    with pytest.raises(ValueError, match="freeze_interval"):
        CollectorPacing(freeze_interval=10, full_interval=1)
