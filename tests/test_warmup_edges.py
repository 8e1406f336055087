"""Edges of the warm-up and of what says whether the cache is warm: split
fits, wide networks, other threads' compiles, what the warm-up's copies
carry, and ``fastbp info``'s "warm for" line (helper-152's review)."""

import threading
import tracemalloc

import numpy as np
import pytest

from fastbp import MLPClassifier, warmup
from fastbp._cache import dispatchers
from fastbp.cli import main as cli_main
from fastbp.estimators import base, solvers
from fastbp.kernels import full, lean
from fastbp.kernels.codes import OUT_SOFTMAX
from fastbp.training import compile as training_compile
from fastbp.training import split
from fastbp.warmup import _cache_counts

X = np.random.RandomState(0).standard_normal((64, 3))
Y3 = np.arange(64) % 3


@pytest.fixture(scope="module", autouse=True)
def warm_default():
    # The kernels these tests fit with, compiled (or loaded) once.
    warmup(MLPClassifier(), dtypes="float64")


def test_a_split_fit_announces_and_looks_ahead_for_the_split_kernel(monkeypatch, capsys):
    # helper-152: a fit that split its steps between threads compiled its
    # own kernel (train_epoch_split) with no announcement: the announcement
    # and the compile-ahead decision looked at the unsplit kernel.
    asked, ahead = [], []
    monkeypatch.setattr(training_compile, "will_compile",
                        lambda kernel, dtype: asked.append(kernel) or True)
    monkeypatch.setattr(base, "compile_ahead",
                        lambda backend, spec, dtype, kernel, sparse: ahead.append(kernel))
    split_kernel = lean.for_output(OUT_SOFTMAX).train_epoch_split
    with split.forced_split(2):
        MLPClassifier((8,), max_iter=1, verbose=True).fit(X, Y3)
    assert asked == [split_kernel] and ahead == [split_kernel]
    assert "fastbp: compiling the float64 kernels for adam" in capsys.readouterr().out
    # Unsplit, the whole-epoch kernel, as before.
    asked.clear()
    ahead.clear()
    MLPClassifier((8,), max_iter=1, verbose=True).fit(X, Y3)
    assert asked == [lean.for_output(OUT_SOFTMAX).train_epoch] == ahead


def test_fit_split_parts_follows_the_fit(monkeypatch):
    backend = base.get_backend("cpu")
    with split.forced_split(2):
        assert solvers.fit_split_parts(MLPClassifier(), backend, False, False, 64, 100) == 2
        # Early stopping holds out 10%: 57 rows; batch_size=7 is below the
        # 16 rows a 2-way split needs.
        assert solvers.fit_split_parts(MLPClassifier(batch_size=7), backend, False, False,
                                       64, 100) == 1
        assert solvers.fit_split_parts(MLPClassifier(), backend, True, False, 64, 100) == 1
    assert solvers.fit_split_parts(MLPClassifier(), backend, False, False, 64, 100) == 1


def _warm_for(capsys):
    assert cli_main(["info"]) == 0
    out = capsys.readouterr().out
    return next(line for line in out.splitlines() if line.startswith("warm for: "))


def _cached_only(monkeypatch, kernels):
    """Make ``fastbp info`` see only ``kernels`` (float64) in the cache."""
    cached = {id(k) for k in kernels}
    monkeypatch.setattr(dispatchers, "will_compile",
                        lambda kernel, dtype: not (id(kernel) in cached
                                                   and np.dtype(dtype) == np.float64))


def test_info_needs_the_split_kernel_where_this_machine_splits(monkeypatch, capsys):
    # helper-152: info called the default path warm where a fit splitting
    # its steps (every large fit on 2 cores) compiled train_epoch_split.
    k = lean.for_output(OUT_SOFTMAX)
    _cached_only(monkeypatch, [k.train_epoch, k.predict])
    monkeypatch.setattr(split, "splits_here", lambda: True)
    assert _warm_for(capsys) == ("warm for: float64 default path (softmax) for predictions "
                                 "(fastbp compile fills it)")
    monkeypatch.setattr(split, "splits_here", lambda: False)
    assert "float64 default path (softmax) for sgd/adam fits, predictions" in _warm_for(capsys)
    monkeypatch.setattr(split, "splits_here", lambda: True)
    _cached_only(monkeypatch, [k.train_epoch, k.train_epoch_split, k.predict])
    assert "float64 default path (softmax) for sgd/adam fits, predictions" in _warm_for(capsys)


