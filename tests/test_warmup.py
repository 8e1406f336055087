"""Warm-up (``fastbp.warmup``, ``fastbp compile``), the compile lock, and
fits that run at once in threads.

Compiles from an empty cache run in fresh interpreters with a temporary
``NUMBA_CACHE_DIR``, so that they measure what a new machine sees.
"""

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest
from filelock import FileLock
from joblib import parallel_backend
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

import fastbp
from fastbp import MLPClassifier, MLPRegressor, OversubscriptionWarning, WarmupReport, warmup
from fastbp._cache.compile_locks import compile_lock_name
from fastbp._cache.locks import LOCKS_DIR
from fastbp.kernels import lean
from fastbp.kernels.codes import OUT_SOFTMAX
from fastbp.cli import main as cli_main
from fastbp.training import threads
from fastbp.search_space import _configurations
from fastbp.warmup import _cache_counts, _parts, _schedule

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_WARM = """
import json, sys
import fastbp
print("ready", flush=True)
if {wait}:
    sys.stdin.readline()
from fastbp.warmup import _cache_counts
hits, misses = _cache_counts()
report = fastbp.warmup({estimators}dtypes={dtypes!r}, n_jobs={n_jobs!r})
new_hits, new_misses = _cache_counts()
print(json.dumps({{"compiled": report.compiled, "loaded": report.loaded,
                   "seconds": report.seconds,
                   "entries": [[e.estimator, e.dtype] for e in report.entries],
                   "here": {{"compiled": new_misses - misses, "loaded": new_hits - hits}}}}))
"""


def start_warmup(cache_dir, dtypes, wait=False, n_jobs=None, estimators=""):
    """A fresh interpreter that warms ``estimators`` (Python source of
    positional arguments; default: the default classifier) for ``dtypes``
    in ``cache_dir``; it prints ``ready`` once imported, then (``wait``)
    waits for a line on its stdin before it starts."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    code = textwrap.dedent(_WARM.format(dtypes=dtypes, wait=wait, n_jobs=n_jobs,
                                        estimators=estimators and estimators + ", "))
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=600):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err}"
    return json.loads(out.strip().splitlines()[-1])


def kernel_directory(cache_dir):
    (directory,) = [os.path.join(cache_dir, d) for d in os.listdir(cache_dir)
                    if d.startswith("kernels")]
    return directory


def softmax_epoch_lock(cache_dir, dtype):
    """The lock file of the default path's softmax ``train_epoch`` for
    ``dtype`` (its signature as this process compiled or loaded it) in
    ``cache_dir``, and the kernel's index file name."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one iteration does not converge
        MLPClassifier(max_iter=1).fit(np.zeros((6, 2), dtype), np.arange(6) % 3)
    kernel = lean.for_output(OUT_SOFTMAX).train_epoch
    (args,) = [sig for sig in kernel.signatures if f"array({dtype}," in str(sig[0])]
    directory = kernel_directory(cache_dir)
    os.makedirs(os.path.join(directory, LOCKS_DIR), exist_ok=True)
    return (os.path.join(directory, LOCKS_DIR, compile_lock_name(kernel, args)),
            os.path.join(directory, kernel._cache._cache_file._index_name))


def test_processes_wait_for_each_others_compiles_then_load(tmp_path):
    # Hold one kernel's lock the way a compiling process would, start two
    # cold processes that need it, and check that neither compiles it
    # while the lock is held.
    procs = [start_warmup(tmp_path, ["float64"], wait=True) for _ in range(2)]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    lock_file, index = softmax_epoch_lock(tmp_path, "float64")
    with FileLock(lock_file):
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        time.sleep(4)
        assert not os.path.exists(index), "a process compiled the kernel while its lock was held"
    reports = [finish(p) for p in procs]
    # Each kernel was compiled once, by one of them; the other waited, then
    # loaded it. (Which one compiles which kernel depends on who gets its
    # lock first.) A cold process on its own compiles:
    alone = finish(start_warmup(tmp_path / "alone", ["float64"]))
    assert sum(r["compiled"] for r in reports) == alone["compiled"] > 0
    assert sum(r["loaded"] for r in reports) > 0


def test_a_compile_waits_only_for_its_own_kernel_and_dtype(tmp_path):
    # The float32 lock of a kernel held, as by a process compiling it: a
    # float32 warm-up waits for it, and a float64 one of the same kernel,
    # started at the same time, does not (one lock per cache, or per
    # kernel, would hold it back until LOCK_TIMEOUT, 600 s).
    procs = {dtype: start_warmup(tmp_path, [dtype], wait=True)
             for dtype in ("float32", "float64")}
    for proc in procs.values():
        assert proc.stdout.readline().strip() == "ready"
    lock_file, index = softmax_epoch_lock(tmp_path, "float32")
    with FileLock(lock_file):
        for proc in procs.values():
            proc.stdin.write("go\n")
            proc.stdin.flush()
        assert finish(procs["float64"], timeout=300)["compiled"] > 0
        assert os.path.exists(index)
        assert procs["float32"].poll() is None, "the float32 warm-up did not wait for its lock"
    assert finish(procs["float32"])["compiled"] > 0


def test_parallel_warmup_compiles_each_kernel_once_and_warms_this_process(tmp_path):
    # n_jobs=2: two worker processes share the configurations' parts; every
    # kernel is compiled once, by one of them, and all of it is saved; the
    # calling process then loads it all, compiling nothing.
    estimators = "fastbp.MLPRegressor(solver='lbfgs'), fastbp.MLPClassifier()"
    dtypes = ["float32", "float64"]
    parallel = finish(start_warmup(tmp_path, dtypes, n_jobs=2, estimators=estimators))
    alone = finish(start_warmup(tmp_path / "alone", dtypes, estimators=estimators))
    assert parallel["compiled"] == alone["compiled"] > 0
    assert parallel["here"]["compiled"] == 0 and parallel["here"]["loaded"] > 0
    # Entries in the order of the arguments and dtypes, whatever order the
    # workers took the parts in (L-BFGS's last).
    assert parallel["entries"] == alone["entries"] == [
        ["MLPRegressor(solver='lbfgs')", "float32"], ["MLPRegressor(solver='lbfgs')", "float64"],
        ["MLPClassifier()", "float32"], ["MLPClassifier()", "float64"]]
    again = finish(start_warmup(tmp_path, dtypes, estimators=estimators))
    assert again["compiled"] == 0 and again["loaded"] > 0


