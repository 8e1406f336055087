"""Interleaved epoch timing: systems alternate within every round.

All systems are prepared first; then ``warmup`` untimed rounds (Numba
compilation, first-touch allocations, estimator initialisation), then
``rounds`` timed rounds. Within a round each system runs one epoch, so a
slow drift of the machine (other tenants, thermal state) hits every system
alike: A B C D, B C D A, C D A B, ... (the starting system rotates so no
system always runs right after the same neighbour).

A runner is either in-process (``runner.epoch()``, timed here after
``gc.collect()``) or measures itself (``runner.timed_epoch()`` returns the
seconds): the :class:`bench.worker.Worker` proxies, which time the epoch
inside their own process. ``before_epoch(name)``, when given, runs untimed
before each epoch (the workers' "wait until every other pool is asleep").
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


def round_ratios(slow, fast) -> tuple[float, list[float]]:
    """The median of ``slow[i] / fast[i]`` over the rounds, and the rounds'
    ratios: how many times faster the system of ``fast`` was.

    A round's two times were taken side by side, so a drift of a shared
    machine cancels within each ratio; a ratio of the two medians would mix
    rounds taken under different loads (helper-153, rev-207).
    """
    rounds = [s / f for s, f in zip(slow, fast)]
    return statistics.median(rounds), rounds


def timed(fn) -> float:
    gc.collect()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def epoch_time(runner) -> float:
    """Seconds of one epoch of ``runner`` (self-timed when it can)."""
    own = getattr(runner, "timed_epoch", None)
    return own() if own is not None else timed(runner.epoch)


def interleaved_epochs(runners: dict, rounds: int, warmup: int,
                       failed: dict | None = None, before_epoch=None) -> dict[str, EpochTimes]:
    """Time ``rounds`` epochs of each runner, interleaved; see module doc.

    With a ``failed`` dict, a runner raising during warm-up is dropped and
    its error recorded there (so one broken system does not lose the
    others' numbers); errors in timed rounds always propagate.
    """
    names = list(runners)
    times = {name: EpochTimes() for name in names}
    for r in range(warmup + rounds):
        if not names:
            break
        k = r % len(names)
        for name in names[k:] + names[:k]:
            if before_epoch is not None:
                before_epoch(name)
            if r < warmup and failed is not None:
                try:
                    times[name].warmup_s.append(epoch_time(runners[name]))
                except Exception as exc:  # noqa: BLE001
                    failed[name] = f"failed in warm-up: {type(exc).__name__}: {exc}"[:400]
                continue
            t = epoch_time(runners[name])
            (times[name].warmup_s if r < warmup else times[name].epoch_s).append(t)
        if failed:
            names = [n for n in names if n not in failed]
            for n in failed:
                times.pop(n, None)
    return times
