"""Every system's epochs are checked to have trained every row before their
times are published, and the reported ratios are medians of paired rounds.
Smoke-sized, no timings; added after review 256 (fix-264)."""

from __future__ import annotations

import numpy as np
import pytest

from bench import epochs, peers, report, search, workloads
from bench.conftest import ci_strict
from bench.worker import Worker

# (1) A system whose epochs trained nothing is refused, not published.

CASE = workloads.EpochCase(workloads.tabular(300), batch_size=64, dtype="float64", threads=1)
SPEC = peers.TrainSpec(hidden=(16,), batch_size=64)


def _data():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((150, 5))
    y = rng.randint(0, 3, 150)
    return X, y, np.arange(3)


def test_check_trained_names_the_system_and_the_counts():
    epochs.check_trained("sklearn", {"epochs": 3, "samples": 6000}, 2000)
    with pytest.raises(RuntimeError, match=r"torch: its runner trained 0 samples in 3 epochs, "
                                           r"where 3 epochs of 2000 rows are 6000"):
        epochs.check_trained("torch", {"epochs": 3, "samples": 0}, 2000)
    with pytest.raises(RuntimeError, match="trained None samples"):
        epochs.check_trained("fastbp", {"epochs": 1}, 10)  # a worker that does not count


@pytest.mark.parametrize("estimator", ["fastbp", "sklearn"])
def test_estimator_runners_count_what_they_trained(estimator):
    X, y, classes = _data()
    runner = peers.make_runner(estimator, SPEC, standin=False).prepare(X, y, classes)
    assert runner.samples_trained() == 0
    for _ in range(2):
        runner.epoch()
    assert runner.samples_trained() == 300
    epochs.check_trained(estimator, {"epochs": 2, "samples": runner.samples_trained()}, 150)


@pytest.mark.parametrize("estimator", ["fastbp", "sklearn"])
def test_an_estimator_runner_that_trains_nothing_is_refused(estimator, monkeypatch):
    X, y, classes = _data()
    runner = peers.make_runner(estimator, SPEC, standin=False).prepare(X, y, classes)
    runner.epoch()  # initialised and counted once; the next epochs do nothing
    monkeypatch.setattr(runner, "epoch", lambda: None)
    runner.epoch()
    with pytest.raises(RuntimeError, match=f"{estimator}: its runner trained 150 samples in 2 epochs"):
        epochs.check_trained(estimator, {"epochs": 2, "samples": runner.samples_trained()}, 150)


@pytest.mark.torch
def test_a_torch_loop_that_steps_nothing_is_refused(monkeypatch):
    X, y, classes = _data()
    runner = peers.make_runner("torch", SPEC).prepare(X, y, classes)
    runner.epoch()
    assert runner.samples_trained() == 150
    epochs.check_trained("torch", {"epochs": 1, "samples": runner.samples_trained()}, 150)
    # rev-256's scratch change: the batch loop over range(0, 0, b).
    monkeypatch.setattr(peers, "range", lambda *a: iter(()), raising=False)
    runner.epoch()
    assert runner.samples_trained() == 150
    with pytest.raises(RuntimeError, match="torch: its runner trained 150 samples in 2 epochs"):
        epochs.check_trained("torch", {"epochs": 2, "samples": runner.samples_trained()}, 150)


@pytest.fixture(scope="module")
def data_or_skip():
    reason = workloads.unavailable_reason(CASE.workload)
    if reason:
        if ci_strict():
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)


def test_measure_case_records_the_counts_and_refuses_a_short_one(data_or_skip, epoch_workers,
                                                                 monkeypatch):
    systems = ["fastbp", "sklearn"]
    r = epochs.measure_case(CASE, systems=systems, rounds=1, warmup=1, standin=False,
                            with_peak=False, pool=epoch_workers)
    for s in systems:
        w = r["systems"][s]["worker"]
        assert w["samples_trained"] == w["epochs_run"] * 300

    real_state = Worker.state

    def untrained_sklearn(self):
        state = real_state(self)
        return {**state, "samples": 0} if self.name == "sklearn" else state

    monkeypatch.setattr(Worker, "state", untrained_sklearn)
    with pytest.raises(RuntimeError, match="sklearn: its runner trained 0 samples"):
        epochs.measure_case(CASE, systems=systems, rounds=1, warmup=1, standin=False,
                            with_peak=False, pool=epoch_workers, tolerate_failures=True)


# (2) bench.search's fastbp-vs-scikit-learn ratios pair the runs by repeat.

def _search_runs():
    def run(system, cache, repeat, fit_s, backend):
        return {"grid": "readme", "backend": backend, "system": system, "cache": cache,
                "repeat": repeat, "fit_s": fit_s, "process_s": fit_s + 1,
                "mean_test_score": [0.5], "best_params": {}}

    # rev-256's example: (fastbp, sklearn) = (1, 6), (3, 6), (1, 2): the
    # medians' ratio is 6 / 1 = 6.0, the repeats' ratios 6, 2, 2.
    pairs = [(1.0, 6.0), (3.0, 6.0), (1.0, 2.0)]
    return [r for backend in ("sequential", "threading", "loky", "loky-reused")
            for rep, (fb, sk) in enumerate(pairs)
            for r in (run("fastbp", "warm", rep, fb, backend), run("sklearn", "none", rep, sk, backend))]


def test_search_ratio_is_the_median_of_the_repeats_ratios():
    plan = search.Plan(grids=("readme",), backends=("sequential", "threading", "loky", "loky-reused"),
                       systems=("fastbp", "sklearn"), caches=("warm",), warm_repeats=3,
                       cold_repeats=1, smoke=False, cache_dir=None)
    rows = search.build_rows(plan, _search_runs())
    assert [r["ratio_sklearn_over_fastbp"] for r in rows] == [2.0] * 4
    by_name = {g["name"]: g["value"] for g in search.goals(rows, [])}
    assert by_name["threading_vs_sklearn_best"] == 2.0
    assert by_name["loky_vs_sklearn_loky"] == 2.0
    assert by_name["loky_reused_vs_sklearn_loky_reused"] == 2.0
    # A cell without a repeat in common has no ratio, not a made-up one.
    assert search.paired_ratio({"fit_s_by_repeat": {0: 2.0}}, {"fit_s_by_repeat": {1: 1.0}}) is None


# (3) bench.report times the README's 50 ms turns unless told otherwise.

def test_report_times_warm_turns_by_default():
    for mode in ("--quick", "--full", "--smoke"):
        assert report.parse_args([mode]).turn_ms == 50.0
    assert report.parse_args(["--turn-ms", "0"]).turn_ms == 0.0


def test_check_trained_takes_batch_norms_one_row_last_batch():
    # rev-270: fastbp's batch norm leaves a one-row last batch out of the
    # epoch (t_ counts 40 of 41 rows), and the exact count refused it.
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((41, 5)), rng.randint(0, 2, 41)
    from fastbp import MLPClassifier

    runner = peers.EstimatorRunner(MLPClassifier, peers.TrainSpec((4,), 20), "fastbp",
                                   normalization="batch").prepare(X, y, np.arange(2))
    for _ in range(2):
        runner.epoch()
    assert runner.samples_trained() == 80
    epochs.check_trained("fastbp", {"epochs": 2, "samples": runner.samples_trained()}, 41)
    with pytest.raises(RuntimeError, match="trained 78 samples"):
        epochs.check_trained("fastbp", {"epochs": 2, "samples": 78}, 41)
