"""Review 251 of hyper-parameter search at scale: the warm-up of a search
says nothing of residual=True without equal widths, the cache's lock
warnings name the caller's line, a list X is dense numbers, and
FASTBP_LOCK_TIMEOUT=inf waits for as long as the lock is held."""

import importlib.util
import os
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest
from filelock import FileLock
from numba import types
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastbp
from fastbp import search
from fastbp._cache import compile_locks, dispatchers, locks, warning


# --- 1: warming a search's grid points repeats no residual warning -----------

@pytest.mark.parametrize("n_jobs", [None, 2])
def test_warmup_of_a_search_does_not_warn_of_residual_without_equal_widths(n_jobs):
    s = GridSearchCV(fastbp.MLPClassifier(residual=True),
                     {"hidden_layer_sizes": [(8,), (8, 8)]})
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        report = fastbp.warmup(s, dtypes=["float64"], n_jobs=n_jobs)
    residual = [str(w.message) for w in seen if "skip connection" in str(w.message)]
    assert residual == []
    # The report still says it, once, in its row.
    assert "(no connections)" in str(report)


def test_the_estimator_itself_still_warns_when_it_fits():
    X = np.random.RandomState(0).standard_normal((20, 3))
    y = np.arange(20) % 2
    with pytest.warns(UserWarning, match="no skip connection"):
        fastbp.MLPClassifier(residual=True, hidden_layer_sizes=(4,), max_iter=2,
                             random_state=0).fit(X, y)


# --- 2: the lock warnings name the line that called, not Numba's or contextlib's

@pytest.fixture
def fresh_lock_state(monkeypatch):
    monkeypatch.setattr(locks, "_warned_lock", False)
    monkeypatch.setattr(locks, "_hurry_until", 0.0)
    monkeypatch.setattr(locks, "_noticed_locks", set())


@pytest.fixture
def locked_kernel(tmp_path):
    """A fresh cached kernel (a module of its own under tmp_path, so no
    cache holds it yet), compiled under fastbp's locks, and its float64
    compile lock."""
    source = tmp_path / "review251_kernel.py"
    source.write_text(textwrap.dedent("""
        import numba

        @numba.njit
        def add_one(x):
            return x + 1.0
    """))
    spec = importlib.util.spec_from_file_location("review251_kernel", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    kernel = dispatchers.enable_cache(module.add_one)
    lock = compile_locks.compile_lock(kernel, (types.float64,))
    assert lock is not None
    return kernel, lock.lock_file


def test_lock_warnings_name_the_line_that_called_the_kernel(locked_kernel, monkeypatch,
                                                            fresh_lock_state):
    kernel, path = locked_kernel
    monkeypatch.setattr(locks, "LOCK_NOTICE_AFTER", 0.2)
    monkeypatch.setattr(locks, "LOCK_TIMEOUT", 0.5)
    holder = FileLock(path, thread_local=False)
    holder.acquire()
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            assert kernel(1.0) == 2.0  # compiled without the lock, in the end
    finally:
        holder.release()
    said = [w for w in seen if issubclass(w.category, warning.CacheWarning)]
    assert [("has waited" in str(w.message), "gave up" in str(w.message)) for w in said] \
        == [(True, False), (False, True)], [str(w.message) for w in said]
    for w in said:
        assert os.path.abspath(w.filename) == os.path.abspath(__file__), w.filename


# --- 3: a list X of numbers behind a scaler warms what an array would ----------

def _scaled_search():
    return GridSearchCV(make_pipeline(StandardScaler(), fastbp.MLPClassifier()),
                        {"mlpclassifier__alpha": [1e-4, 1e-3]})


@pytest.mark.parametrize("X", [[[0.0, 1.0], [1.0, 0.0]], ((0, 1), (1, 0)),
                               np.array([[0.0, 1.0], [1.0, 0.0]])])
def test_numbers_in_a_list_warm_one_dtype_dense(X):
    assert search._warm_inputs(_scaled_search(), X, None, None) == (("float64",), False)


@pytest.mark.parametrize("X", [[["a", "b"], ["c", "d"]], [[0.0], [1.0, 2.0]],
                               [{"a": 1.0}, {"b": 2.0}]])
def test_text_records_or_ragged_lists_warm_everything(X):
    # What reaches the estimator is the steps' (a vectorizer's), not X's.
    assert search._warm_inputs(_scaled_search(), X, None, None) == (search.DTYPES, True)


# --- 4: FASTBP_LOCK_TIMEOUT=inf waits for as long as the lock is held --------

def test_lock_timeout_inf_is_accepted(monkeypatch):
    monkeypatch.setenv("FASTBP_LOCK_TIMEOUT", "inf")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert locks._lock_timeout_from_env() == float("inf")
    assert not [w for w in seen if issubclass(w.category, warning.CacheWarning)]


@pytest.mark.parametrize("value", ["-inf", "nan", "ten"])
def test_a_refused_lock_timeout_names_what_is_accepted(monkeypatch, value):
    monkeypatch.setenv("FASTBP_LOCK_TIMEOUT", value)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert locks._lock_timeout_from_env() == 600.0
    said = [str(w.message) for w in seen if issubclass(w.category, warning.CacheWarning)]
    assert len(said) == 1 and "'inf'" in said[0] and repr(value) in said[0], said


def test_an_infinite_timeout_waits_until_the_lock_is_freed(tmp_path, monkeypatch,
                                                           fresh_lock_state):
    monkeypatch.setattr(locks, "LOCK_NOTICE_AFTER", 0.1)
    monkeypatch.setattr(locks, "LOCK_TIMEOUT", float("inf"))
    path = str(tmp_path / "kernel.lock")
    # Held by another process, as a stalled compile's is (filelock refuses
    # an endless wait for another lock object of this process's own).
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from filelock import FileLock
            with FileLock({path!r}):
                print("held", flush=True)
                sys.stdin.readline()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    # The holder lets go once the waiter has said it waits, whenever that is.
    noticed = threading.Event()
    notice_wait = locks._notice_wait

    def _noticing(*args):
        notice_wait(*args)
        noticed.set()

    monkeypatch.setattr(locks, "_notice_wait", _noticing)

    def _free():
        noticed.wait(60)
        child.stdin.write("\n")
        child.stdin.flush()

    freer = threading.Thread(target=_free)
    freer.start()
    lock = FileLock(path, thread_local=False)
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            assert locks._acquire(lock, "compiling 'k'") is True
        lock.release()
    finally:
        noticed.set()
        freer.join()
        child.wait(60)
    said = [str(w.message) for w in seen if issubclass(w.category, warning.CacheWarning)]
    assert len(said) == 1 and "until the lock is freed" in said[0], said
