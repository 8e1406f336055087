"""The worker processes behind the epoch timings (``bench.worker``).

Checks of the harness, not benchmarks: a worker starts with the case's
thread count in every pool, trains on the data it was handed, reports its
failures with the traceback, and ``wait_quiet`` returns at once for idle
processes.
"""

from __future__ import annotations

import os
import time

import pytest

from bench import workloads
from bench.conftest import ci_strict
from bench.worker import QUIET_SHARE, Worker, WorkerError, process_cpu_ns, wait_quiet

CASE = workloads.EpochCase(workloads.tabular(300), batch_size=64, dtype="float64", threads=1)


@pytest.fixture(scope="module")
def sklearn_case(skip_if_no_data, epoch_workers):
    # The session's pool (conftest): its 1-thread scikit-learn worker, set up
    # for this case, if the epoch benches already started it.
    pool = epoch_workers
    return pool, pool.for_case(CASE, ["sklearn"], standin=False, peak=False)


@pytest.fixture(scope="module")
def skip_if_no_data():
    reason = workloads.unavailable_reason(CASE.workload)
    if reason:
        if ci_strict():
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)


def test_worker_runs_with_the_case_threads(sklearn_case):
    _, group = sklearn_case
    assert not group.failed
    w = group.worker("sklearn")
    assert w.pid != os.getpid()
    threads = w.info["threads"]
    assert threads["env"]["OPENBLAS_NUM_THREADS"] == "1"
    assert threads["env"]["OMP_NUM_THREADS"] == "1"
    assert threads["pools"] and all(p["num_threads"] == 1 for p in threads["pools"])
    assert w.info["n_samples"] == 300
    assert w.label == "sklearn"
    t = w.epoch()
    assert 0 < t < 60
    state = w.state()
    assert state["epochs"] >= 1 and state["first_epoch_s"] > 0


def test_a_turn_runs_epochs_back_to_back_for_at_least_its_length(sklearn_case):
    _, group = sklearn_case
    w = group.worker("sklearn")
    w.epoch()  # past the first epoch, which is always timed alone
    before = w.state()["epochs"]
    reply = w.call("epoch", collect=True, turn_s=0.05)
    n = reply["turn_epochs"]
    assert n >= 2 and reply["epochs"] == before + n
    # The mean over the epochs after the first, which together last the turn.
    assert reply["s"] * (n - 1) >= 0.05 and reply["first_s"] > 0
    # helper-77: however short the turn, the first epoch is not its figure.
    assert w.call("epoch", collect=True, turn_s=1e-9)["turn_epochs"] == 2
    assert w.call("epoch", collect=True, turn_s=0.0)["turn_epochs"] == 1


class _ColdFirstRunner:
    """An epoch costs 10 s of a fake clock right after a switch of systems
    (the turn's first), 1 s back to back."""

    def __init__(self, clock):
        self.clock, self.cold = clock, True

    def epoch(self):
        self.clock.now += 10.0 if self.cold else 1.0
        self.cold = False


def test_a_turn_leaves_its_cold_first_epoch_out(monkeypatch):
    # helper-77: a turn's figure was the mean of all its epochs, so a fast
    # system's turn averaged many warm epochs while a slow peer's was its
    # one cold epoch. Every turn's figure is now its warm epochs' mean.
    import types

    from bench import worker

    clock = types.SimpleNamespace(now=0.0)
    monkeypatch.setattr(worker, "time", types.SimpleNamespace(perf_counter=lambda: clock.now))
    child = worker._Child()
    runner = child.runner = _ColdFirstRunner(clock)
    assert child.epoch(turn_s=0.0)["s"] == 10.0  # the worker's first epoch, alone
    for turn_s, n_after_first in ((0.5, 1), (3.0, 3)):
        runner.cold = True
        reply = child.epoch(turn_s=turn_s)
        assert reply["s"] == 1.0 and reply["first_s"] == 10.0
        assert reply["turn_epochs"] == 1 + n_after_first
    runner.cold = True
    assert child.epoch(turn_s=0.0) == {"s": 10.0, "epochs": 8, "turn_epochs": 1}


def test_same_case_reuses_the_worker(sklearn_case):
    pool, group = sklearn_case
    again = pool.for_case(CASE, ["sklearn"], standin=False, peak=False)
    assert again.worker("sklearn") is group.worker("sklearn")


def test_idle_workers_are_quiet(sklearn_case):
    # What quiesce waits for, measured as CPU time (which a loaded machine
    # does not inflate for an idle process), not as the wall time of the
    # wait (a timing assertion, which a loaded machine failed).
    pool, _ = sklearn_case
    time.sleep(0.3)  # past OpenBLAS's spin after the last epoch
    pids = [w.pid for w in pool.workers.values() if w.proc.poll() is None]
    assert pids
    before = sum(process_cpu_ns(p) for p in pids)
    time.sleep(0.2)
    used = sum(process_cpu_ns(p) for p in pids) - before
    assert used < QUIET_SHARE * 0.2e9
    n_settled = len(pool.settle_s)
    assert pool.quiesce() >= 0.0 and len(pool.settle_s) == n_settled + 1


def test_worker_error_comes_back_with_traceback():
    w = Worker(1, "broken")
    try:
        with pytest.raises(WorkerError, match="unknown system"):
            w.call("setup", role="system", system="nope", threads=1, standin=False,
                   workload={}, dtype="float64", hidden=[4], batch_size=8)
        with pytest.raises(WorkerError, match="epoch before setup"):
            w.epoch()  # the worker survives a failed request
    finally:
        w.close()
    assert w.proc.returncode == 0


def test_wait_quiet_without_processes():
    assert wait_quiet([]) == 0.0