def test_parallel_warmup_takes_distinct_kernels_first():
    # The last classifier runs the same kernels as the first.
    estimators = (MLPClassifier(), MLPClassifier(solver="lbfgs"), MLPRegressor(),
                  MLPClassifier(alpha=0.1))
    tasks = [(est, dtype, part) for est in estimators
             for dtype in ("float32", "float64") for part in _parts(est, sparse=True)]
    order = _schedule(tasks)
    assert sorted(map(id, order)) == sorted(map(id, tasks))
    # Sparse X first (the toolkit's full kernels, the longest compile), one
    # task per dtype and output function (softmax, logistic, identity).
    assert [t[2][0] for t in order[:6]] == ["sparse"] * 6
    assert {(t[1], type(t[0]).__name__, t[2][1]) for t in order[:6]} == {
        (dtype, name, target) for dtype in ("float32", "float64")
        for name, target in (("MLPClassifier", 0), ("MLPClassifier", 1), ("MLPRegressor", 0))}
    # A task repeating a group's kernels waits until every group has
    # started. Per dtype, thirteen groups: sparse and dense X, each with a
    # stochastic solver for the three outputs and with L-BFGS for the two
    # classifier outputs; split steps for the three outputs.
    first_repeat = next(i for i, t in enumerate(order) if t[0] is estimators[-1])
    assert first_repeat == 26
    assert all(t[0] is estimators[-1] for t in order[first_repeat:])
    # L-BFGS after the stochastic solvers, whose kernels it shares.
    solvers = [t[0].solver for t in order[:first_repeat]]
    assert solvers == sorted(solvers, key=lambda s: s == "lbfgs")


_FIT_WHILE_LOCKED = """
import json, sys, warnings
import numpy as np
from threadpoolctl import threadpool_limits
from fastbp import MLPClassifier
from fastbp.training.split import forced_split
from fastbp.warmup import _cache_counts
print("ready", flush=True)
sys.stdin.readline()
X = np.random.RandomState(0).standard_normal((60, 5))
y = np.arange(60) % 3
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # one iteration does not converge
    if {split}:
        with forced_split(2):
            MLPClassifier(max_iter=1, **{params}).fit(X, y).predict(X)
        predicted = None
    else:
        with threadpool_limits(1):  # a loky worker's pool: this fit is not split
            model = MLPClassifier(max_iter=1, **{params}).fit(X, y)
        fitted = _cache_counts()[1]
        model.predict(X), model.predict_proba(X[:1]), model.score(X, y)
        predicted = _cache_counts()[1] - fitted
print(json.dumps({{"compiled": _cache_counts()[1], "predict_compiled": predicted}}))
"""


