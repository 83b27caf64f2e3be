"""Reconnection back-off of a station (2.0.1 Part 4 §5.3 / §8, with the 2025-04 errata; 2.1 Part 4 §5.4).

The first retry waits ``RetryBackOffWaitMinimum`` plus a random 0..``RetryBackOffRandomRange`` seconds. Each
further failure doubles the previous wait (random part excluded) and adds a fresh random part, for at most
``RetryBackOffRepeatTimes`` doublings; after that the wait stays. A successful connection resets it.
With minimum 30, range 10 and repeat 3 the waits are about 30, 60, 120, 240, 240, ... seconds plus jitter.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BackOffSettings:
    wait_minimum: float = 30.0  # OCPPCommCtrlr.RetryBackOffWaitMinimum
    random_range: float = 10.0  # OCPPCommCtrlr.RetryBackOffRandomRange
    repeat_times: int = 3  # OCPPCommCtrlr.RetryBackOffRepeatTimes


class BackOff:
    def __init__(
        self, settings: BackOffSettings, uniform: Callable[[float, float], float] = random.uniform
    ) -> None:
        self.settings = settings
        self._uniform = uniform
        self._failures = 0

    def next_wait(self) -> float:
        """The wait before the next attempt, counting the attempt about to fail as one more failure."""
        doublings = min(self._failures, self.settings.repeat_times)
        self._failures += 1
        return self.settings.wait_minimum * (1 << doublings) + self._uniform(0.0, self.settings.random_range)

    def reset(self) -> None:
        """The connection succeeded: the next loss starts from the minimum again."""
        self._failures = 0
