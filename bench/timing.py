"""Interleaved epoch timing: systems alternate within every round.

All systems are prepared first; then ``warmup`` untimed rounds (Numba
compilation, first-touch allocations, estimator initialisation), then
``rounds`` timed rounds. Within a round each system runs one epoch, so a
slow drift of the machine (other tenants, thermal state) hits every system
alike: A B C D, B C D A, C D A B, ... (the starting system rotates so no
system always runs right after the same neighbour).
"""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass, field


@dataclass
class EpochTimes:
    warmup_s: list[float] = field(default_factory=list)
    epoch_s: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(self.epoch_s)

    @property
    def min_s(self) -> float:
        return min(self.epoch_s)

    def as_dict(self) -> dict:
        return {"warmup_s": self.warmup_s, "epoch_s": self.epoch_s,
                "median_s": self.median_s, "min_s": self.min_s}


def timed(fn) -> float:
    gc.collect()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleaved_epochs(runners: dict, rounds: int, warmup: int) -> dict[str, EpochTimes]:
    """Time ``rounds`` epochs of each runner, interleaved; see module doc."""
    names = list(runners)
    times = {name: EpochTimes() for name in names}
    for r in range(warmup + rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            t = timed(runners[name].epoch)
            (times[name].warmup_s if r < warmup else times[name].epoch_s).append(t)
    return times