def start_fit(cache_dir, split=False, **params):
    """A fresh interpreter that fits a small softmax classifier in float64
    (its steps split between two threads, or on one BLAS thread, unsplit;
    with ``params``) once it reads a line, as :func:`start_warmup` does."""
    # A 2-core machine, where the refit of a search splits its steps.
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), LOKY_MAX_CPU_COUNT="2")
    env.pop("FASTBP_SPLIT", None)
    code = _FIT_WHILE_LOCKED.format(split=split, params=params)
    return subprocess.Popen([sys.executable, "-c", code],
                            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _index_names():
    kernels = lean.for_output(OUT_SOFTMAX)
    return {name: getattr(kernels, name)._cache._cache_file._index_name
            for name in ("train_epoch_split", "predict")}


def test_a_fit_waiting_for_another_process_compiles_its_split_and_predict_kernels(tmp_path):
    # A search's loky workers all need the same training kernel: one
    # compiles it, and another, instead of idling, compiles the kernels
    # the search needs next (the predictions that score each fit, and the
    # split steps of the refit on every core), which a fit of its own
    # would otherwise compile or wait for in turn.
    proc = start_fit(tmp_path)
    assert proc.stdout.readline().strip() == "ready"
    lock_file, train_index = softmax_epoch_lock(tmp_path, "float64")
    directory = kernel_directory(tmp_path)
    wanted = [os.path.join(directory, name) for name in _index_names().values()]
    with FileLock(lock_file):
        proc.stdin.write("go\n")
        proc.stdin.flush()
        deadline = time.monotonic() + 120
        while not all(map(os.path.exists, wanted)) and proc.poll() is None:
            assert time.monotonic() < deadline, "the waiting fit did not compile its twins"
            time.sleep(0.2)
        assert all(map(os.path.exists, wanted)), proc.communicate()
        assert not os.path.exists(train_index), "the fit compiled its kernel under the lock"
        assert proc.poll() is None, "the fit ended while its kernel's lock was held"
    report = finish(proc)
    assert report["compiled"] > 0
    assert report["predict_compiled"] == 0, "the wait compiled another prediction kernel"
    # What it compiled while it waited serves a split fit and its predictions.
    assert finish(start_fit(tmp_path, split=True))["compiled"] == 0


def test_a_toolkit_fit_waiting_for_its_kernel_compiles_its_predictions(tmp_path):
    # A batch-norm fit runs the toolkit's kernels, which have no split
    # twin; its wait still compiles the prediction kernel its model runs.
    from fastbp.kernels import full as toolkit

    full = toolkit.for_output(OUT_SOFTMAX)
    proc = start_fit(tmp_path, normalization="batch")
    assert proc.stdout.readline().strip() == "ready"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one iteration does not converge
        MLPClassifier(max_iter=1, normalization="batch").fit(np.zeros((6, 2)), np.arange(6) % 3)
    (args,) = [sig for sig in full.train_epoch.signatures if "array(float64," in str(sig[0])]
    directory = kernel_directory(tmp_path)
    os.makedirs(os.path.join(directory, LOCKS_DIR), exist_ok=True)
    lock_file = os.path.join(directory, LOCKS_DIR, compile_lock_name(full.train_epoch, args))
    predict_index = os.path.join(directory, full.predict._cache._cache_file._index_name)
    train_index = os.path.join(directory, full.train_epoch._cache._cache_file._index_name)
    with FileLock(lock_file):
        proc.stdin.write("go\n")
        proc.stdin.flush()
        deadline = time.monotonic() + 120
        while not os.path.exists(predict_index) and proc.poll() is None:
            assert time.monotonic() < deadline, "the waiting fit did not compile its predictions"
            time.sleep(0.2)
        assert os.path.exists(predict_index), proc.communicate()
        assert not os.path.exists(train_index)
    report = finish(proc)
    assert report["compiled"] > 0
    assert report["predict_compiled"] == 0, "the wait compiled another prediction kernel"


def test_one_process_spends_a_wait_and_the_others_just_wait(tmp_path):
    # The claim on spending the wait for this kernel is held, as by a
    # second process doing so: a third only waits.
    proc = start_fit(tmp_path)
    assert proc.stdout.readline().strip() == "ready"
    lock_file, train_index = softmax_epoch_lock(tmp_path, "float64")
    split_index = os.path.join(kernel_directory(tmp_path), _index_names()["train_epoch_split"])
    with FileLock(lock_file), FileLock(lock_file[:-len(".lock")] + ".idle.lock"):
        proc.stdin.write("go\n")
        proc.stdin.flush()
        time.sleep(4)
        assert not os.path.exists(split_index), "a second process spent its wait compiling"
        assert proc.poll() is None
    assert finish(proc)["compiled"] > 0
    assert not os.path.exists(split_index)


_FIT_WAITING_ALWAYS = """
import json, warnings
import numpy as np
from threadpoolctl import threadpool_limits
import importlib
from fastbp import MLPClassifier
compile_locks, locks, tiny_fits = (importlib.import_module(f"fastbp.{m}") for m in (
    "_cache.compile_locks", "_cache.locks", "estimators.tiny_fits"))
# Every compile finds another process compiling (compile_locks reads it),
# and so does the compile-ahead helper's claim (ahead reads it from locks).
compile_locks._busy = locks._busy = lambda lock: True
calls = []
warm_twins = tiny_fits.warm_twins
tiny_fits.warm_twins = lambda *a: (calls.append(1), warm_twins(*a))
X = np.random.RandomState(0).standard_normal((60, 5))
with warnings.catch_warnings(), threadpool_limits(1):
    warnings.simplefilter("ignore")  # one iteration does not converge
    MLPClassifier(max_iter=1, batch_size=8).fit(X, np.arange(60) % 3)
print(json.dumps({"calls": len(calls)}))
"""


def test_a_spent_wait_does_not_spend_another(tmp_path):
    # The warm-up's own fits wait for kernels too (the lock of each looks
    # held here): none of them spends a wait, whatever the user's batch
    # size (8 rows cannot be split: the warm-up fits its own).
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), LOKY_MAX_CPU_COUNT="2")
    env.pop("FASTBP_SPLIT", None)
    proc = subprocess.run([sys.executable, "-c", _FIT_WAITING_ALWAYS], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == {"calls": 1}
    split_index = os.path.join(kernel_directory(tmp_path), _index_names()["train_epoch_split"])
    assert os.path.exists(split_index)


def test_ctrl_c_in_a_warm_up_fit_stops_the_warm_up(monkeypatch):
    # A fit keeps its model after Ctrl-C and warns; a warm-up stops.
    from fastbp.training import split as split_module
    from fastbp.warmup import _tiny_fit

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(split_module.SplitEpoch, "run", interrupted)
    predicted = []
    monkeypatch.setattr(MLPClassifier, "predict", lambda *a: predicted.append(1))
    with pytest.raises(KeyboardInterrupt):
        _tiny_fit(MLPClassifier(), "float64", "split", 0)
    assert predicted == []
    assert threads.active_fits() == 0


def _held_elsewhere(path):
    """A process that holds the file lock ``path`` until its stdin closes."""
    code = ("import sys\nfrom filelock import FileLock\nlock = FileLock(sys.argv[1])\n"
            "lock.acquire()\n"
            "print('held', flush=True)\nsys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code, path], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_wait_is_spent_once_only_where_another_process_compiles():
    from numba.core.compiler_lock import global_compiler_lock

    from fastbp._cache import compile_locks

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one iteration does not converge
        MLPClassifier(max_iter=1).fit(np.zeros((6, 2)), np.arange(6) % 3)
    kernel = lean.for_output(OUT_SOFTMAX).train_epoch
    args = next(sig for sig in kernel.signatures if "array(float64," in str(sig[0]))
    lock = compile_locks.compile_lock(kernel, args)
    calls = []

    def spend(task=lambda: calls.append(1)):
        with compile_locks.while_waiting(task):
            compile_locks._spend_the_wait(kernel, args, lock)
            compile_locks._spend_the_wait(kernel, args, lock)  # once per block

    spend()
    assert calls == [], "a free lock is no wait"
    holder = _held_elsewhere(lock.lock_file)
    try:
        spend()
        assert calls == [1]
        with global_compiler_lock:  # inside a compile: Numba's lock would stop split steps
            spend()
        assert calls == [1]

        def fails():
            calls.append(2)
            raise ValueError("a warm-up that fails")

        spend(fails)  # dropped: the fit it serves goes on
        assert calls == [1, 2]
        with pytest.raises(KeyboardInterrupt):
            spend(lambda: (_ for _ in ()).throw(KeyboardInterrupt()))
        claimer = _held_elsewhere(lock.lock_file[:-len(".lock")] + ".idle.lock")
        try:
            spend()
        finally:
            claimer.communicate("")
        assert calls == [1, 2], "two processes spent one wait"
        spend()  # the claim is released after each spent wait
        assert calls == [1, 2, 1]
    finally:
        holder.communicate("")
    assert getattr(compile_locks._waiting, "task", None) is None


def test_after_giving_up_one_lock_a_process_does_not_wait_again_for_each(tmp_path,
                                                                      monkeypatch):
    # A stalled process holds the lock of a kernel and those of its callees:
    # a process that gave up waiting for the first went on to wait the full
    # LOCK_TIMEOUT (600 s) again for each callee's lock.
    from fastbp._cache import locks

    monkeypatch.setattr(locks, "LOCK_TIMEOUT", 2.0)
    monkeypatch.setattr(locks, "_warned_lock", False)
    monkeypatch.setattr(locks, "_hurry_until", 0.0)
    paths = [str(tmp_path / f"kernel{i}.lock") for i in range(3)]
    holders = [_held_elsewhere(path) for path in paths]
    try:
        start = time.perf_counter()
        with pytest.warns(fastbp.CacheWarning, match="gave up"):
            assert locks._acquire(locks._file_lock(paths[0]), "compiling") is False
        assert time.perf_counter() - start >= 1.9
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # said once
            for path in paths[1:]:
                assert locks._acquire(locks._file_lock(path), "compiling") is False
        assert time.perf_counter() - start < 1.0, "waited the full timeout again"
        # helper-44: for a while only; a long-lived process waits again later.
        monkeypatch.setattr(locks, "_hurry_until", time.monotonic() - 1)
        start = time.perf_counter()
        assert locks._acquire(locks._file_lock(paths[1]), "compiling") is False
        assert time.perf_counter() - start >= 1.9
    finally:
        for holder in holders:
            holder.communicate("")
    # A free lock is still taken.
    lock = locks._file_lock(str(tmp_path / "free.lock"))
    assert locks._acquire(lock, "compiling") is True
    lock.release()


_CACHE_WARNING_IN_A_FIT = """
import json, os, warnings
import fastbp
from fastbp import MLPClassifier
PARENT = os.getpid()

class WarnsInWorkers(MLPClassifier):
    def fit(self, X, y):
        if os.getpid() != PARENT or {serial}:
            warnings.warn("cache entry damaged (test)", fastbp.CacheWarning)
        return super().fit(X, y)

with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    fastbp.warmup(WarnsInWorkers(), dtypes="float64", n_jobs={n_jobs})
print(json.dumps([str(w.message) for w in seen
                  if issubclass(w.category, fastbp.CacheWarning)]))
"""


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_warmup_passes_cache_warnings_on(n_jobs):
    # The warm-up's fits record their warnings (two iterations never
    # converge), which swallowed the cache's own: a damaged entry, a lock
    # given up. With n_jobs, the workers' reach this process.
    code = _CACHE_WARNING_IN_A_FIT.format(n_jobs=n_jobs, serial=n_jobs == 1)
    env = dict(os.environ, LOKY_MAX_CPU_COUNT="2")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen and all("cache entry damaged (test)" in m for m in seen), seen
    if n_jobs > 1:
        assert len(seen) == 1, "one warning per message, not one per worker task"


def test_concurrent_compiles_of_two_dtypes_keep_every_cache_entry(tmp_path):
    # Numba rewrites a kernel's index file without a lock; two processes
    # compiling float32 and float64 at once used to lose one's entries.
    procs = [start_warmup(tmp_path, [dtype]) for dtype in ("float32", "float64")]
    for proc in procs:
        assert finish(proc)["compiled"] > 0
    after = finish(start_warmup(tmp_path, ["float32", "float64"]))
    assert after["compiled"] == 0, "a concurrent compile lost a cache entry"
    assert after["loaded"] > 0


def test_after_warmup_real_fits_compile_nothing():
    X, y = load_digits(return_X_y=True)
    X, y = X[:300], y[:300]
    search = GridSearchCV(
        make_pipeline(StandardScaler(), MLPClassifier(max_iter=3, random_state=0)),
        {"mlpclassifier__solver": ["adam", "lbfgs"], "mlpclassifier__alpha": [1e-4, 1e-2],
         "mlpclassifier__early_stopping": [False, True]}, cv=2)
    report = warmup(search, dtypes=["float64"])
    assert report.compiled + report.loaded >= 0
    assert {e.estimator for e in report.entries} == {
        "MLPClassifier()", "MLPClassifier(solver='lbfgs')",
        "MLPClassifier(early_stopping=True)",
        "MLPClassifier(solver='lbfgs', early_stopping=True)"}
    before = _cache_counts()
    n_signatures = sum(len(d.signatures) for d in fastbp._cache.dispatchers._dispatchers)
    with pytest.warns(Warning):
        search.fit(X, y)
    search.predict(X)
    assert _cache_counts() == before
    assert sum(len(d.signatures) for d in fastbp._cache.dispatchers._dispatchers) == n_signatures


def _assert_fits_and_predicts_without_compiling(search, X, y):
    before = _cache_counts()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y)
    search.predict_proba(X)
    assert _cache_counts() == before


def test_after_warmup_a_residual_search_compiles_nothing():
    # helper-56: the (8, 8) candidates' residual connections need the full
    # kernels, which warmup left to the search's fits (7 s compiling).
    X, y = load_digits(return_X_y=True)
    X, y = X[:200] / 16, y[:200]
    search = GridSearchCV(MLPClassifier(residual=True, max_iter=2, random_state=0),
                          {"hidden_layer_sizes": [(8,), (8, 8)]}, cv=2)
    report = warmup(search, dtypes=["float64"])
    # helper-103: the (8,) configuration connects no layers (lean kernels),
    # and says so.
    assert sorted(e.estimator for e in report.entries) == [
        "MLPClassifier(residual=True (no connections))",
        "MLPClassifier(residual=True, hidden_layer_sizes=(8, 8))"]
    _assert_fits_and_predicts_without_compiling(search, X, y)


class _Sizes:
    """A distribution of ``hidden_layer_sizes`` (``rvs`` as scikit-learn's
    ParameterSampler calls it): two equal layers of 32 or 64."""

    def rvs(self, random_state=None):
        width = int(random_state.choice([32, 64]))
        return (width, width)


def test_after_warmup_a_search_drawing_residual_sizes_compiles_nothing():
    # helper-103: a distribution of hidden_layer_sizes was not drawn from:
    # warmup fitted the template's (100,), which connects no layers (lean
    # kernels), reported it as residual=True, and the search's (w, w) fits
    # compiled the full kernels.
    from fastbp.search_space import _grids

    search = RandomizedSearchCV(MLPClassifier(residual=True, max_iter=2, random_state=0),
                                {"hidden_layer_sizes": _Sizes()}, n_iter=2, cv=2,
                                random_state=0)
    assert sorted(g["hidden_layer_sizes"] for g in _grids(search)) == [(32, 32), (64, 64)]
    report = warmup(search, dtypes=["float64"])
    assert [e.estimator for e in report.entries] == [
        "MLPClassifier(residual=True, hidden_layer_sizes=(32, 32))"]
    X, y = load_digits(return_X_y=True)
    X, y = X[:200] / 16, y[:200]
    _assert_fits_and_predicts_without_compiling(search, X, y)


_NUMBA_MODULES_OF_A_WARM_FIT = """
import json, sys, warnings
import numpy as np
import fastbp
before = set(sys.modules)
warnings.simplefilter("ignore")
rng = np.random.RandomState(0)
X = rng.standard_normal((64, 6))
y = np.arange(64) % 3
for dtype in ("float32", "float64"):
    Xd = X.astype(dtype)
    model = fastbp.MLPClassifier((8,), max_iter=2, random_state=0).fit(Xd, y)
    model.predict_proba(Xd)
    model.partial_fit(Xd, y)
    fastbp.MLPClassifier((8,), max_iter=2, early_stopping=True, random_state=0).fit(Xd, y)
    fastbp.MLPClassifier((8,), max_iter=2, solver="lbfgs", random_state=0).fit(Xd, y)
    fastbp.MLPRegressor(hidden_layer_sizes=(8,), max_iter=2, solver="sgd",
                        random_state=0).fit(Xd, X[:, :2]).predict(Xd)
print(json.dumps(sorted(m for m in set(sys.modules) - before
                        if m.split(".")[0] in ("numba", "llvmlite"))))
"""


def test_fits_that_load_their_kernels_import_none_of_numbas_modules():
    # A cached kernel's environment names the module of every function
    # compiled into it, and loading the kernel imports that module: a
    # kernel that called ``reshape`` made every new process import
    # numba.np.arrayobj (about 20 ms of each warm first fit).
    env = dict(os.environ, FASTBP_COMPILE_AHEAD="0")
    runs = []
    for _ in range(2):  # the first fills the cache where it is cold
        proc = subprocess.run([sys.executable, "-c", _NUMBA_MODULES_OF_A_WARM_FIT], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert runs[-1] == []


def test_warmup_of_settings_that_fit_only_the_users_data():
    # class_weight names the user's labels, scoring suits the user's task
    # and validation_fraction the user's row count: the warm-up's tiny
    # problem has none of them, and must still warm what the real fit runs.
    rng = np.random.RandomState(0)
    X = rng.standard_normal((400, 4))
    y = np.where(X[:, 0] > 0, "yes", "no")
    models = [MLPClassifier(class_weight={"no": 1, "yes": 3}, max_iter=2),
              MLPClassifier(early_stopping=True, scoring="roc_auc", max_iter=2),
              MLPClassifier(early_stopping=True, validation_fraction=0.01, max_iter=2)]
    report = warmup(*models, dtypes="float64")
    assert len(report.entries) == 3
    before = _cache_counts()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for model in models:
            model.fit(X, y).predict_proba(X)
    assert _cache_counts()[1] == before[1]  # nothing compiled


def test_configurations_expand_searches_and_drop_duplicates():
    pipe = make_pipeline(StandardScaler(), MLPRegressor())
    grid = GridSearchCV(pipe, [{"mlpregressor__solver": ["adam", "sgd"],
                                "mlpregressor__alpha": [1e-4, 1e-3, 1e-2]},
                               {"mlpregressor__solver": ["lbfgs"]}])
    configs = _configurations([grid])
    assert sorted(c.solver for c in configs) == ["adam", "lbfgs", "sgd"]
    assert all(isinstance(c, MLPRegressor) for c in configs)
    # A distribution's list is its set of choices; the same estimator twice is one.
    rand = RandomizedSearchCV(MLPClassifier(), {"activation": ["relu", "tanh"]}, n_iter=2)
    configs = _configurations([rand, MLPClassifier(), MLPClassifier()])
    assert sorted(c.activation for c in configs) == ["relu", "tanh"]
    # helper-56: whether residual=True connects layers depends on the sizes
    # (equal widths), which were neither expanded nor told apart: a grid of
    # (8,) and (8, 8) warmed the lean kernels only.
    search = GridSearchCV(MLPClassifier(residual=True),
                          {"hidden_layer_sizes": [(8,), (8, 8), (16,), (16, 16)]})
    configs = _configurations([search])
    assert sorted(tuple(c.hidden_layer_sizes) for c in configs) == [(8,), (8, 8)]


def test_grid_points_a_fit_refuses_are_skipped_and_nested_searches_expanded():
    # helper-69: one point a fit refuses before training (lbfgs with
    # dropout, which the search scores NaN) made the whole warm-up raise,
    # and fit_on_dask's workers warmed nothing; a search inside a pipeline
    # or another search was not expanded, so its lbfgs point compiled in
    # the real fit.
    search = GridSearchCV(MLPClassifier(), {"solver": ["adam", "lbfgs"],
                                            "dropout": [0.0, 0.2]})
    configs = _configurations([search])
    assert sorted((c.solver, c.dropout) for c in configs) == [
        ("adam", 0.0), ("adam", 0.2), ("lbfgs", 0.0)]
    with pytest.raises(ValueError, match="dropout needs a stochastic solver"):
        _configurations([GridSearchCV(MLPClassifier(solver="lbfgs"), {"dropout": [0.1, 0.2]})])
    with pytest.raises(ValueError, match="dropout needs a stochastic solver"):
        warmup(MLPClassifier(solver="lbfgs", dropout=0.1), dtypes="float64")
    inner = GridSearchCV(MLPClassifier(), {"solver": ["adam", "lbfgs"],
                                           "early_stopping": [False, True]})
    for outer in (make_pipeline(StandardScaler(), inner), GridSearchCV(inner, {"cv": [2, 3]})):
        configs = _configurations([outer])
        assert sorted((c.solver, c.early_stopping) for c in configs) == [
            ("adam", False), ("adam", True), ("lbfgs", False), ("lbfgs", True)]
    # helper-82: the nested search's template, which no fit trains as it
    # stands, was warmed too, and failed the warm-up where it is invalid.
    inner = GridSearchCV(MLPClassifier(solver="lbfgs", dropout=0.2), {"solver": ["adam", "sgd"]})
    for outer in (make_pipeline(StandardScaler(), inner), GridSearchCV(inner, {"cv": [2, 3]})):
        assert sorted(c.solver for c in _configurations([outer])) == ["adam", "sgd"]


_FIT_A_DRAWN_VALUE_AFTER_WARMUP = """
import json, warnings
import numpy as np
from scipy.stats import loguniform, uniform
from sklearn.model_selection import RandomizedSearchCV
import fastbp
from fastbp import MLPClassifier
from fastbp._cache.dispatchers import _dispatchers
from fastbp.warmup import _cache_counts
search = RandomizedSearchCV(MLPClassifier(max_iter=2, random_state=0),
                            {{"{param}": {distribution}, "alpha": [1e-4, 1e-2]}},
                            n_iter=2, cv=2, random_state=0)
fastbp.warmup(search, dtypes="float64")
before = _cache_counts()
signatures = sum(len(d.signatures) for d in _dispatchers)
warnings.simplefilter("ignore")
X = np.random.RandomState(0).standard_normal((80, 4))
MLPClassifier(max_iter=2, {param}={value}).fit(X, np.arange(80) % 3).predict_proba(X)
print(json.dumps({{"unchanged": _cache_counts() == before,
                   "signatures": sum(len(d.signatures) for d in _dispatchers)
                                 - signatures}}))
"""


@pytest.mark.parametrize("param, distribution, value", [
    ("dropout", "uniform(0.1, 0.3)", 0.2),
    ("clip_grad_norm", "loguniform(0.1, 10)", 1.0)])
def test_distributions_of_path_parameters_are_warmed(param, distribution, value):
    # A distribution on a path parameter was skipped: the toolkit kernels
    # that dropout or clipping runs were left to the search's first fit.
    # In a process of its own: this one may have loaded them already.
    code = _FIT_A_DRAWN_VALUE_AFTER_WARMUP.format(param=param, distribution=distribution,
                                                  value=value)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"unchanged": True,
                                                               "signatures": 0}


def test_distributions_keep_a_value_off_the_default_and_the_default_if_drawn():
    from scipy.stats import bernoulli, uniform

    from fastbp.search_space import _grids

    search = RandomizedSearchCV(make_pipeline(StandardScaler(), MLPClassifier()),
                                {"mlpclassifier__dropout": uniform(0.1, 0.3)}, n_iter=2)
    (grid,) = _grids(search)
    assert 0.1 <= grid["mlpclassifier__dropout"] <= 0.4
    # A discrete one that draws the default (no early stopping) keeps it too.
    search = RandomizedSearchCV(MLPClassifier(), {"early_stopping": bernoulli(0.5)}, n_iter=2)
    assert sorted(g["early_stopping"] for g in _grids(search)) == [False, True]
    assert len(_configurations([search])) == 2


class _Choice:
    """A distribution as scikit-learn's ParameterSampler calls it:
    ``rvs(random_state=...)``, no ``size``."""

    def __init__(self, options):
        self.options = options

    def rvs(self, random_state=None):
        return self.options[random_state.randint(len(self.options))]


class _Broken:
    def rvs(self, random_state=None):
        raise RuntimeError("no draws here")


def test_distributions_of_choices_keep_every_choice_drawn():
    # helper-44: a distribution over solvers warmed one of them (the first
    # off the default), and rvs(size=...) failed on one that takes no size.
    from fastbp.search_space import _grids

    search = RandomizedSearchCV(
        MLPClassifier(), {"solver": _Choice(["adam", "sgd", "lbfgs", "rmsprop"]),
                          "dropout": _Broken()}, n_iter=2)
    assert sorted(g["solver"] for g in _grids(search)) == ["adam", "lbfgs", "rmsprop", "sgd"]
    assert {s.solver for s in _configurations([search])} == {"adam", "sgd", "lbfgs", "rmsprop"}


def test_draws_the_estimator_refuses_are_not_warmed():
    # helper-44: randint(0, 2) for dropout draws 1, which the estimator
    # refuses: warming it failed the whole warm-up, where the search's own
    # fits of it would fail alone (error_score).
    from scipy.stats import randint, uniform

    from fastbp.search_space import _grids

    search = RandomizedSearchCV(
        make_pipeline(StandardScaler(), MLPClassifier()),
        {"mlpclassifier__dropout": randint(0, 2),
         "mlpclassifier__clip_grad_norm": uniform(-1, 0.5)}, n_iter=2)
    assert _grids(search) == [{"mlpclassifier__dropout": 0}]


def test_estimators_that_a_grid_puts_in_whole_are_warmed():
    # Before: "found no fastbp estimator" where the default step is not
    # fastbp's, and only the default MLPClassifier() where it is.
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    for default in (LogisticRegression(), MLPClassifier()):
        grid = GridSearchCV(Pipeline([("scale", StandardScaler()), ("clf", default)]),
                            {"clf": [MLPClassifier(solver="lbfgs"),
                                     MLPClassifier(normalization="batch", dropout=0.1),
                                     LogisticRegression()]})
        configs = _configurations([grid])
        found = {(c.solver, c.normalization) for c in configs}
        assert {("lbfgs", None), ("adam", "batch")} <= found, found
    # Keys whose choices hold no fastbp estimator are not crossed in: four
    # such keys of 7 choices multiplied the clones by 2,401.
    from sklearn.preprocessing import MinMaxScaler, RobustScaler

    from fastbp.search_space import _grids

    scalers = [StandardScaler(), MinMaxScaler(), RobustScaler(), None]
    grid = GridSearchCV(Pipeline([("a", StandardScaler()), ("b", StandardScaler()),
                                  ("clf", MLPClassifier())]),
                        {"a": scalers, "b": scalers,
                         "clf": [MLPClassifier(solver="lbfgs"), MLPClassifier()]})
    assert len(_grids(grid)) == 2


def test_warmup_rejects_what_it_cannot_warm():
    with pytest.raises(ValueError, match="dtypes must be among"):
        warmup(dtypes=["float16"])
    # helper-56: NumPy's bare "data type 'nope' not understood"; a grid's
    # empty list warmed the estimator's own value (the search refuses it).
    with pytest.raises(ValueError, match="dtypes must be among .*, got 'nope'"):
        warmup(dtypes=["nope"])
    with pytest.raises(ValueError, match="grid gives 'solver' no values to try"):
        warmup(GridSearchCV(MLPClassifier(), {"solver": []}))
    with pytest.raises(ValueError, match="dtypes is empty"):
        warmup(dtypes=[])
    with pytest.raises(TypeError, match="dtypes must be 'float32', 'float64' or a sequence"):
        warmup(dtypes=None)
    # helper-103: np.dtype(None) is float64, so [None] warmed float64.
    with pytest.raises(ValueError, match="dtypes must be among .*, got None"):
        warmup(dtypes=[None])
    with pytest.raises(TypeError, match="got the class MLPClassifier; pass an instance"):
        warmup(MLPClassifier)
    with pytest.raises(ValueError, match="no fastbp estimator"):
        warmup(StandardScaler())
    with pytest.raises(TypeError, match="takes estimators"):
        warmup("MLPClassifier")
    # n_jobs="2" failed deep in joblib; sparse="no" warmed the sparse kernels.
    for n_jobs in ("2", 2.0, True):
        with pytest.raises(TypeError, match="n_jobs must be an int or None, got"):
            warmup(n_jobs=n_jobs)
    with pytest.raises(ValueError, match="n_jobs must not be 0"):
        warmup(n_jobs=0)
    with pytest.raises(TypeError, match="sparse must be True or False, got 'no'"):
        warmup(sparse="no")


def test_warmup_refuses_settings_the_users_fits_refuse():
    # helper-103: the tiny fits replace max_iter, batch_size and
    # random_state, so these warmed "OK" while tol=-1 was refused; the
    # user's own fits refuse them all.
    for params, name in (({"max_iter": 0}, "max_iter"), ({"batch_size": 0}, "batch_size"),
                         ({"random_state": "x"}, "random_state"), ({"tol": -1}, "tol")):
        for est in (MLPClassifier(**params), make_pipeline(StandardScaler(),
                                                             MLPRegressor(**params))):
            with pytest.raises(ValueError, match=f"The '{name}' parameter of MLP"):
                warmup(est, dtypes="float64")
    # A search may set them for every fit: its template's value is not what
    # trains, and is left to the search.
    search = GridSearchCV(MLPClassifier(max_iter=0), {"max_iter": [2, 5]})
    assert len(_configurations([search])) == 1


def test_warmup_without_a_writable_cache_compiles_here_whatever_n_jobs(monkeypatch):
    # helper-103: with n_jobs=2 and no writable cache, the workers compiled
    # 80 kernels that nothing could keep, this process compiled all 42
    # again, and a warning blamed NUMBA_CACHE_DIR and FASTBP_BLAS set after
    # import.
    warmup_module = sys.modules["fastbp.warmup"]  # fastbp.warmup is the function

    def no_workers(*args, **kwargs):
        raise AssertionError("warmup started worker processes")

    monkeypatch.setattr(fastbp._cache.dispatchers, "saves_to_disk", lambda: False)
    monkeypatch.setattr(warmup_module, "Parallel", no_workers)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        report = warmup(MLPClassifier(), dtypes="float64", n_jobs=2)
    assert report.n_jobs == 1
    messages = [str(w.message) for w in seen if issubclass(w.category, fastbp.CacheWarning)]
    assert len(messages) == 1 and messages[0].startswith("warmup compiled in memory only"), \
        messages


def test_report_says_what_could_not_be_saved_and_that_cuda_kernels_are_not_cached():
    # helper-103: a full disk's failed saves were in no report (only in one
    # warning), and a device='cuda' warm-up reported 0 compiled after its
    # seconds of CUDA compiles, which the counts of the CPU cache miss.
    from fastbp.warmup import _entries

    cpu, cuda = MLPClassifier(), MLPClassifier(device="cuda")
    tasks = [(cpu, "float64", ("dense", 0)), (cpu, "float64", ("split", 0)),
             (cuda, "float64", ("dense", 0))]
    report = WarmupReport(entries=_entries(tasks, [(30, 0, 5.0, 26), (12, 0, 2.0, 12),
                                                   (0, 0, 9.0, 0)]))
    assert [(e.compiled, e.unsaved, e.device) for e in report.entries] == [
        (42, 38, "cpu"), (0, 0, "cuda")]
    assert report.unsaved == 38
    lines = str(report).splitlines()
    assert "42 kernels compiled (38 of them could not be saved to the cache)" in lines[-2]
    assert lines[-1].startswith("device='cuda': the CUDA kernels were compiled in this process "
                                "only; they are not cached on disk"), lines
    assert "could not be saved" not in str(WarmupReport(entries=_entries(tasks[:1], [
        (30, 0, 5.0, 0)]))), "said where every compile was saved"


def test_warmup_names_are_all_reachable_from_fastbp():
    # helper-124: "import fastbp.warmup as wm" gives the function (fastbp's
    # attribute shadows the submodule), so WarmupEntry, which a report's
    # entries hold, was reachable only by "from fastbp.warmup import ...".
    import fastbp.warmup as wm
    from fastbp import WarmupEntry, WarmupReport, warmup as function
    module = sys.modules["fastbp.warmup"]

    assert wm is function is module.warmup
    assert WarmupEntry is module.WarmupEntry and WarmupReport is module.WarmupReport
    assert set(module.__all__) <= set(fastbp.__all__)
    assert {"WarmupEntry", "WarmupReport", "warmup"} <= set(fastbp.__all__)
    report = WarmupReport(entries=[WarmupEntry("MLPClassifier()", "float64", 0.5, 3, 4, 1)])
    assert (report.compiled, report.loaded, report.unsaved) == (3, 4, 1)


@pytest.mark.parametrize("name", ["WarmupReport", "WarmupEntry"])
def test_warmup_report_and_entry_document_every_attribute(name):
    # helper-124: WarmupReport's Attributes section left out compiled,
    # loaded and unsaved, which its example reads.
    import dataclasses

    cls = getattr(sys.modules["fastbp.warmup"], name)

    names = [f.name for f in dataclasses.fields(cls)]
    names += [name for name, value in vars(cls).items() if isinstance(value, property)]
    section = cls.__doc__.split("Attributes\n    ----------\n", 1)[1]
    missing = [name for name in names if f"\n    {name} : " not in "\n" + section]
    assert not missing, f"{cls.__name__}'s Attributes section lacks {missing}"


def test_report_lists_each_configuration_and_dtype():
    report = warmup(MLPClassifier(), MLPRegressor(solver="lbfgs"), dtypes=["float32", "float64"])
    assert [(e.estimator, e.dtype) for e in report.entries] == [
        ("MLPClassifier()", "float32"), ("MLPClassifier()", "float64"),
        ("MLPRegressor(solver='lbfgs')", "float32"), ("MLPRegressor(solver='lbfgs')", "float64")]
    text = str(report)
    assert "MLPRegressor(solver='lbfgs')" in text and "kernels compiled" in text
    assert report.seconds >= sum(e.seconds for e in report.entries) * 0.99


def test_one_dtype_given_alone():
    # "float64", not the characters of its name ("dtypes must be among ..., got 'f'").
    for one in ("float64", np.float64, np.dtype("float64")):
        report = warmup(MLPClassifier(), dtypes=one)
        assert [e.dtype for e in report.entries] == ["float64"]


@pytest.mark.parametrize("narrowing", [["--solver", "sgd"], ["--early-stopping"]])
def test_compile_command_refuses_all_with_a_narrowing_option(capsys, narrowing):
    # --solver was ignored under --all, silently.
    assert cli_main(["compile", "--all", *narrowing]) == 2
    err = capsys.readouterr().err
    # The other subcommands' prefix (was "fastbp compile: error:").
    assert err.startswith(f"fastbp: error: {narrowing[0]} narrows what is warmed, and --all")


def test_compile_jobs_are_capped_at_the_cpu_count(monkeypatch):
    from joblib import cpu_count

    given = []
    monkeypatch.setattr(fastbp, "warmup", lambda *estimators, **kwargs: given.append(kwargs)
                        or WarmupReport())
    for jobs, expected in (("1000", cpu_count()), ("1", 1), ("-1", -1)):
        assert cli_main(["compile", "--jobs", jobs]) == 0
        assert given[-1]["n_jobs"] == expected
    assert "at most one per core" in fastbp.cli.build_parser()._subparsers._group_actions[0] \
        .choices["compile"].format_help()


def test_compile_command_refuses_zero_jobs(capsys):
    with pytest.raises(SystemExit):
        cli_main(["compile", "--jobs", "0"])
    assert "-1 for one per core, got 0" in capsys.readouterr().err


def test_compile_all_warms_every_solver_of_both_regressor_losses(monkeypatch, capsys):
    # --all warmed MLPRegressor's squared error only: a poisson fit (an
    # output function of its own, so kernels of its own) compiled later.
    from fastbp.cli import SOLVERS

    given = []
    monkeypatch.setattr(fastbp, "warmup", lambda *estimators, **kwargs: given.extend(estimators)
                        or WarmupReport())
    assert cli_main(["compile", "--all"]) == 0
    configs = _configurations(given)
    for cls, loss in ((MLPClassifier, "log_loss"), (MLPRegressor, "squared_error"),
                      (MLPRegressor, "poisson")):
        solvers = {c.solver for c in configs
                   if type(c) is cls and getattr(c, "loss", None) == loss}
        assert solvers == set(SOLVERS), (cls.__name__, loss)


def test_compile_command_prints_the_report(capsys):
    assert cli_main(["compile", "--dtype", "float64", "--solver", "lbfgs"]) == 0
    out = capsys.readouterr().out
    assert "MLPClassifier(solver='lbfgs')" in out and "float64" in out and "total" in out


# ------------------------------------------------------------- BLAS threads


def blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def in_another_fit_slot():
    """Take a fit slot in another thread, as a second fit running at once
    would; returns the fits counted then, or what the slot raised."""
    out = []

    def run():
        try:
            with threads.fit_slot():
                out.append(threads.active_fits())
        except Exception as exc:  # noqa: BLE001 - returned to the test
            out.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    return out[0]


def test_overlapping_fits_with_oversubscribed_blas_warn_once(monkeypatch):
    monkeypatch.setattr(threads, "_checked_at", threads._UNCHECKED)
    original = blas_threads()
    with threadpool_limits(2, user_api="blas"), warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        monkeypatch.setattr(threads, "cpu_count", lambda: 2)
        with threads.fit_slot():
            assert in_another_fit_slot() == 2
            assert in_another_fit_slot() == 2
    messages = [str(w.message) for w in seen if w.category is OversubscriptionWarning]
    assert len(messages) == 1
    assert "2 fastbp fits" in messages[0] and "threadpool_limits(1)" in messages[0]
    # Warned, never changed: the results must not depend on concurrency.
    assert blas_threads() == original and threads.active_fits() == 0


def test_no_warning_when_blas_threads_fit_the_cores(monkeypatch):
    monkeypatch.setattr(threads, "_checked_at", threads._UNCHECKED)
    with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("error", OversubscriptionWarning)
        monkeypatch.setattr(threads, "cpu_count", lambda: 2)
        with threads.fit_slot():
            assert in_another_fit_slot() == 2


def test_an_overlap_after_one_under_limits_is_checked_again(monkeypatch):
    # helper-61: the first overlap alone was checked; one inside
    # threadpool_limits(1) left every later, oversubscribed overlap silent.
    monkeypatch.setattr(threads, "_checked_at", threads._UNCHECKED)
    monkeypatch.setattr(threads, "cpu_count", lambda: 2)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for _ in range(2):
            with threadpool_limits(1, user_api="blas"), threads.fit_slot():
                assert in_another_fit_slot() == 2
        assert not [w for w in seen if w.category is OversubscriptionWarning]
        for _ in range(2):
            with threadpool_limits(2, user_api="blas"), threads.fit_slot():
                assert in_another_fit_slot() == 2
    assert len([w for w in seen if w.category is OversubscriptionWarning]) == 1


def test_slot_is_released_when_a_fit_fails():
    with threads.fit_slot():
        with pytest.raises(ValueError):
            MLPClassifier().fit(np.zeros((4, 2)), [0, 1, 0, np.nan])
        assert threads.active_fits() == 1
    assert threads.active_fits() == 0


def test_threaded_search_in_the_recipe_gives_the_sequential_results():
    X, y = load_digits(return_X_y=True)
    X, y = X[:400], y[:400]

    def search(n_jobs):
        s = GridSearchCV(make_pipeline(StandardScaler(), MLPClassifier(max_iter=5,
                                                                        random_state=0)),
                         {"mlpclassifier__hidden_layer_sizes": [(32,), (300,)],
                          "mlpclassifier__alpha": [1e-4, 1e-2]}, cv=2, n_jobs=n_jobs)
        # The README's recipe: one BLAS thread per fit for the whole search.
        with threadpool_limits(1), parallel_backend("threading"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s.fit(X, y)
        return s

    sequential, threaded = search(1), search(2)
    np.testing.assert_array_equal(threaded.cv_results_["mean_test_score"],
                                  sequential.cv_results_["mean_test_score"])
    for a, b in zip(threaded.best_estimator_[-1].coefs_, sequential.best_estimator_[-1].coefs_):
        np.testing.assert_array_equal(a, b)


def test_a_warm_up_in_another_thread_leaves_this_threads_warnings_alone(monkeypatch):
    # helper-61: the warm-up's process-wide catch_warnings recorded the
    # warnings of fits in other threads (and dropped them), an "interrupted"
    # one among them, which it then took for its own Ctrl-C.
    main = threading.current_thread()
    inside, done = threading.Event(), threading.Event()
    real_fit = MLPClassifier.fit

    def fit(self, *args, **kwargs):
        if threading.current_thread() is not main and not inside.is_set():
            inside.set()  # within the warm-up's first tiny fit
            done.wait(60)
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(MLPClassifier, "fit", fit)
    X, y = load_digits(return_X_y=True)
    errors = []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        worker = threading.Thread(target=lambda: _collect(errors, warmup, MLPClassifier((3,)),
                                                          dtypes=["float64"]))
        worker.start()
        try:
            assert inside.wait(60)
            real_fit(MLPClassifier((3,), max_iter=1, random_state=0), X[:100] / 16, y[:100])
        finally:
            done.set()
            worker.join(120)
    assert not errors
    mine = [w for w in seen if issubclass(w.category, ConvergenceWarning)]
    assert len(mine) == 1 and mine[0].filename == __file__


def _collect(errors, f, *args, **kwargs):
    try:
        f(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)
