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
from bench.worker import Worker, WorkerError, wait_quiet

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
    assert n >= 1 and reply["epochs"] == before + n
    # The mean over the turn: n epochs lasting at least the turn together.
    assert reply["s"] * n >= 0.05
    assert w.call("epoch", collect=True, turn_s=0.0)["turn_epochs"] == 1


def test_same_case_reuses_the_worker(sklearn_case):
    pool, group = sklearn_case
    again = pool.for_case(CASE, ["sklearn"], standin=False, peak=False)
    assert again.worker("sklearn") is group.worker("sklearn")


def test_idle_workers_are_quiet(sklearn_case):
    pool, _ = sklearn_case
    time.sleep(0.3)  # past OpenBLAS's spin after the last epoch
    t0 = time.perf_counter()
    pool.quiesce()
    assert time.perf_counter() - t0 < 0.5  # two 10 ms windows, plus slack for a loaded machine


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
