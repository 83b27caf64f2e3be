"""The runtime's simulated meter at a compressed time scale: a clock-aligned sample (J01) carries the register at
its own instant, not the one of the last meter tick (a tick lasts ``meter_tick_s * time_scale`` simulated
seconds: here 300, five times the aligned interval)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

from chargeplane.csms.clock import ScaledClock
from chargeplane.station.hardware import SimulatedEv
from chargeplane.station.runtime import RuntimeSettings, StationRuntime
from chargeplane.transport.backoff import BackOffSettings
from tests.station.csms_peer import CsmsBehaviour, peer_csms, wait_for

SCALE = 600.0
ALIGNED_S = 60  # simulated seconds between two clock-aligned samples
POWER_W = 11_000.0


def _clock_registers(behaviour: CsmsBehaviour) -> list[tuple[datetime, float]]:
    found: list[tuple[datetime, float]] = []
    for event in behaviour.of("TransactionEvent"):
        for value in event.get("meter_value") or []:
            for sample in value["sampled_value"]:
                if sample.get("context") == "Sample.Clock" and sample.get("measurand", "").endswith(
                    "Register"
                ):
                    found.append((datetime.fromisoformat(value["timestamp"]), float(sample["value"])))
    return found


async def test_J01_a_clock_aligned_register_is_read_at_its_instant_under_a_compressed_clock() -> None:
    behaviour = CsmsBehaviour()
    clock = ScaledClock(datetime(2026, 12, 8, 17, 0, 1, tzinfo=UTC), SCALE)
    async with peer_csms(behaviour) as url:
        settings = RuntimeSettings(
            url=url,
            station_id="CS001",
            meter_tick_s=0.5,
            time_scale=SCALE,
            backoff=BackOffSettings(0.1, 0.0, 1),
            variables={
                ("SampledDataCtrlr", "TxUpdatedInterval", None): "0",
                ("AlignedDataCtrlr", "Interval", None): str(ALIGNED_S),
                ("AlignedDataCtrlr", "Measurands", None): "Energy.Active.Import.Register",
            },
        )
        station = StationRuntime(settings, clock=clock.now)
        task = asyncio.create_task(station.run())
        try:
            await wait_for(lambda: behaviour.of("StatusNotification"))
            station.plug(1, 1, SimulatedEv(capacity_wh=1e9, soc=0.0, max_power_w=POWER_W))
            station.present_token("CARD1")
            await wait_for(lambda: len(_clock_registers(behaviour)) >= 8, within=5)
        finally:
            await station.stop()
            await asyncio.wait_for(task, timeout=5)
    registers = _clock_registers(behaviour)
    steps: list[float | None] = []
    for (t0, wh0), (t1, wh1) in itertools.pairwise(registers):
        seconds = (t1 - t0).total_seconds()
        steps.append((wh1 - wh0) / (POWER_W * seconds / 3600) if seconds > 0 else None)
    # charging at a steady power, every aligned interval shows its energy (a stale register: 0, then a jump)
    middle = [s for s in steps[1:-1] if s is not None]
    assert middle, registers
    assert all(0.6 <= s <= 1.4 for s in middle), steps