def test_info_reports_a_dropout_warm_up_as_warm(monkeypatch, capsys):
    # helper-152: after warmup(MLPClassifier(dropout=0.2)) a fresh process
    # compiled nothing, yet info said "nothing yet": the network trains
    # with the toolkit's kernels and predicts with the default path's.
    warmup(MLPClassifier(dropout=0.2), dtypes="float64")
    toolkit, default = full.for_output(OUT_SOFTMAX), lean.for_output(OUT_SOFTMAX)
    used = [toolkit.train_epoch, default.predict]
    assert not any(dispatchers.will_compile(k, "float64") for k in used)
    _cached_only(monkeypatch, used)
    assert _warm_for(capsys) == (
        "warm for: float64 default path (softmax) for predictions; float64 toolkit "
        "(softmax) for sgd/adam/rmsprop/adagrad/adamw fits (fastbp compile fills it)")


def test_a_wide_network_warms_up_on_small_arrays():
    # helper-152: the tiny fits kept the user's widths: (4096, 4096) took
    # 9.6 s and 1.3 GB on a warm cache, (16, 16) 0.15 s.
    warmup(MLPClassifier((16, 16)), dtypes="float64")  # compiled, if it was not
    tracemalloc.start()
    try:
        report = warmup(MLPClassifier((4096, 4096)), dtypes="float64")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.compiled == 0
    assert peak < 16 * 2**20, peak  # one 4096 x 4096 float64 matrix is 128 MiB
    before = _cache_counts()
    clf = MLPClassifier((4096, 4096), max_iter=1).fit(X[:20], Y3[:20])
    clf.predict(X[:20])
    clf.score(X[:20], Y3[:20])
    assert _cache_counts()[1] == before[1]  # nothing compiled


def test_tiny_widths_keep_the_layers_and_where_they_connect():
    from fastbp.estimators.architecture import equal_widths
    from fastbp.search_space import _tiny_widths
    from fastbp.warmup import _tiny_representative

    for sizes in [(4096, 4096), (512, 256, 256, 64), (7,), (), (3, 3, 3, 9, 9)]:
        widths = _tiny_widths(sizes)
        assert len(widths) == len(sizes) and max(widths, default=4) <= 5
        assert equal_widths(list(widths)) == equal_widths(list(sizes))
    tiny = _tiny_representative(MLPClassifier((300, 300, 100), residual=True))
    assert tiny.hidden_layer_sizes == (4, 4, 5) and tiny.residual


def test_workers_get_no_scorer_callbacks_or_schedule_of_the_users():
    # helper-152: warmup(n_jobs=2) sent the user's estimator to the workers
    # as it was: a scorer holding a lock failed with PicklingError; and the
    # tiny fits called the user's learning_rate schedule.
    lock = threading.Lock()

    def scorer(est, X, y):
        with lock:
            return est.score(X, y)

    clf = MLPClassifier(early_stopping=True, scoring=scorer)
    report = warmup(clf, dtypes="float64", n_jobs=2)
    assert report.n_jobs == 2, report
    assert "scoring=" in report.entries[0].estimator  # the user's, named

    epochs = []

    def schedule(epoch, learning_rate_init):
        epochs.append(epoch)
        return learning_rate_init

    warmup(MLPClassifier(learning_rate=schedule, solver="sgd"), dtypes="float64")
    assert epochs == []


def test_dtypes_may_be_bytes():
    # helper-152: b"float64" was iterated: "got 102".
    assert [e.dtype for e in warmup(MLPClassifier(), dtypes=b"float64").entries] == ["float64"]
    with pytest.raises(ValueError, match=r"got b'nope'"):
        warmup(MLPClassifier(), dtypes=b"nope")

