"""Hardening: each finding of the robustness audit, kept fixed.

Malformed sparse input, a damaged or missing compile cache, values that
overflow the model's dtype, divergence, interrupts, concurrency,
normalisation over a single value, and the errors that used to be unclear.
Risky cases (a crash would take pytest down, or a process-wide setting is
at stake) run in a subprocess.
"""

import copy
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_info, threadpool_limits

import fastbp
from fastbp import DivergenceError, GradientWarning, MLPClassifier, MLPRegressor
from fastbp.kernels import full, lean, network
from fastbp.kernels.codes import OUT_LOGISTIC, OUTPUT_FUNCTIONS
from fastbp.training import stochastic
from fastbp.training.diagnostics import GradientMonitor

try:
    from .support import quiet
except ImportError:  # run as a plain module
    from support import quiet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code, env=None, timeout=600):
    """Run ``code`` in a fresh interpreter from the repository root; return
    the completed process (stdout, stderr, returncode)."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                          env=full_env, capture_output=True, text=True, timeout=timeout)


def last_json(proc):
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


# ---------------------------------------------------------------------------
# 1. malformed sparse input: a clear error, never a crash
# ---------------------------------------------------------------------------

def test_malformed_sparse_input_is_rejected_before_any_kernel():
    # In a subprocess: before the fix, these crashed the interpreter.
    proc = run_python("""
        import json, warnings
        import numpy as np, scipy.sparse as sp
        from fastbp import MLPClassifier
        warnings.simplefilter("ignore")
        rng = np.random.default_rng(0)
        y = np.arange(40) % 2
        def damaged(fmt, kind):
            X = sp.random(40, 5, density=0.6, format=fmt, random_state=0, dtype=float)
            X.indices = X.indices.copy(); X.indptr = X.indptr.copy()
            if kind == "index_far": X.indices[3] = 10**6
            elif kind == "index_one_past": X.indices[3] = X.shape[1 if fmt == "csr" else 0]
            elif kind == "index_negative": X.indices[3] = -1
            elif kind == "indptr_decreasing":
                X.indptr[1], X.indptr[2] = X.indptr[2] + 1, X.indptr[1]
            elif kind == "indptr_short": X.indptr = X.indptr[:-1]
            return X
        fitted = MLPClassifier((8,), max_iter=2, random_state=0).fit(
            sp.random(40, 5, density=0.6, format="csr", random_state=1), y)
        before = [c.copy() for c in fitted.coefs_]
        out = {}
        for fmt in ("csr", "csc"):
            for kind in ("index_far", "index_one_past", "index_negative",
                         "indptr_decreasing", "indptr_short"):
                for call in ("fit", "predict"):
                    X = damaged(fmt, kind)
                    try:
                        if call == "fit":
                            MLPClassifier((8,), max_iter=2).fit(X, y)
                        else:
                            fitted.predict(X)
                        out[f"{fmt}-{kind}-{call}"] = "no error"
                    except ValueError as exc:
                        out[f"{fmt}-{kind}-{call}"] = str(exc)
        out["unchanged"] = all(np.array_equal(a, b) for a, b in zip(before, fitted.coefs_))
        print(json.dumps(out))
    """)
    out = last_json(proc)
    assert out.pop("unchanged") is True
    assert len(out) == 20
    for case, message in out.items():
        assert "is a malformed" in message and "matrix" in message, (case, message)


# ---------------------------------------------------------------------------
# 2. the compile cache: damaged entries are rebuilt, no location still trains
# ---------------------------------------------------------------------------

_FIT_AND_REPORT = """
    import json, warnings
    import numpy as np
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import fastbp
        X = np.random.RandomState(0).rand(30, 3)
        m = fastbp.MLPClassifier((4,), max_iter=2, random_state=0).fit(X, np.arange(30) % 2)
        proba = m.predict_proba(X)
    print(json.dumps({
        "cache_warnings": [str(w.message) for w in caught
                           if issubclass(w.category, fastbp.CacheWarning)],
        "proba": proba.tolist(), "info": fastbp.compile_cache_info()}))
"""


def test_damaged_cache_entries_are_rebuilt_with_a_warning(tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path)}
    first = last_json(run_python(_FIT_AND_REPORT, env))
    assert first["cache_warnings"] == []
    (directory,) = first["info"]["directories"]
    files = sorted(os.listdir(directory))

    def one(prefix, suffix):
        return os.path.join(directory, next(f for f in files
                                            if f.startswith(prefix) and f.endswith(suffix)))

    # Each kind of damage, each on a kernel the default fit loads.
    # (The default fit runs the lean copies of the whole-network kernels.)
    with open(one("network.train_epoch.lean", ".nbi"), "r+b") as fh:
        fh.truncate(20)                                          # truncated index
    open(one("network.predict.lean", ".nbc"), "wb").close()      # empty data
    with open(one("losses.logistic_loss_delta", ".nbc"), "wb") as fh:
        fh.write(os.urandom(300))                                # garbage data
    with open(one("scalar.sigmoid", ".nbi"), "wb") as fh:
        fh.write(b"not a pickle")                                # garbage index

    second = last_json(run_python(_FIT_AND_REPORT, env))
    assert second["proba"] == first["proba"]
    assert len(second["cache_warnings"]) >= 3
    for message in second["cache_warnings"]:
        assert directory in message and "damaged entry" in message

    third = last_json(run_python(_FIT_AND_REPORT, env))
    assert third["cache_warnings"] == [], "the damaged entries were not rebuilt"
    assert third["proba"] == first["proba"]


_FIT_ON_A_FULL_DISK = """
    import errno, json, sys, warnings
    import numpy as np
    from numba.core import caching
    if sys.argv[1] == "full":
        def full(self, filepath):
            raise OSError(errno.ENOSPC, "No space left on device")
        caching.IndexDataCacheFile._open_for_write = full
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import fastbp
        from fastbp.warmup import _cache_counts
        X = np.random.RandomState(0).rand(30, 3).astype(sys.argv[2])
        fastbp.MLPClassifier((4,), max_iter=2, random_state=0).fit(X, np.arange(30) % 2)
    print(json.dumps({"misses": _cache_counts()[1],
                      "cache_warnings": [str(w.message) for w in caught
                                         if issubclass(w.category, fastbp.CacheWarning)]}))
"""


def test_a_full_disk_keeps_the_cache_entries_and_says_so_once(tmp_path):
    # helper-69: a save that failed for a full disk was taken for a damaged
    # entry: each kernel's index and data files were deleted (25 warnings
    # of "damaged" entries), and the next process compiled what it could
    # have loaded.
    env = {"NUMBA_CACHE_DIR": str(tmp_path)}
    code = textwrap.dedent(_FIT_ON_A_FULL_DISK)
    run = lambda *argv: last_json(subprocess.run(  # noqa: E731
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=600,
        env={**os.environ, **env}, cwd=os.path.dirname(os.path.dirname(fastbp.__file__))))
    assert run("ok", "float64")["cache_warnings"] == []
    files = sorted(p.name for p in tmp_path.rglob("*.nb[ic]"))
    full = run("full", "float32")
    assert full["misses"] > 0
    (message,) = full["cache_warnings"]
    assert "could not save compiled kernels" in message and "No space left" in message
    assert sorted(p.name for p in tmp_path.rglob("*.nb[ic]")) == files
    again = run("ok", "float64")
    assert again == {"misses": 0, "cache_warnings": []}


def test_cache_key_covers_every_kernel_source(tmp_path):
    # Numba keys a kernel by its own bytecode only: editing a callee's
    # module alone (blas.py, losses.py) must still miss the callers' cache.
    import shutil

    from fastbp._cache.key import _key_extras, sources_digest

    package = os.path.dirname(os.path.abspath(fastbp.__file__))
    copy = tmp_path / "fastbp"
    shutil.copytree(os.path.join(package, "kernels"), copy / "kernels",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nb[ic]"))
    for name in ("_config.py", "_link_only.py"):
        shutil.copy(os.path.join(package, name), copy / name)
    (copy / "estimators").mkdir()
    digest = sources_digest(str(copy))
    assert digest == sources_digest() == _key_extras["sources"]
    key = network.train_epoch._cache._index_key((), network.train_epoch.targetctx.codegen())
    assert ("sources", digest) in key[-1]

    # Not the kernels: no new key.
    (copy / "estimators" / "base.py").write_text("# edited\n")
    assert sources_digest(str(copy)) == digest
    seen = {digest}
    for edit in ["kernels/blas.py", "kernels/cuda/gemm.py", "_config.py", "_link_only.py"]:
        with open(copy / edit, "a") as f:
            f.write("\n# edited\n")
        seen.add(sources_digest(str(copy)))
    (copy / "kernels" / "new_module.py").write_text("")
    seen.add(sources_digest(str(copy)))
    assert len(seen) == 6


def test_no_writable_cache_location_still_imports_and_trains():
    # What a read-only install without a writable HOME or NUMBA_CACHE_DIR
    # sees: every Numba cache locator refuses.
    proc = run_python(textwrap.dedent("""
        import numba.core.caching as caching
        for cls in caching.CacheImpl._locator_classes:
            cls.from_function = classmethod(lambda cls, py_func, py_file: None)
    """) + textwrap.dedent(_FIT_AND_REPORT))
    out = last_json(proc)
    assert len(out["cache_warnings"]) == 1
    assert "NUMBA_CACHE_DIR" in out["cache_warnings"][0]
    assert out["info"]["writable"] is False


_NO_LOCATOR = """
    import numba.core.caching as caching
    for cls in caching.CacheImpl._locator_classes:
        cls.from_function = classmethod(lambda cls, py_func, py_file: None)
"""


def test_compile_and_warmup_without_a_writable_cache_say_nothing_was_saved():
    # `fastbp compile` printed its report and exited 0, having saved
    # nothing; warmup() said nothing either (one warning at import only).
    proc = run_python(textwrap.dedent(_NO_LOCATOR) + textwrap.dedent("""
        import sys, warnings
        warnings.simplefilter("ignore")
        from fastbp.cli import main
        sys.exit(main(["compile", "--dtype", "float64", "--solver", "lbfgs"]))
    """))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)  # as every CLI error
    assert proc.stderr.startswith("fastbp: error: "), proc.stderr
    assert "nothing" in proc.stderr and "NUMBA_CACHE_DIR" in proc.stderr
    proc = run_python(textwrap.dedent(_NO_LOCATOR) + textwrap.dedent("""
        import json, warnings
        import fastbp
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = fastbp.warmup(fastbp.MLPClassifier(solver="lbfgs"), dtypes="float64")
        print(json.dumps([[str(w.message) for w in caught
                           if issubclass(w.category, fastbp.CacheWarning)], report.compiled]))
    """))
    (message,), compiled = last_json(proc)
    assert "nothing was saved" in message and "NUMBA_CACHE_DIR" in message
    # helper-56: the report said "0 kernels compiled" (read: the cache was
    # warm) when it had compiled every kernel in memory.
    assert compiled > 0


def test_an_unusable_numba_cache_dir_is_named_with_where_the_cache_went(tmp_path):
    # Numba silently caches elsewhere (the package's __pycache__, or
    # ~/.cache/numba) when NUMBA_CACHE_DIR cannot be used.
    (tmp_path / "a_file").write_text("")
    cache_dir = str(tmp_path / "a_file" / "cache")
    proc = run_python("""
        import json, warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import fastbp
        print(json.dumps({"messages": [str(w.message) for w in caught
                                       if issubclass(w.category, fastbp.CacheWarning)],
                          "info": fastbp.compile_cache_info()}))
    """, {"NUMBA_CACHE_DIR": cache_dir})
    out = last_json(proc)
    (message,) = out["messages"]
    (directory,) = out["info"]["directories"]
    assert f"NUMBA_CACHE_DIR={cache_dir}" in message
    assert "Not a directory" in message
    assert directory in message and not directory.startswith(cache_dir)


def test_cache_info_and_clear(tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path)}
    last_json(run_python(_FIT_AND_REPORT, env))
    shown = subprocess.run([sys.executable, "-m", "fastbp.cli", "info"], cwd=ROOT,
                           env=dict(os.environ, **env), capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert str(tmp_path) in shown.stdout and "cached files:" in shown.stdout
    assert any(f.endswith(".nbc") for _, _, fs in os.walk(tmp_path) for f in fs)
    cleared = subprocess.run([sys.executable, "-m", "fastbp.cli", "info", "--clear-cache"],
                             cwd=ROOT, env=dict(os.environ, **env), capture_output=True,
                             text=True)
    assert cleared.returncode == 0 and "removed" in cleared.stdout
    assert not any(f.endswith((".nbc", ".nbi")) for _, _, fs in os.walk(tmp_path) for f in fs)


_LOAD_ONLY = """
import json, os, warnings
warnings.simplefilter("ignore")
import numpy as np, scipy.sparse as sp
import numba.core.base
from numba.core.runtime import rtsys
from fastbp import MLPClassifier
from fastbp.kernels import full
from fastbp.kernels.codes import OUT_SOFTMAX

refreshes = []
refresh = numba.core.base.BaseContext.refresh
numba.core.base.BaseContext.refresh = lambda self: (refreshes.append(1), refresh(self))[1]
if os.environ.get("FLAGS_OFF"):
    # Entries saved with the runtime, loaded by dispatchers that say they
    # have none: the scan of the code must still start it.
    full.for_output(OUT_SOFTMAX).predict._cache.uses_runtime = False
    full.for_output(OUT_SOFTMAX).loss_and_gradient._cache.uses_runtime = False
rng = np.random.RandomState(0)
X, y = rng.rand(200, 8), rng.randint(0, 3, 200)
dense = MLPClassifier((16,), max_iter=3, random_state=0).fit(X, y).predict_proba(X)
runtime_after_dense = rtsys._init
# The sparse lbfgs path runs the entry points built with Numba's runtime
# (NRT): loaded without its symbols, they crash the process.
Xs = sp.csr_matrix(np.where(X > 0.5, X, 0))
sparse = MLPClassifier((16,), solver="lbfgs", max_iter=3, random_state=0).fit(Xs, y).predict_proba(Xs)
loads_refreshed = len(refreshes)

# A compile after the loads still finds every registry (typed lists, linalg).
import numba
from numba.typed import List

@numba.njit
def user_function(a):
    out = List()
    out.append(np.linalg.norm(a))
    return out[0]

print(json.dumps({"refreshes": loads_refreshed, "dense": dense.tolist(),
                  "runtime_after_dense": runtime_after_dense, "runtime_after_sparse": rtsys._init,
                  "sparse": sparse.tolist(), "user": user_function(np.array([3.0, 4.0]))}))
"""


def test_loading_cached_kernels_skips_numbas_registry_refresh():
    # The first run compiles what the inherited cache lacks; the others
    # only load, without the 0.1-0.2 s refresh of Numba's registries, and
    # start Numba's runtime only for the kernels that need it.
    first = last_json(run_python(_LOAD_ONLY))
    for env in ({}, {"FLAGS_OFF": "1"}):
        again = last_json(run_python(_LOAD_ONLY, env))
        assert again["refreshes"] == 0
        assert again["runtime_after_dense"] is False and again["runtime_after_sparse"] is True
        assert again["dense"] == first["dense"] and again["sparse"] == first["sparse"]
        assert again["user"] == first["user"] == 5.0


_FORKED = """
import json, os, warnings
import numpy as np
from fastbp import MLPClassifier
from fastbp._cache.warning import CacheWarning
warnings.simplefilter("ignore")
warnings.simplefilter("error", CacheWarning)  # a lock given up on, say
X = np.random.RandomState(0).standard_normal((64, 3))
y = np.arange(64) % 3
MLPClassifier(max_iter=2).fit(X, y)  # compiles and saves float64, taking locks
pid = os.fork()
if pid == 0:
    code = 1
    try:  # a new dtype: compiles and saves again, under the same locks' files
        MLPClassifier(max_iter=2).fit(X.astype(np.float32), y)
        code = 0
    finally:
        os._exit(code)
_, status = os.waitpid(pid, 0)
print(json.dumps({"child": os.waitstatus_to_exitcode(status)}))
"""


def test_a_forked_child_compiles_and_saves(tmp_path):
    # filelock refuses a lock object made before a fork; the child makes
    # its own (multiprocessing forks on Linux, after the parent has fitted).
    result = last_json(run_python(_FORKED, {"NUMBA_CACHE_DIR": str(tmp_path)}))
    assert result["child"] == 0


def test_saves_write_the_data_first_under_a_name_no_file_has(tmp_path):
    # A data file left by an older index (Numba numbers them from 1 again
    # when a kernel's source changes) is never reused: a reader between
    # the index write and the data write would load it as this entry.
    from fastbp._cache.index import OrderedIndexDataCacheFile
    from fastbp._cache.key import _key_extras
    from fastbp._cache.locks import LOCKS_DIR

    # Keys end with fastbp's parts, as RepairingCache._index_key makes them.
    f32, f64 = (("sig", dtype, tuple(sorted(_key_extras.items())))
                for dtype in ("float32", "float64"))

    cache = OrderedIndexDataCacheFile(str(tmp_path), "mod.kern-1.py311", ("stamp", 1))
    (tmp_path / "mod.kern-1.py311.1.nbc").write_bytes(b"stale code")
    order = []
    save_data, save_index = cache._save_data, cache._save_index
    cache._save_data = lambda name, data: (order.append(("data", name)), save_data(name, data))
    cache._save_index = lambda overloads: (order.append(("index", dict(overloads))),
                                           save_index(overloads))
    cache.save(f32, b"new code")
    assert order == [("data", "mod.kern-1.py311.2.nbc"),
                     ("index", {f32: "mod.kern-1.py311.2.nbc"})]
    assert cache.load(f32) == b"new code"
    cache.save(f64, b"other code")
    assert cache.load(f64) == b"other code"
    assert cache.load(f32) == b"new code"
    # The stale file, which no index names, is deleted by the save
    # (tests/test_cache_prune.py), and its name was not reused.
    assert not (tmp_path / "mod.kern-1.py311.1.nbc").exists()
    assert (tmp_path / LOCKS_DIR / "mod.kern-1.py311.index.lock").exists()


def test_load_without_refresh_follows_numbas_own_load():
    # RepairingCache._load_without_refresh re-implements Numba's private
    # Cache._load_overload, which Numba's load_overload calls after the
    # refresh. A Numba release that changes either must be looked at.
    import inspect
    import re

    from numba.core.caching import Cache, IndexDataCacheFile

    from fastbp._cache import index

    def body(method):
        lines = inspect.getsource(method).splitlines()[1:]
        code = [re.sub(r"#.*", "", line).strip() for line in lines]
        return [line for line in code
                if line and not line.startswith(('"""', "Load", "using", "Save a new"))]

    assert index._LOADS_WITHOUT_REFRESH
    assert body(Cache.load_overload) == [
        "target_context.refresh()",
        "with self._guard_against_spurious_io_errors():",
        "return self._load_overload(sig, target_context)"]
    assert body(Cache._load_overload) == [
        "if not self._enabled:", "return",
        "key = self._index_key(sig, target_context.codegen())",
        "data = self._cache_file.load(key)",
        "if data is not None:",
        "data = self._impl.rebuild(target_context, data)",
        "return data"]
    # OrderedIndexDataCacheFile.save re-orders Numba's save (data first,
    # under a lock): the same steps, which a new Numba might change.
    assert index._SAVES_IN_ORDER
    assert body(IndexDataCacheFile.save) == [
        "overloads = self._load_index()",
        "try:",
        "data_name = overloads[key]",
        "except KeyError:",
        "existing = set(overloads.values())",
        "for i in itertools.count(1):",
        "data_name = self._data_name(i)",
        "if data_name not in existing:",
        "break",
        "overloads[key] = data_name",
        "self._save_index(overloads)",
        "self._save_data(data_name, data)"]
    assert index.mentions_runtime(("x", "object", (b"..NRT_MemInfo_alloc..", b"")))
    assert index.mentions_runtime([b"nrt_atomic_add"])
    assert not index.mentions_runtime(("x", "object", (b"fastbp_sgemm", b"")))


# ---------------------------------------------------------------------------
# 3. values beyond the model's dtype: never a silent NaN
# ---------------------------------------------------------------------------

def test_float64_input_beyond_float32_range_is_refused(blobs):
    X, y = blobs
    clf = quiet(MLPClassifier((4,), random_state=0, max_iter=5).fit, X.astype(np.float32), y)
    with pytest.raises(ValueError, match=r"X holds values beyond float32's range"):
        clf.predict_proba(np.array([[1e39] + [0.0] * 5]))
    with pytest.raises(ValueError, match=r"X holds values beyond float32's range"):
        clf.predict(sp.csr_matrix(np.array([[1e39] + [0.0] * 5])))
    # In range, the prediction is finite.
    assert np.isfinite(clf.predict_proba(np.array([[1e30] + [0.0] * 5]))).all()


def test_outputs_that_overflow_raise_instead_of_nan(blobs):
    X, _ = blobs
    reg = quiet(MLPRegressor(hidden_layer_sizes=(4,), random_state=0, max_iter=5).fit,
                X.astype(np.float32), X[:, 0])
    huge = np.full((2, 6), 3e38, dtype=np.float32)
    with pytest.raises(ValueError, match="outputs overflowed float32 for 2 row"):
        reg.predict(huge)


def test_outputs_overflowing_from_huge_weights_name_the_weights_too(blobs):
    # Weights of a fit that diverged (a DivergenceError's last_finite_model)
    # can overflow the outputs of ordinary X: the message
    # must not blame X alone, and gives the weights' largest magnitude.
    X, _ = blobs
    reg = quiet(MLPRegressor(hidden_layer_sizes=(4,), random_state=0, max_iter=5).fit,
                X, X[:, 0])
    reg.coefs_[0] *= 1e300
    reg.coefs_[1] *= 1e300
    with pytest.raises(ValueError, match=r"or the model's weights are too large \(largest "
                                         r"magnitude [0-9.]+e\+(29[0-9]|30[0-9])"):
        reg.predict(X)


def test_targets_and_weights_beyond_float32_range_are_refused(blobs):
    X, y = blobs
    X32 = X.astype(np.float32)
    with pytest.raises(ValueError, match=r"y holds values beyond float32's range"):
        MLPRegressor(hidden_layer_sizes=(4,), max_iter=2).fit(X32, np.full(len(X), 1e39))
    with pytest.raises(ValueError, match=r"sample_weight holds values beyond float32"):
        MLPClassifier((4,), max_iter=2).fit(X32, y, sample_weight=np.full(len(X), 1e39))



@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_a_sparse_x_with_nan_under_assume_finite_is_refused_at_predict(blobs, fmt):
    # helper-83: the kernels check a dense X's chunks, not a sparse X's
    # values: with assume_finite=True (validation's check skipped), relu
    # turned a NaN into 0 and tanh saturated on inf, and the predictions
    # came out finite and wrong, where a dense X raises.
    import sklearn

    X, _ = blobs
    for activation, bad in (("relu", np.nan), ("tanh", np.inf)):
        reg = quiet(MLPRegressor(hidden_layer_sizes=(8,), activation=activation, max_iter=3,
                                 random_state=0).fit, X, X.sum(axis=1))
        row = X[:1].copy()
        row[0, 0] = bad
        with sklearn.config_context(assume_finite=True):
            with pytest.raises(ValueError, match="Input X contains NaN or infinity"):
                reg.predict(sp.csr_matrix(row).asformat(fmt))


def test_missing_and_infinite_targets_in_an_object_y_are_named(blobs):
    # helper-70: scikit-learn checks an object y for NaN only, before it
    # becomes floats (None turns into NaN after it): the fit trained an
    # epoch, then blamed "scikit-learn's assume_finite=True", which was not
    # set; an infinite target was called "too large for a squared-error loss".
    import pandas as pd

    X, _ = blobs
    target = list(X[:-1, 0])
    for loss in ("squared_error", "poisson"):
        for y in (pd.Series(target + [None], dtype=object), target + [None]):
            with pytest.raises(ValueError, match=r"Input y contains NaN \(a missing value"):
                MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, loss=loss).fit(X, y)
    with pytest.raises(ValueError, match=r"Input y contains infinity"):
        MLPRegressor(hidden_layer_sizes=(3,), max_iter=2).fit(
            X, np.array(target + [np.inf], dtype=object))


def test_squared_errors_summed_over_many_outputs_are_checked_against_their_dtype(blobs):
    # helper-70: each of 64 float32 targets was within the per-value bound
    # (4.6e18), but a row's loss sums 64 squares in float32: the fit
    # diverged in its first epoch, and the message blamed the learning rate.
    X, _ = blobs
    X32 = X.astype(np.float32)
    Y = np.tile(X32[:, :1], (1, 64)) * np.float32(1e18)
    with pytest.raises(ValueError, match=r"too large for a squared-error loss in float32 .*"
                                         r"summed over 64 outputs"):
        MLPRegressor(hidden_layer_sizes=(4,), max_iter=2).fit(X32, Y)
    quiet(MLPRegressor(hidden_layer_sizes=(4,), max_iter=2).fit, X32, Y[:, :1])


def test_r2_of_float32_targets_is_computed_in_float64(blobs):
    # helper-70: r2_score works in float32 where y and the predictions
    # both are, and the squared deviations of targets a float32 model fits
    # overflowed it: "R^2 is undefined ... overflow float64".
    X, _ = blobs
    X32 = X.astype(np.float32)
    y = (X32[:, 0] * np.float32(1e18)).astype(np.float32)
    reg = quiet(MLPRegressor(hidden_layer_sizes=(4,), random_state=0, max_iter=3).fit, X32, y)
    score = reg.score(X32, y)
    assert np.isfinite(score)
    assert score == pytest.approx(reg.score(X32, y.astype(np.float64)), rel=1e-12)


def test_partial_fit_checks_float64_targets_against_a_float32_model(blobs):
    # partial_fit casts X to the model's float32: y must fit float32 too,
    # and a failed call leaves the model as it was.
    X, _ = blobs
    reg = quiet(MLPRegressor(hidden_layer_sizes=(4,), random_state=0, max_iter=2).partial_fit,
                X.astype(np.float32), X[:, 0].astype(np.float32))
    before = [c.copy() for c in reg.coefs_]
    with pytest.raises(ValueError, match=r"y holds values beyond float32's range"):
        reg.partial_fit(X, np.full(len(X), 1e39))
    with pytest.raises(ValueError, match=r"too large for a squared-error loss in float32"):
        reg.partial_fit(X, np.full(len(X), 1e20))
    assert all(np.array_equal(a, b) for a, b in zip(before, reg.coefs_))
    quiet(reg.partial_fit, X, X[:, 1])  # ordinary float64 targets still go on
    assert reg.coefs_[0].dtype == np.float32


@pytest.mark.parametrize("class_weight, message", [
    ({0: -1.0}, r"class_weight\[0\] is -1.0: class weights must be finite and non-negative"),
    ({0: np.nan}, r"class_weight\[0\] is nan"),
    ({0: np.inf}, r"class_weight\[0\] is inf"),
    ({0: "heavy"}, r"class_weight\[0\] is 'heavy', not a number"),
    ({0: 0, 1: 0, 2: 0}, r"gives every sample of this call a weight of zero"),
])
def test_bad_class_weights_are_refused_as_sample_weights_are(class_weight, message):
    # A negative class weight turned the loss upside down and all-zero
    # weights trained on nothing, both silently; NaN blamed the weights' sum.
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 4)), np.arange(30) % 3
    clf = MLPClassifier((4,), max_iter=3, random_state=0, class_weight=class_weight)
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y)
    assert not hasattr(clf, "coefs_")
    # A zero weight for some classes only is allowed: they leave the loss.
    quiet(MLPClassifier((4,), max_iter=3, random_state=0, class_weight={0: 0.0}).fit, X, y)

# ---------------------------------------------------------------------------
# 4. divergence: stop at once, hand over the last finite epoch, say what to do
# ---------------------------------------------------------------------------

def _regression_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 5))
    return X, X @ rng.standard_normal(5) * 100


def _count_epoch_rows(monkeypatch):
    seen = {"rows": 0}

    def spying(original):
        def spy(inputs, targets, tables, work, solver, hyper, perm, *rest):
            seen["rows"] += len(perm)
            return original(inputs, targets, tables, work, solver, hyper, perm, *rest)
        return spy

    # The default path runs kernels.lean's copies (one per output function),
    # the toolkit kernels.network's.
    for kernels in [network, *(lean.for_output(code) for code in OUTPUT_FUNCTIONS.values())]:
        monkeypatch.setattr(kernels, "train_epoch", spying(kernels.train_epoch))
    return seen


def test_divergence_stops_at_the_first_non_finite_epoch(monkeypatch):
    X, y = _regression_data()
    seen = _count_epoch_rows(monkeypatch)
    est = MLPRegressor(hidden_layer_sizes=(16,), solver="sgd", learning_rate_init=0.5,
                       max_iter=300, random_state=0)
    with pytest.raises(DivergenceError) as info:
        quiet(est.fit, X, y)
    err = info.value
    assert isinstance(err, ValueError)
    assert seen["rows"] == err.epoch * len(X), "trained past the diverging epoch"
    msg = str(err)
    assert f"Training diverged at epoch {err.epoch}" in msg
    assert "learning_rate_init" in msg and "clip_grad_norm" in msg and "StandardScaler" in msg
    # The call is undone (the estimator stays unfitted); the error holds
    # the state of the last finite epoch, consistently (fix-210).
    assert err.epoch >= 2
    assert not hasattr(est, "coefs_") and not hasattr(est, "n_iter_")
    kept = err.last_finite_model
    assert kept.n_iter_ == err.epoch - 1 == len(kept.loss_curve_) == len(kept.history_["loss"])
    assert kept.t_ == kept.n_iter_ * len(X)
    assert all(np.isfinite(c).all() for c in kept.coefs_)
    assert np.isfinite(kept.loss_curve_).all()


def test_divergence_keeps_the_good_epochs_of_the_call():
    """A schedule that is fine for 3 epochs and then explodes: the error's
    last_finite_model is exactly the model of the epochs before the
    divergence, optimizer state included."""
    X, y = _regression_data()

    def schedule(epoch, lr0):
        return lr0 if epoch < 3 else 1e4

    kw = dict(hidden_layer_sizes=(16,), solver="sgd", learning_rate_init=1e-4,
              learning_rate=schedule, random_state=0)
    est = MLPRegressor(max_iter=50, **kw)
    with pytest.raises(DivergenceError) as info:
        quiet(est.fit, X, y)
    assert info.value.epoch >= 4
    assert not hasattr(est, "coefs_")  # the call is undone (fix-210)
    est = info.value.last_finite_model
    ref = quiet(MLPRegressor(max_iter=info.value.epoch - 1, **kw).fit, X, y)
    for a, b in zip(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(est._optimizer.state_1, ref._optimizer.state_1)
    assert est._optimizer.t == ref._optimizer.t
    assert est.loss_curve_ == ref.loss_curve_


def test_divergence_in_the_first_epoch_leaves_a_fitted_model_unchanged(blobs):
    X, y = blobs
    est = quiet(MLPClassifier((5,), solver="sgd", batch_size=10, max_iter=3,
                              random_state=0).fit, X, y)
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(est).items()}
    est.set_params(warm_start=True)
    with pytest.raises(DivergenceError, match=r"diverged at epoch 1 of this call \(epoch 4 "
                                              r"of the model's training") as info:
        quiet(est.fit, X * 1e300, y)
    assert info.value.epoch == 1
    assert est.n_iter_ == before["n_iter_"] and est.loss_curve_ == before["loss_curve_"]
    for a, b in zip(est.coefs_, before["coefs_"]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("solver, call", [("sgd", "warm fit"), ("adam", "warm fit"),
                                          ("lbfgs", "warm fit"), ("sgd", "partial_fit"),
                                          ("adam", "partial_fit")])
def test_a_nan_weight_set_by_hand_is_named_not_taken_for_divergence(blobs, solver, call):
    # helper-105: a warm fit from a NaN weight set by hand raised
    # DivergenceError ("the loss was 1.13 after the epoch before", which was
    # the previous call's), advising a lower learning rate or standardised X.
    X, y = blobs
    est = quiet(MLPClassifier((4,), solver=solver, batch_size=10, max_iter=2,
                              random_state=0).fit, X, y)
    est.coefs_[1][0, 0] = np.nan
    before = {k: (v.copy() if isinstance(v, np.ndarray) else copy.deepcopy(v))
              for k, v in vars(est).items()}
    train = est.set_params(warm_start=True).fit if call == "warm fit" else est.partial_fit
    with pytest.raises(ValueError, match=r"parameters hold NaN or infinite values \(in "
                                         r"coefs_\): training cannot start") as info:
        quiet(train, X, y)
    assert not isinstance(info.value, DivergenceError)
    # helper-119: partial_fit, which ignores warm_start, was told to set
    # warm_start=False; its way to a new model is fit.
    if call == "partial_fit":
        assert "call fit" in str(info.value) and "warm_start" not in str(info.value)
    else:
        assert "warm_start=False" in str(info.value)
    assert est.n_iter_ == before["n_iter_"] and est.loss_ == before["loss_"]
    for a, b in zip(est.coefs_, before["coefs_"]):
        np.testing.assert_array_equal(a, b)


def test_a_batch_norm_running_variance_overflow_is_named_as_such():
    # helper-88: float32 batch statistics (summed in float64) of X at 1e20
    # train, but their running variance overflows float32 when stored; the
    # message blamed the weights, which stayed finite.
    X, y = make_classification(200, 6, n_informative=4, random_state=0)
    est = MLPClassifier((8,), normalization="batch", max_iter=1, random_state=0)
    with pytest.raises(DivergenceError,
                       match="the batch-norm running statistics overflowed float32"):
        quiet(est.fit, (X * 1e20).astype(np.float32), y)


def test_lbfgs_from_a_non_finite_loss_is_divergence_not_a_silent_nan(blobs):
    # scikit-learn keeps loss_ = nan and n_iter_ = 0 here, with only a
    # ConvergenceWarning; fastbp refuses, and the fitted model is unchanged.
    X, y = blobs
    est = quiet(MLPRegressor(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=20,
                             random_state=0, warm_start=True).fit, X, y.astype(float))
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(est).items()}
    with pytest.raises(DivergenceError, match="solver='lbfgs' the loss is (nan|inf) at the "
                                              "starting weights"):
        quiet(est.fit, X * 1e200, y.astype(float))
    assert est.loss_ == before["loss_"] and est.n_iter_ == before["n_iter_"]
    for a, b in zip(est.coefs_, before["coefs_"]):
        np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def poisson_counts():
    rng = np.random.RandomState(0)
    return rng.randn(100, 4), rng.poisson(5, 100) * 1.0


def test_lbfgs_stalled_at_its_start_by_an_overflow_is_divergence(poisson_counts):
    # helper-92: the poisson loss overflowed (exp) at L-BFGS's first trial
    # step; the line search went back to the starting weights and scipy
    # took that for convergence (status 0). The fit kept its untrained
    # starting weights with a warning that blamed float32's precision, and
    # a warm start from such weights changed nothing, silently.
    X, y = poisson_counts
    Xs = (X * 100).astype(np.float32)
    kw = dict(loss="poisson", hidden_layer_sizes=(10,), random_state=0)
    est = MLPRegressor(solver="lbfgs", max_iter=200, **kw)
    stalled = "the loss overflowed to inf or NaN at 1 trial step.* from the starting weights"
    with pytest.raises(DivergenceError, match=stalled + r".*standardise X"):
        est.fit(Xs, y)
    assert not hasattr(est, "coefs_")
    # The same starting weights (an adam epoch too small to move them) as
    # a warm start: refused, and the model keeps them.
    warm = quiet(MLPRegressor(solver="adam", learning_rate_init=1e-30, max_iter=1, **kw).fit,
                 X.astype(np.float32), y)
    before = [c.copy() for c in warm.coefs_]
    warm.set_params(solver="lbfgs", warm_start=True, max_iter=200)
    with pytest.raises(DivergenceError, match=stalled):
        warm.fit(Xs, y)
    for a, b in zip(warm.coefs_, before):
        np.testing.assert_array_equal(a, b)
    assert warm.n_iter_ == 1 and warm.solver == "lbfgs"


def test_lbfgs_stopped_later_by_an_overflow_warns_that_it_did_not_converge(poisson_counts):
    # helper-92: after some progress, an overflow at a trial step stopped
    # L-BFGS the same way, and scikit-learn's check, seeing status 0, was
    # silent: a partly trained model passed for a converged one.
    X, y = poisson_counts
    with pytest.warns(ConvergenceWarning, match=r"L-BFGS stopped after 4 iteration\(s\) "
                                                "because the loss overflowed to inf or NaN at "
                                                "a trial step, not because it converged"):
        est = MLPRegressor(loss="poisson", hidden_layer_sizes=(10,), solver="lbfgs",
                           random_state=1, max_iter=200).fit(X * 100, y)
    assert est.n_iter_ == 4 and est.loss_ < est.history_["loss"][0]


@pytest.mark.parametrize("dtype", [">f8", ">f4", "int64", "float16", "mixed"])
def test_weights_set_by_hand_of_any_dtype_predict_and_train(dtype):
    # helper-92: big-endian weights failed in numba's typing ("non-precise
    # type pyobject"), integer ones with "data type not inexact", float16
    # with NotImplementedError; scikit-learn predicts with all of them, in
    # float64 for a float64 X.
    rng = np.random.RandomState(0)
    X, y = rng.randn(20, 3), rng.randn(20)
    weights = [rng.randn(3, 4), rng.randn(4, 1), rng.randn(4), rng.randn(1)]
    if dtype == "int64":
        weights = [np.round(w) for w in weights]
    if dtype == "float16":
        weights = [w.astype(np.float16) for w in weights]
    given = ([weights[0].astype(np.float32), *weights[1:]] if dtype == "mixed"
             else [w.astype(dtype) for w in weights])
    exact = [np.asarray(w, dtype=np.float64) for w in given]
    expected = np.tanh(X @ exact[0] + exact[2]) @ exact[1] + exact[3]
    est = MLPRegressor(hidden_layer_sizes=(4,), activation="tanh", solver="sgd",
                       random_state=0)
    est.coefs_, est.intercepts_ = given[:2], given[2:]
    native32 = dtype == ">f4"
    out = est.predict(X)
    assert out.dtype == (np.float32 if native32 else np.float64)
    np.testing.assert_allclose(out, expected[:, 0], rtol=1e-5 if native32 else 1e-12)
    # And train on from them, in that dtype (partial_fit casts X to it).
    quiet(est.partial_fit, X, y)
    assert est.coefs_[0].dtype == est.predict(X).dtype == (np.float32 if native32 else
                                                           np.float64)
    assert est.coefs_[0].dtype.isnative and est.n_iter_ == 1


def test_an_edited_layer_of_a_float32_model_trains_on_in_float32(blobs):
    # helper-97: a float64 output layer put into a fitted float32 model (transfer
    # learning) made the model float64 (every array float32, else float64):
    # partial_fit refused its float32 optimizer state, a warm fit said the
    # model "was fitted with float64", and predict_proba turned float64.
    X, y = blobs
    X = X.astype(np.float32)
    est = quiet(MLPClassifier((8,), max_iter=5, random_state=0).fit, X, y)
    rng = np.random.RandomState(1)
    est.coefs_[-1] = rng.normal(scale=0.1, size=est.coefs_[-1].shape)
    est.intercepts_[-1] = np.zeros(est.intercepts_[-1].shape)
    assert est.predict_proba(X[:3]).dtype == np.float32
    quiet(est.partial_fit, X, y)
    assert est.coefs_[-1].dtype == est.intercepts_[-1].dtype == np.float32
    est.coefs_[-1] = est.coefs_[-1].astype(np.float64)
    quiet(est.set_params(warm_start=True, max_iter=2).fit, X, y)
    assert all(a.dtype == np.float32 for a in (*est.coefs_, *est.intercepts_))


@pytest.mark.parametrize("activation", ["tanh", "relu"])  # relu would hide a NaN
@pytest.mark.parametrize("where", ["coefs_", "intercepts_"])
def test_non_finite_weights_are_named_not_blamed_on_x(blobs, activation, where):
    X, y = blobs
    for kind in (MLPClassifier, MLPRegressor):
        est = quiet(kind(hidden_layer_sizes=(4,), activation=activation, max_iter=5,
                         random_state=0).fit, X, y)
        getattr(est, where)[0].flat[0] = np.nan  # in place: the buffer predictions read
        with pytest.raises(ValueError, match=r"parameters hold NaN or infinite values \(in "
                                             rf"{where}\)"):
            est.predict(X[:3])
        # A copy (no packed buffer: its arrays are packed again) the same.
        with pytest.raises(ValueError, match="parameters hold NaN"):
            copy.deepcopy(est).predict(X[:3])


def test_dead_units_are_diagnosed_as_dead_not_vanishing():
    monitor = GradientMonitor(2)
    monitor.first_sq[:] = 1.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for epoch in range(1, 5):
            monitor.check([1e-12, 1e-12], [10.0, 10.0], epoch, dead_fraction=1.0)
    messages = [str(w.message) for w in caught if issubclass(w.category, GradientWarning)]
    assert len(messages) == 1
    assert "dead" in messages[0] and "smaller learning_rate_init" in messages[0]
    assert "vanish" not in messages[0] and "larger" not in messages[0]


def test_dead_relu_network_is_not_called_vanishing():
    """SGD at learning rate 10 on digits kills nearly every relu unit (the
    audit's case): the warning must not call it a vanishing gradient or ask
    for a larger learning rate."""
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = MLPClassifier((32,), solver="sgd", learning_rate_init=10.0, max_iter=30,
                            n_iter_no_change=100, random_state=0).fit(X, y)
    messages = [str(w.message) for w in caught if issubclass(w.category, GradientWarning)]
    assert est.history_["dead_fraction"][-1] >= 0.9
    assert len(messages) == 1
    assert "vanished" not in messages[0] and "larger learning_rate_init" not in messages[0]


# ---------------------------------------------------------------------------
# 5. interrupts: every piece of state describes the same point
# ---------------------------------------------------------------------------

def test_epoch_slicing_does_not_change_results(blobs, monkeypatch):
    X, y = blobs
    kw = dict(hidden_layer_sizes=(7,), batch_size=10, max_iter=4, random_state=0,
              dropout=0.2)
    whole = quiet(MLPClassifier(**kw).fit, X, y)
    calls = {"n": 0}
    kernels = full.for_output(OUT_LOGISTIC)  # the toolkit's (dropout), two classes
    original = kernels.train_epoch

    def counting(*args):
        calls["n"] += 1
        return original(*args)

    monkeypatch.setattr(kernels, "train_epoch", counting)
    monkeypatch.setattr(stochastic, "SLICE_SECONDS", 1e-9)  # one batch per call
    sliced = quiet(MLPClassifier(**kw).fit, X, y)
    assert calls["n"] == 4 * 12
    for a, b in zip(whole.coefs_, sliced.coefs_):
        np.testing.assert_array_equal(a, b)
    assert whole.loss_curve_ == sliced.loss_curve_
    np.testing.assert_array_equal(whole._optimizer.state_2, sliced._optimizer.state_2)


_INTERRUPTED_FIT = """
    import faulthandler, json, os, signal, threading, time, warnings
    # A run that would reach run_python's limit prints every thread's
    # stack and exits instead: a lost Ctrl-C (the fit runs on for good)
    # then shows where the interrupt landed, rather than a bare timeout.
    faulthandler.dump_traceback_later(540, exit=True)
    import numpy as np
    from fastbp import {cls}
    from fastbp._cache.counts import process_counts
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6000, 200)).astype(np.float32)
    y = (X[:, :3].sum(axis=1) > 0).astype(int)
    kw = dict(hidden_layer_sizes=(256, 256), solver="{solver}", batch_size=20,
              random_state=0, tol=0.0, max_fun=10**9)
    if "{solver}" != "lbfgs":
        kw["n_iter_no_change"] = np.inf
    warm = {cls}(max_iter=1, **kw).fit(X, y)       # compiles outside the timed part
    est = {cls}(max_iter=100000, **kw)
    before = process_counts()
    sent = {{}}
    def interrupt():
        time.sleep({delay})
        sent["t"] = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)
    threading.Thread(target=interrupt, daemon=True).start()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, y)
    latency = time.perf_counter() - sent["t"]
    # Kernels compiled or loaded by the timed fit (compiled, loaded, unsaved).
    timed_compiles = [b - a for a, b in zip(before, process_counts())]
    out = {{"latency": latency, "n_iter": est.n_iter_, "timed_compiles": timed_compiles,
           "warnings": [str(w.message) for w in caught]}}
    if "{solver}" != "lbfgs":
        n_batches = -(-len(X) // 20)
        out.update(curve=len(est.loss_curve_), hist=len(est.history_["loss"]),
                   times=len(est.history_["epoch_time"]), t=est.t_,
                   expected_t=est.n_iter_ * len(X), steps=est._optimizer.t,
                   expected_steps=est.n_iter_ * n_batches)
        if est.n_iter_:
            ref = {cls}(max_iter=est.n_iter_, **kw)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref.fit(X, y)
            out["same_weights"] = all(np.array_equal(a, b) for a, b in
                                      zip(est.coefs_ + est.intercepts_,
                                          ref.coefs_ + ref.intercepts_))
            out["same_optimizer"] = bool(
                np.array_equal(est._optimizer.state_1, ref._optimizer.state_1)
                and np.array_equal(est._optimizer.state_2, ref._optimizer.state_2))
            out["same_curve"] = est.loss_curve_ == ref.loss_curve_
    else:
        out["finite"] = all(np.isfinite(c).all() for c in est.coefs_)
        out["fitted_loss"] = est.loss_
    print(json.dumps(out))
"""


def test_sigint_mid_epoch_leaves_consistent_state():
    out = last_json(run_python(_INTERRUPTED_FIT.format(cls="MLPClassifier", solver="adam",
                                                       delay=2.5)))
    # The warm fit compiled every kernel the timed one runs (the split
    # epoch's too, where the BLAS pool splits): a compile in the timed part
    # would take the time the epochs were given.
    assert out["timed_compiles"] == [0, 0, 0]
    assert any("interrupted by user" in w for w in out["warnings"])
    assert out["n_iter"] >= 1, "the interrupt came before the first epoch ended"
    assert out["curve"] == out["hist"] == out["times"] == out["n_iter"]
    assert out["t"] == out["expected_t"] and out["steps"] == out["expected_steps"]
    # Exactly the model of an uninterrupted fit of as many epochs.
    assert out["same_weights"] and out["same_optimizer"] and out["same_curve"]


def test_sigint_during_lbfgs_keeps_the_best_iterate():
    out = last_json(run_python(_INTERRUPTED_FIT.format(cls="MLPClassifier", solver="lbfgs",
                                                       delay=3.0)))
    assert out["timed_compiles"] == [0, 0, 0]
    assert any("interrupted by user" in w and "best iterate" in w for w in out["warnings"])
    assert out["finite"] and np.isfinite(out["fitted_loss"])


@pytest.mark.parametrize("evaluations", [0, 3])
def test_ctrl_c_in_lbfgs_is_an_interrupt_not_a_divergence(digits_data, monkeypatch,
                                                          evaluations):
    # helper-61: Ctrl-C before L-BFGS's first loss evaluation finished was
    # a DivergenceError "the loss is inf at the starting weights ...
    # standardise X" (exit status 2 on the command line, not 130). With no
    # iterate to keep, the interrupt goes on, and the model stays as it was.
    from fastbp.training import lbfgs

    X, y = digits_data
    model = quiet(MLPClassifier((8,), solver="lbfgs", max_iter=3, random_state=0).fit, X, y)
    before = copy.deepcopy(model.__dict__)
    real = lbfgs.loss_and_gradient_function

    def interrupted_after(*args, **kwargs):
        f, calls = real(*args, **kwargs), []

        def g(params):
            calls.append(1)
            if len(calls) > evaluations:
                raise KeyboardInterrupt
            return f(params)
        return g

    monkeypatch.setattr(lbfgs, "loss_and_gradient_function", interrupted_after)
    model.set_params(max_iter=50, warm_start=False)
    if evaluations == 0:
        with pytest.raises(KeyboardInterrupt):
            model.fit(X, y)
        assert model.n_iter_ == before["n_iter_"] and model.loss_ == before["loss_"]
        for a, b in zip(before["coefs_"], model.coefs_):
            np.testing.assert_array_equal(a, b)
    else:
        with pytest.warns(UserWarning, match="interrupted by user.*best iterate") as caught:
            model.fit(X, y)
        assert np.isfinite(model.loss_)
        # Attributed to the line that called fit, as fastbp's other warnings.
        assert [w.filename for w in caught if "interrupted" in str(w.message)] == [__file__]


def _interrupt_slice(monkeypatch, at):
    """Ctrl-C in the ``at``-th compiled slice from now (one mini-batch each)
    while ``at[0]`` is set; returns the switch."""
    from fastbp.training import split

    monkeypatch.setattr(stochastic, "SLICE_SECONDS", 1e-12)
    count = {"n": 0}
    for cls in (split.WholeEpoch, split.SplitEpoch):
        def run(self, *args, _real=cls.run, **kwargs):
            count["n"] += 1
            if at[0] is not None and count["n"] >= at[0]:
                at[0] = None
                raise KeyboardInterrupt
            return _real(self, *args, **kwargs)
        monkeypatch.setattr(cls, "run", run)
    return count


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_ctrl_c_before_a_calls_first_epoch_ends_undoes_the_call(digits_data, monkeypatch,
                                                                 dropout):
    # helper-71: a first partial_fit interrupted within its epoch kept an
    # initialised, untrained model (n_iter_=0, a warning); the next call,
    # no longer a first one, skipped the initial draws and trained another
    # model than an uninterrupted stream. With no epoch of the call to
    # keep, the call is undone and the interrupt goes on, as L-BFGS's
    # before its first evaluation; so Ctrl-C also stops a loop of
    # partial_fit calls rather than being swallowed by one of them.
    X, y = digits_data
    kw = dict(hidden_layer_sizes=(16,), random_state=0, batch_size=100, dropout=dropout)
    flat = lambda m: np.concatenate([c.ravel() for c in m.coefs_ + m.intercepts_])  # noqa: E731
    expected = MLPClassifier(**kw)
    for _ in range(3):
        expected.partial_fit(X, y, classes=np.arange(10))

    at = [None]
    count = _interrupt_slice(monkeypatch, at)
    model = MLPClassifier(**kw)
    at[0] = count["n"] + 4
    with pytest.raises(KeyboardInterrupt):
        model.partial_fit(X, y, classes=np.arange(10))
    assert not hasattr(model, "coefs_") and not hasattr(model, "n_iter_")
    model.partial_fit(X, y, classes=np.arange(10))
    before = copy.deepcopy(model.__dict__)
    at[0] = count["n"] + 4  # mid-stream: the model stays as it was
    with pytest.raises(KeyboardInterrupt):
        model.partial_fit(X, y)
    assert model.n_iter_ == before["n_iter_"] and model.t_ == before["t_"]
    assert model.loss_curve_ == before["loss_curve_"]
    for a, b in zip(before["coefs_"], model.coefs_):
        np.testing.assert_array_equal(a, b)
    for _ in range(2):
        model.partial_fit(X, y)
    np.testing.assert_array_equal(flat(model), flat(expected))
    assert model.loss_curve_ == expected.loss_curve_

    # A warm fit's first epoch: the model from before the call.
    model.set_params(warm_start=True, max_iter=5)
    at[0] = count["n"] + 2
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    np.testing.assert_array_equal(flat(model), flat(expected))
    assert model.n_iter_ == expected.n_iter_ and model.loss_curve_ == expected.loss_curve_


def test_ctrl_c_in_a_partial_fit_epochs_end_hooks_stops_the_loop_too(digits_data):
    # helper-82: an interrupt that landed in the epoch's end hooks (a
    # callback, a TensorBoard write) came after the epoch counted as
    # complete, and partial_fit swallowed it with a warning: 3 of 40 real
    # Ctrl-Cs in a loop with TensorBoardCallback did not stop it.
    X, y = digits_data
    model = MLPClassifier((8,), random_state=0)
    model.partial_fit(X, y, classes=np.arange(10))
    before = copy.deepcopy(model.__dict__)

    def interrupted(epoch, max_iter, history):
        raise KeyboardInterrupt
    model._on_epoch_end = interrupted
    with pytest.raises(KeyboardInterrupt):
        model.partial_fit(X, y)
    del model._on_epoch_end
    assert model.n_iter_ == before["n_iter_"] and model.loss_curve_ == before["loss_curve_"]
    for a, b in zip(before["coefs_"], model.coefs_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("how", ["in_place", "replaced"])
def test_a_negative_running_variance_is_named_not_blamed_on_x(digits_data, activation, how):
    # helper-130 (found by helper-121): batch norm took the square root of
    # a negative running_var_ set by hand, and predict blamed X ("outputs
    # overflowed float64 ... X holds values too large"), or, through relu,
    # which turns NaN into 0, predicted without a word; partial_fit kept
    # the negative variance, and early stopping scored NaN.
    X, y = digits_data
    fitted = quiet(MLPClassifier((8,), normalization="batch", activation=activation,
                                 max_iter=2, random_state=0).fit, X, y)
    model = copy.deepcopy(fitted)
    if how == "in_place":
        model.running_var_[0][3] = -1.0
    else:
        model.running_var_ = [np.where(np.arange(8) == 3, -1.0, model.running_var_[0])]
    match = "running_var_ holds negative variances \\(in hidden layer\\(s\\) 1\\)"
    # Edited in place too, under relu (which turned the NaN into 0: finite,
    # wrong outputs on the CPU where the GPU refused, helper-145).
    with pytest.raises(ValueError, match=match):
        model.predict(X[:5])
    # In place in a fitted model's own statistics (views of the buffers the
    # kernels read), and negative though var + eps is not: refused on either
    # device alike.
    for value in (-1.0, -1e-7):
        model = quiet(MLPClassifier((8,), normalization="batch", activation=activation,
                                    max_iter=2, random_state=0).fit, X, y)
        model.predict(X[:5])
        model.running_var_[0][3] = value
        with pytest.raises(ValueError, match=match):
            model.predict_proba(X[:5])
    model = copy.deepcopy(fitted)
    if how == "in_place":
        model.running_var_[0][3] = -1.0
    else:
        model.running_var_ = [np.where(np.arange(8) == 3, -1.0, model.running_var_[0])]
    with pytest.raises(ValueError, match=match):
        model.partial_fit(X, y)
    model.set_params(warm_start=True, early_stopping=True)
    with pytest.raises(ValueError, match=match):
        model.fit(X, y)


# ---------------------------------------------------------------------------
# 6. threads: results independent of concurrency, settings left as found
# ---------------------------------------------------------------------------

def _blas_threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


@pytest.fixture(scope="module")
def digits_data():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def test_predict_refuses_buffers_that_do_not_fit_its_network(digits_data, monkeypatch):
    # helper-61: a fit of another network in another thread could replace
    # the attributes between predict's reads, and the kernel then read its
    # layout's offsets in buffers of another size (out of bounds).
    X, y = digits_data
    small = quiet(MLPClassifier((4,), max_iter=2, random_state=0).fit, X, y)
    big = quiet(MLPClassifier((40,), max_iter=2, random_state=0).fit, X, y)
    theirs = big._packed_buffers()
    monkeypatch.setattr(small, "_flat_parameters", lambda *args, **kwargs: theirs)
    with pytest.raises(RuntimeError, match="changed while it predicted .* each thread must "
                                           "use its own estimator"):
        small.predict(X)


def test_concurrent_fits_and_predicts_equal_sequential(digits_data):
    X, y = digits_data
    configs = [dict(hidden_layer_sizes=(h,), random_state=r, max_iter=3)
               for h in (16, 300) for r in (0, 1)]
    sequential = [quiet(MLPClassifier(**c).fit, X, y) for c in configs]
    expected = [m.predict_proba(X) for m in sequential]
    before = _blas_threads()
    results = [None] * 8

    def work(i):
        c = configs[i % len(configs)]
        model = quiet(MLPClassifier(**c).fit, X, y)
        results[i] = (model, [model.predict_proba(X) for _ in range(3)])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, (model, probas) in enumerate(results):
        ref = sequential[i % len(configs)]
        for a, b in zip(model.coefs_, ref.coefs_):
            np.testing.assert_array_equal(a, b)
        for p in probas:
            np.testing.assert_array_equal(p, expected[i % len(configs)])
    assert _blas_threads() == before


def test_call_inside_another_threads_limit_leaves_settings_as_found(digits_data):
    X, y = digits_data
    before = _blas_threads()
    entered, release = threading.Event(), threading.Event()

    def user():
        with threadpool_limits(1):
            entered.set()
            release.wait()

    other = threading.Thread(target=user)
    other.start()
    entered.wait()
    model = MLPClassifier((300,), max_iter=2, batch_size=500, random_state=0)
    done = threading.Event()

    def fit():
        quiet(model.fit, X, y)
        done.set()

    fitter = threading.Thread(target=fit)
    fitter.start()
    time.sleep(0.05)
    release.set()          # the other thread's limit ends while fastbp runs
    other.join()
    fitter.join()
    assert done.is_set()
    assert _blas_threads() == before


# ---------------------------------------------------------------------------
# 7. normalisation over a single value
# ---------------------------------------------------------------------------

def test_batch_norm_over_single_samples_is_rejected(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="mini-batches hold 1 sample each"):
        MLPClassifier((4,), normalization="batch", batch_size=1).fit(X, y)
    with pytest.raises(ValueError, match="mini-batches hold 1 sample each"):
        MLPClassifier((4,), normalization="batch").partial_fit(X[:1], y[:1], classes=[0, 1])


@pytest.mark.parametrize("n_rows, batch_size", [(201, "auto"), (41, 10), (13, 4)])
def test_batch_norm_leaves_out_a_one_row_last_batch(n_rows, batch_size):
    # Trained, the one-row batch shrank running_var_ towards zero each
    # epoch; refused (as once), it broke cross-validation folds of 801 rows.
    # Now that row sits the epoch out, as PyTorch's drop_last: unshuffled,
    # the fit is the fit of the other rows, bit for bit.
    rng = np.random.RandomState(0)
    X, y = rng.randn(n_rows, 3), np.arange(n_rows) % 2
    kw = dict(hidden_layer_sizes=(4,), normalization="batch", batch_size=batch_size,
              max_iter=5, shuffle=False, random_state=0)
    full = quiet(MLPClassifier(**kw).fit, X, y)
    less = quiet(MLPClassifier(**kw).fit, X[:-1], y[:-1])
    for a, b in zip(full.coefs_ + full.running_var_, less.coefs_ + less.running_var_):
        np.testing.assert_array_equal(a, b)
    assert full.loss_curve_ == less.loss_curve_ and full.t_ == less.t_
    shuffled = quiet(MLPClassifier(**{**kw, "shuffle": True, "max_iter": 30}).fit, X, y)
    assert np.all(shuffled.running_var_[0] > 0.05)


def test_batch_norm_that_leaves_out_the_only_weighed_row_is_refused():
    # helper-113: where the one row batch norm leaves out (5 % 2 == 1) was
    # the only one with a positive weight, every batch weighed 0 and was
    # skipped: the fit "succeeded" untrained, loss_curve_ [0.0, 0.0, 0.0],
    # with a false 100%-dead-units GradientWarning. Shuffled, any epoch could
    # leave that row out and record 0.0 (best_loss_, the convergence count).
    rng = np.random.RandomState(0)
    X, y = rng.randn(5, 3), rng.randn(5)
    kw = dict(hidden_layer_sizes=(4,), normalization="batch", batch_size=2, max_iter=3,
              random_state=0)
    with pytest.raises(ValueError, match="sample_weight 0 but the last, which "
                                         "normalization='batch' leaves out.*nothing to train"):
        MLPRegressor(**kw, shuffle=False).fit(X, y, sample_weight=[0, 0, 0, 0, 1.0])
    for weighed in (1, 4):
        sw = np.zeros(5)
        sw[weighed] = 1.0
        with pytest.raises(ValueError, match="sample_weight 0 but one.*nothing to train "
                                             "on. Choose a batch_size"):
            MLPRegressor(**kw, shuffle=True).fit(X, y, sample_weight=sw)
    # A failed partial_fit leaves the fitted model as it was.
    model = quiet(MLPRegressor(**kw, shuffle=True).fit, X, y)
    before = [c.copy() for c in model.coefs_]
    with pytest.raises(ValueError, match="sample_weight 0 but one"):
        model.partial_fit(X, y, sample_weight=[0, 0, 1.0, 0, 0])
    for a, b in zip(before, model.coefs_):
        np.testing.assert_array_equal(a, b)
    # Fits in which every epoch trains a batch are kept, and record no 0.0.
    for shuffle, sw in ((False, [0, 1.0, 0, 0, 0]), (True, [0, 1.0, 0, 0, 1.0])):
        model = quiet(MLPRegressor(**{**kw, "max_iter": 20}, shuffle=shuffle).fit, X, y,
                      sample_weight=sw)
        assert min(model.loss_curve_) > 0
    # Without batch norm, or with no row left over, the one row trains.
    quiet(MLPRegressor(**{**kw, "normalization": None}, shuffle=True).fit, X, y,
          sample_weight=[0, 0, 0, 0, 1.0])
    quiet(MLPRegressor(**{**kw, "batch_size": 3}, shuffle=True).fit, X, y,
          sample_weight=[0, 0, 0, 0, 1.0])


@pytest.mark.parametrize("scale, n_iter, why", [
    # helper-92: at 1e7 the loss overflowed float32 at a trial step before
    # the stop (inf, then the iterate again): that is what stopped it.
    (1e7, 2, "the loss overflowed to inf or NaN at a trial step"),
    (1e9, 1, "float32 cannot resolve")])
def test_lbfgs_that_cannot_resolve_its_float32_loss_warns(scale, n_iter, why):
    # Targets around 1e9 give a float32 loss of 1e18, whose rounding swamps
    # what L-BFGS measures: it stops after one or two iterations, barely
    # trained, with status 0. scikit-learn is silent.
    rng = np.random.RandomState(0)
    X = rng.randn(200, 5).astype(np.float32)
    y = (X @ rng.randn(5) * scale + scale).astype(np.float32)
    with pytest.warns(ConvergenceWarning, match=f"L-BFGS stopped after {n_iter} "
                                                f"iteration.*{why}"):
        est = MLPRegressor(solver="lbfgs", random_state=0).fit(X, y)
    assert est.n_iter_ == n_iter and est.score(X, y) < 0.6
    # Standardised, the same fit trains without the warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = MLPRegressor(solver="lbfgs", random_state=0, max_iter=5000).fit(
            X, (y - y.mean()) / y.std())
    assert est.n_iter_ > 10 and est.score(X, (y - y.mean()) / y.std()) > 0.99


def test_training_warnings_point_at_the_callers_line():
    # They pointed inside fastbp (estimators/base.py, training/stochastic.py),
    # so that filters by module and -W did not match the user's code.
    rng = np.random.RandomState(0)
    X, y = rng.randn(60, 3), np.arange(60) % 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MLPClassifier((4,), max_iter=2, random_state=0).fit(X, y)  # ConvergenceWarning
        MLPClassifier((32,), solver="sgd", learning_rate_init=10.0, max_iter=30,
                      n_iter_no_change=100, random_state=0).fit(  # dead units: GradientWarning
            *load_digits(return_X_y=True))
        MLPRegressor(solver="lbfgs", random_state=0).fit(  # L-BFGS's unresolved loss
            X.astype(np.float32), (X @ [1.0, 2.0, 3.0] * 1e9 + 1e9).astype(np.float32))
    kinds = {w.category.__name__ for w in caught}
    assert {"ConvergenceWarning", "GradientWarning"} <= kinds, kinds
    assert all(w.filename == __file__ for w in caught), [(w.category, w.filename)
                                                         for w in caught]


def _flat(model):
    return np.concatenate([c.ravel() for c in model.coefs_ + model.intercepts_])


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_convergence_warning_made_an_error_keeps_the_trained_model(digits_data, solver):
    # helper-123: the warning was raised mid-fit, before the call kept its
    # model, and rolled the whole trained fit back (a warm fit's too);
    # scikit-learn's MLP keeps the model and raises.
    X, y = digits_data
    kw = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=5, random_state=0)
    expected = quiet(MLPClassifier(**kw).fit, X, y)
    model = MLPClassifier(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match="(?i)converge"):
            model.fit(X, y)
    assert model.n_iter_ == 5
    np.testing.assert_array_equal(_flat(model), _flat(expected))
    # A warm fit keeps its epochs as well.
    model.set_params(warm_start=True)
    expected.set_params(warm_start=True)
    quiet(expected.fit, X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning):
            model.fit(X, y)
    np.testing.assert_array_equal(_flat(model), _flat(expected))
    if solver == "adam":
        assert len(model.loss_curve_) == 10 and model.loss_curve_ == expected.loss_curve_


def test_ctrl_c_under_warnings_made_errors_keeps_what_its_warning_says(digits_data,
                                                                       monkeypatch):
    # helper-123: under simplefilter("error"), Ctrl-C's warning ("the model
    # keeps the state at the end of the last one") was raised before the
    # call kept that state, and the call was rolled back: unfitted.
    from fastbp.training import lbfgs

    X, y = digits_data

    def interrupt_at_3(epoch, max_iter, history):
        if epoch == 3:
            raise KeyboardInterrupt
    model = MLPClassifier((8,), max_iter=50, random_state=0)
    model._on_epoch_end = interrupt_at_3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="interrupted by user after 3 complete epoch"):
            model.fit(X, y)
    del model._on_epoch_end
    assert model.n_iter_ == 3
    np.testing.assert_array_equal(
        _flat(model), _flat(quiet(MLPClassifier((8,), max_iter=3, random_state=0).fit, X, y)))

    real = lbfgs.loss_and_gradient_function

    def interrupted_after_5(*args, **kwargs):
        f, calls = real(*args, **kwargs), []

        def g(params):
            calls.append(1)
            if len(calls) > 5:
                raise KeyboardInterrupt
            return f(params)
        return g

    monkeypatch.setattr(lbfgs, "loss_and_gradient_function", interrupted_after_5)
    model = MLPClassifier((8,), solver="lbfgs", max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="interrupted by user.*best iterate"):
            model.fit(X, y)
    assert model.n_iter_ >= 1 and np.isfinite(model.loss_) and model.predict(X).shape == y.shape


def test_warnings_held_to_the_end_of_a_failed_fit_keep_their_order():
    # helper-123: training's warnings are given when the call ends. Before
    # a failure, they come first, once each, as they did (where an error
    # filter raises one, the failure stays what the call raises, and says
    # so in its notes).
    X, y = _regression_data()

    def schedule(epoch, lr0):
        return lr0 if epoch < 3 else 1e4

    kw = dict(hidden_layer_sizes=(16,), solver="sgd", learning_rate_init=1e-4,
              learning_rate=schedule, max_iter=50, random_state=0)
    # fix-210: a divergence undoes the call, as every failure does, so its
    # warnings are the error's notes (the training they speak of is the
    # error's last_finite_model), in order, whatever the filters.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(DivergenceError) as info:
            MLPRegressor(**kw).fit(X, y)
    assert caught == []
    model = MLPRegressor(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DivergenceError) as raised:
            model.fit(X, y)
    assert raised.value.epoch == info.value.epoch
    assert not hasattr(model, "n_iter_")
    # The finite epochs, kept in the error.
    assert raised.value.last_finite_model.n_iter_ == raised.value.epoch - 1
    if sys.version_info >= (3, 11):
        for error in (info.value, raised.value):
            notes = [n for n in error.__notes__ if "fastbp warned" in n]
            assert len(notes) == 1 and "GradientWarning" in notes[0], error.__notes__
            assert "exploding" in notes[0]


def test_oversubscription_and_compile_ahead_warnings_point_at_the_callers_line(
        digits_data, monkeypatch):
    # helper-134: OversubscriptionWarning (a fixed stacklevel) named
    # estimators/base.py, as did FASTBP_COMPILE_AHEAD's and L-BFGS's
    # ConvergenceWarning (scikit-learn's check, called from there).
    from fastbp.training import ahead, threads

    X, y = digits_data
    monkeypatch.setattr(threads, "_checked_at", threads._UNCHECKED)
    monkeypatch.setattr(threads, "cpu_count", lambda: 1)
    monkeypatch.setenv(ahead.ENV, "bogus")
    monkeypatch.setattr(ahead, "_warned_mode", False)
    monkeypatch.setattr(ahead, "_asked", set())
    monkeypatch.setattr(ahead, "_compile_ahead", lambda *args: None)
    inside, leave = threading.Event(), threading.Event()

    def another_fit():
        with threads.fit_slot():
            inside.set()
            leave.wait(60)

    other = threading.Thread(target=another_fit)
    other.start()
    try:
        inside.wait(60)
        with threadpool_limits(2, user_api="blas"), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            MLPClassifier((8,), solver="lbfgs", max_iter=2, random_state=0).fit(X, y)
    finally:
        leave.set()
        other.join(60)
    kinds = [w.category for w in caught]
    assert fastbp.OversubscriptionWarning in kinds and ConvergenceWarning in kinds
    assert any("FASTBP_COMPILE_AHEAD='bogus'" in str(w.message) for w in caught)
    assert [w.filename for w in caught] == [__file__] * len(caught), [
        (w.category, w.filename) for w in caught]
    assert any("lbfgs failed to converge after 2 iteration(s)" in str(w.message)
               and "max_iter=2" in str(w.message) for w in caught)


def test_a_warning_at_import_names_the_importing_line_past_nested_imports(tmp_path,
                                                                          monkeypatch):
    # helper-144: warn_at_caller stopped at the first importlib frame, so a
    # warning said by a fastbp module that another fastbp module imports
    # (fastbp/_cache by fastbp/_config) named the importing module of
    # fastbp's own; _cache walked the frames again, past importlib's, to
    # avoid it. Here "outer" imports "inner", both taken for fastbp's.
    from fastbp import exceptions

    (tmp_path / "fastbp_outer_probe.py").write_text("import fastbp_inner_probe\n")
    (tmp_path / "fastbp_inner_probe.py").write_text(
        "from fastbp.exceptions import warn_at_caller\n"
        "warn_at_caller('said at import', UserWarning)\n")
    monkeypatch.setattr(exceptions, "_PACKAGE", str(tmp_path) + os.sep)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("fastbp_outer_probe", "fastbp_inner_probe"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        __import__("fastbp_outer_probe")  # an import statement's frames, no others
    assert [(str(w.message), w.filename) for w in caught] == [("said at import", __file__)]


def test_the_caches_warnings_are_not_swallowed_by_a_quiet_warmup():
    # helper-149 (with helper-144's finding above): _cache now warns through
    # warn_at_caller, which records the warnings of a quiet warm-up's fits
    # and holds those of a fit's training; the cache's, once per process,
    # must still be said at once, at the caller's line.
    from fastbp._cache import warning
    from fastbp.exceptions import held_until_committed, quiet_in_this_thread, training_begins

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet_in_this_thread() as seen:
            warning.warn_outside_fastbp("the cache, quiet", warning.CacheWarning)
        with held_until_committed() as held:
            training_begins()
            warning.warn_outside_fastbp("the cache, held", warning.CacheWarning)
    assert seen == [] and held.warnings == []
    assert [(str(w.message), w.category, w.filename) for w in caught] == [
        ("the cache, quiet", warning.CacheWarning, __file__),
        ("the cache, held", warning.CacheWarning, __file__)]


def test_the_compile_ahead_warning_made_an_error_is_raised_not_swallowed(digits_data,
                                                                        monkeypatch):
    # helper-134: compile_ahead's catch-all caught the warning a filter had
    # made an error, after noting it as given: it was never seen.
    from fastbp.training import ahead

    X, y = digits_data
    monkeypatch.setenv(ahead.ENV, "bogus")
    monkeypatch.setattr(ahead, "_warned_mode", False)
    monkeypatch.setattr(ahead, "_asked", set())
    monkeypatch.setattr(ahead, "_compile_ahead", lambda *args: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(RuntimeWarning, match="FASTBP_COMPILE_AHEAD='bogus'"):
            MLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)


def test_huge_finite_float32_weights_leak_no_overflow_warning():
    # helper-134: the monitor's weight norm (a float32 dot product)
    # overflowed: NumPy's "overflow encountered in dot", pointing into
    # fastbp, failed the call under warnings made errors.
    rng = np.random.RandomState(0)
    X = rng.randn(200, 3).astype(np.float32)
    y = (X @ [40.0, 80.0, 20.0] * 10).astype(np.float32)
    model = MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", random_state=0)
    quiet(model.partial_fit, X, y)
    model.set_params(learning_rate_init=1e30)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model.partial_fit(X, y)
    assert np.all([np.isfinite(c).all() for c in model.coefs_])
    assert max(float(np.abs(c).max()) for c in model.coefs_) > 1e20


def test_finite_input_whose_sum_overflows_gets_the_overflow_error_not_numpys_warning(blobs):
    # helper-140 (as helper-134's weight norms): the finiteness check's sum
    # of X overflowed: "overflow encountered in reduce", pointing into
    # fastbp, and under warnings made errors that warning replaced the
    # ValueError naming the overflow.
    X, _ = blobs
    reg = quiet(MLPRegressor(hidden_layer_sizes=(4,), random_state=0, max_iter=5).fit,
                X.astype(np.float32), X[:, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match="outputs overflowed float32 for 2 row"):
            reg.predict(np.full((2, 6), 3e38, dtype=np.float32))


def test_layer_norm_over_a_single_unit_is_rejected(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="hidden layer 2 of \\[4, 1\\] has a single unit"):
        MLPClassifier((4, 1), normalization="layer").fit(X, y)


# ---------------------------------------------------------------------------
# 8. errors that used to be unclear
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("byteorder", [">f8", ">f4"])
def test_big_endian_input_trains_like_native(blobs, byteorder):
    import pandas as pd
    X, y = blobs
    native = X.astype(byteorder.replace(">", "<"))
    a = quiet(MLPClassifier((4,), max_iter=3, random_state=0).fit,
              pd.DataFrame(X.astype(byteorder)), y)
    b = quiet(MLPClassifier((4,), max_iter=3, random_state=0).fit, native, y)
    for u, v in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(a.predict_proba(X.astype(byteorder)), b.predict_proba(native))


def test_regressor_with_string_targets_says_so(blobs):
    X, _ = blobs
    y = np.array(["1", "2", "3"] * 40)
    with pytest.raises(ValueError, match="needs numeric targets y.*<U1"):
        MLPRegressor(hidden_layer_sizes=(4,), loss="poisson").fit(X, y)


@pytest.mark.parametrize("dtype, na", [("Float64", False), ("Int64", False), ("category", False),
                                       ("Float64", True), ("Int64", True)])
def test_regressor_takes_pandas_extension_targets_as_scikit_learn_does(blobs, dtype, na):
    # helper-39: a pandas extension dtype is no NumPy dtype, and the string
    # check raised "Cannot interpret 'Float64Dtype()' as a data type".
    # scikit-learn trains on these and names NA. (Numbers written as text,
    # pandas' "string" dtype, are refused by name: see test_bad_input.py's
    # string_frame_as_regression_targets.)
    import pandas as pd
    from sklearn.neural_network import MLPRegressor as SkMLP

    X, _ = blobs
    values = np.round(X[:, 0] * 3)
    y = pd.Series(values.astype(int) if dtype == "Int64" else values)
    if dtype == "string":
        y = y.astype(str)
    y = y.astype(dtype)
    if na:
        y.iloc[0] = pd.NA
    for fit in ("fit", "partial_fit"):
        results = []
        for cls in (MLPRegressor, SkMLP):
            est = cls(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
            try:
                results.append(quiet(getattr(est, fit), X, y).predict(X[:5]))
            except ValueError as exc:
                results.append(str(exc))
        if na:
            assert results == ["Input y contains NaN."] * 2
        else:
            np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


@pytest.mark.parametrize("sizes, shown", [(("4",), "'4' of type str"),
                                          ((5.7,), "5.7 of type float"),
                                          ((4, True), "True of type bool")])
def test_hidden_layer_sizes_must_be_integers(blobs, sizes, shown):
    X, y = blobs
    with pytest.raises(ValueError, match=f"hidden_layer_sizes must hold integers.*{shown}"):
        MLPClassifier(sizes).fit(X, y)


def test_integer_like_hidden_layer_sizes_are_accepted(blobs):
    X, y = blobs
    est = quiet(MLPClassifier(np.array([5, 3]), max_iter=2).fit, X, y)
    assert [c.shape[1] for c in est.coefs_] == [5, 3, 1]


@pytest.mark.parametrize("returned, shown", [(None, "None"), (np.ones(2), "array"),
                                             ("0.1", "'0.1'")])
def test_learning_rate_callable_returning_a_non_number(blobs, returned, shown):
    X, y = blobs
    est = MLPClassifier((4,), solver="sgd", learning_rate=lambda e, lr: returned, max_iter=2)
    with pytest.raises(TypeError, match=f"learning_rate callable returned {shown}"):
        est.fit(X, y)


def test_classes_with_nan_names_classes(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="classes holds a missing value"):
        MLPClassifier((4,)).partial_fit(X, y, classes=[0, 1, np.nan])


@pytest.mark.parametrize("dtype, scale, alpha", [
    (np.float32, 2.0 ** 120, 1e-4),   # 200 x 5e35-ish: 1/sum flushed to zero before
    (np.float32, 2.0 ** -100, 1e-4),
    (np.float64, 2.0 ** 1000, 1e-4),  # the float64 sum overflowed before
    (np.float64, 2.0 ** -1060, 0.0),  # subnormal weights: their sum underflowed
])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs", "adamw"])
def test_sample_weights_far_from_one_train_the_objective_they_define(blobs, dtype, scale,
                                                                      alpha, solver):
    # Uniform weights c with penalty alpha * c define the objective of unit
    # weights with alpha (scikit-learn divides the penalty by the weights'
    # sum); c a power of two, the fits agree bit for bit (adamw's decay is
    # not divided by the sum: the same alpha).
    X, y = blobs
    X = X.astype(dtype)
    kw = dict(hidden_layer_sizes=(4,), max_iter=5, random_state=0, solver=solver)
    # (No penalty with subnormal weights: alpha * scale would round.)
    l1 = 1e-3 if alpha else 0.0
    a_c = alpha if solver == "adamw" else alpha * scale
    scaled = quiet(MLPClassifier(alpha=a_c, l1=l1 * scale, **kw).fit, X, y,
                   sample_weight=np.full(len(X), scale))
    unit = quiet(MLPClassifier(alpha=alpha, l1=l1, **kw).fit, X, y,
                 sample_weight=np.ones(len(X)))
    assert scaled.n_iter_ == unit.n_iter_ > 1
    assert scaled.loss_ == unit.loss_
    for a, b in zip(scaled.coefs_ + scaled.intercepts_, unit.coefs_ + unit.intercepts_):
        np.testing.assert_array_equal(a, b)


def test_huge_float32_weights_train_as_scikit_learn_does():
    # helper-35's report: float32 weights of 5e35 (sum 1e38, finite) left
    # the model untrained, silently (lbfgs: n_iter_ 0); scikit-learn trains.
    from sklearn.neural_network import MLPClassifier as SkMLP

    rng = np.random.RandomState(0)
    X = rng.randn(200, 5)
    y = np.digitize(X[:, 0], [-0.5, 0.5])
    sw = np.full(200, 5e35)
    for solver in ("lbfgs", "adam"):
        kw = dict(hidden_layer_sizes=(7,), random_state=0, max_iter=20, solver=solver)
        ours = quiet(MLPClassifier(**kw).fit, X.astype(np.float32), y, sample_weight=sw)
        theirs = quiet(SkMLP(**kw).fit, X, y, sample_weight=sw)
        assert ours.n_iter_ == theirs.n_iter_
        # float32 against float64: a loss of about 2e-4 after 20 iterations.
        np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-2)
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
        # In float64, scikit-learn's parity.
        ours = quiet(MLPClassifier(**kw).fit, X, y, sample_weight=sw)
        np.testing.assert_allclose(ours.loss_curve_ if solver == "adam" else ours.loss_,
                                   theirs.loss_curve_ if solver == "adam" else theirs.loss_,
                                   rtol=1e-10)
        for a, b in zip(ours.coefs_, theirs.coefs_):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("dtype, small, span", [(np.float32, 1e-44, 146),
                                                (np.float64, 1e-320, 1063)])
def test_weights_spanning_more_than_the_dtype_holds_say_so(blobs, dtype, small, span):
    X, y = blobs
    X = X.astype(dtype)
    sw = np.r_[small, np.ones(len(X) - 1)]
    model = quiet(MLPClassifier((4,), max_iter=2, random_state=0).fit, X, y)
    before = [c.copy() for c in model.coefs_]
    name = np.dtype(dtype).name
    small = float(dtype(small))
    with pytest.raises(ValueError, match=rf"span more than {name} holds: the smallest "
                                         rf"\({small:.3g}\) is about 2\*\*{span} times.*"
                                         r"flush.*Set those weights to 0"):
        model.fit(X, y, sample_weight=sw)
    for a, b in zip(before, model.coefs_):
        np.testing.assert_array_equal(a, b)
    # Set to 0, as the message says: it trains.
    sw[0] = 0
    quiet(model.fit, X, y, sample_weight=sw)


@pytest.mark.parametrize("weights", [
    [2.0 ** -15, 2.0 ** -130],  # the largest in range, the smallest subnormal
    [2.0 ** 17, 2.0 ** -120],   # scaled to bring the largest near 1, the smallest would be
    [1.0, 1e-40],               # helper-35: refused before, though a scaling keeps both
])
def test_weights_a_scaling_keeps_normal_train_the_objective_they_define(blobs, weights):
    # (helper-36) The scaling chosen keeps the smallest positive weight a
    # normal number where some power of two can: the model is then the one
    # of the same weights times that power in float64, where none is needed.
    X, y = blobs
    sw = np.resize(np.asarray(weights), len(X))
    kw = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0, alpha=0.0, batch_size=2,
              shuffle=False)
    ours = quiet(MLPClassifier(**kw).fit, X.astype(np.float32), y,
                 sample_weight=sw.astype(np.float32))
    ref = quiet(MLPClassifier(**kw).fit, X, y, sample_weight=sw)
    for a, b in zip(ours.coefs_, ref.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_weights_beyond_a_float32_models_range_get_advice_that_keeps_them_positive(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="Rescale sample_weight \\(divide it by its mean"):
        MLPClassifier((4,), max_iter=2).fit(X.astype(np.float32), y,
                                            sample_weight=np.full(len(X), 1e39))


def test_weights_that_are_zero_in_float32_are_named_so(blobs):
    # Cast to a float32 model's dtype, 1e-300 is 0: scikit-learn's message
    # then said the weights were all zero, which they are not.
    X, y = blobs
    X = X.astype(np.float32)
    model = MLPClassifier((4,), max_iter=2, random_state=0).fit(X, y)
    before = [c.copy() for c in model.coefs_]
    for call in (model.fit, model.partial_fit):
        with pytest.raises(ValueError, match="below float32's smallest number.*largest 1e-300"):
            call(X, y, sample_weight=np.full(len(X), 1e-300))
    for a, b in zip(before, model.coefs_):
        np.testing.assert_array_equal(a, b)
    # Small weights that survive the cast train (as in scikit-learn, their
    # sum stands for the number of samples in the alpha penalty).
    quiet(MLPClassifier((4,), max_iter=2, alpha=0).fit, X, y,
          sample_weight=np.full(len(X), 1e-30))


@pytest.mark.parametrize("params, name", [
    ({"alpha": -50.0}, "alpha"), ({"alpha": float("nan")}, "alpha"), ({"alpha": "foo"}, "alpha"),
    ({"batch_size": 2.5}, "batch_size"), ({"batch_size": 0}, "batch_size"),
    ({"momentum": 2.0}, "momentum"), ({"beta_1": 1.5}, "beta_1"), ({"tol": -1.0}, "tol"),
    ({"learning_rate_init": 0.0}, "learning_rate_init")])
def test_parameters_changed_within_a_partial_fit_stream_are_checked(blobs, params, name):
    # scikit-learn checks parameters in fit and in a first partial_fit call
    # only: alpha=-50 set between calls trained to a negative loss.
    X, y = blobs
    model = MLPClassifier((4,), random_state=0).partial_fit(X, y, classes=[0, 1])
    model.partial_fit(X, y)
    before = copy.deepcopy(model.__dict__)
    model.set_params(**params)
    with pytest.raises(ValueError, match=f"The '{name}' parameter of MLPClassifier"):
        model.partial_fit(X, y)
    assert model.n_iter_ == before["n_iter_"] and model.t_ == before["t_"]
    for a, b in zip(before["coefs_"], model.coefs_):
        np.testing.assert_array_equal(a, b)
    # Valid again: the stream goes on, checked once more.
    model.set_params(**{k: before[k] for k in params})
    model.partial_fit(X, y)
    assert model.t_ == before["t_"] + len(X)


def test_every_schedule_trains_with_its_default_gamma(digits_data):
    X, y = digits_data
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0)
    scores = {}
    for schedule in ("constant", "step", "exponential", "cosine"):
        est = MLPClassifier((64,), solver="sgd", learning_rate_init=0.1,
                            learning_rate=schedule, max_iter=60, n_iter_no_change=1000,
                            random_state=0)
        scores[schedule] = quiet(est.fit, X_tr, y_tr).score(X_te, y_te)
    assert min(scores.values()) >= 0.95, scores


def test_read_only_inputs_share_the_normal_specialisation(blobs, tmp_path):
    X, y = blobs
    # The normal specialisations, training's and prediction's, made first:
    # run alone (no test before it predicted), the count rose by the
    # prediction's own first compile.
    quiet(MLPClassifier((4,), max_iter=2, random_state=0).fit, X, y).predict(X)
    binary = lean.for_output(OUTPUT_FUNCTIONS["logistic"])
    signatures = (len(binary.train_epoch.signatures), len(binary.predict.signatures))
    path = tmp_path / "X.bin"
    X.tofile(path)
    mapped = np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape)
    frozen = X.copy()
    frozen.flags.writeable = False
    for data in (mapped, frozen):
        est = quiet(MLPClassifier((4,), max_iter=2, random_state=0).fit, data, y)
        est.predict(data)
    assert (len(binary.train_epoch.signatures), len(binary.predict.signatures)) == signatures


def test_fastbp_exports_the_hardening_api():
    assert issubclass(fastbp.DivergenceError, ValueError)
    assert issubclass(fastbp.CacheWarning, UserWarning)
    info = fastbp.compile_cache_info()
    assert set(info) == {"directories", "n_files", "n_bytes", "writable", "unused"}


def test_sigint_handler_is_untouched_by_a_fit(blobs):
    X, y = blobs
    before = signal.getsignal(signal.SIGINT)
    quiet(MLPClassifier((4,), max_iter=2).fit, X, y)
    assert signal.getsignal(signal.SIGINT) is before


def test_read_only_targets_and_weights_share_the_specialisation(blobs):
    X, y = blobs
    yr = X[:, 0].copy()
    quiet(MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit, X, yr,
          sample_weight=np.ones(len(X)))
    identity = lean.for_output(OUTPUT_FUNCTIONS["identity"])
    before = len(identity.train_epoch.signatures)
    yr.flags.writeable = False
    sw = np.ones(len(X))
    sw.flags.writeable = False
    quiet(MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit, X, yr,
          sample_weight=sw)
    assert len(identity.train_epoch.signatures) == before


def test_optimizer_state_overflow_is_divergence():
    """Adam's second moment overflowing float32 freezes weights silently
    unless it counts as divergence."""
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((64, 3)) * 1e10).astype(np.float32)
    y = (X[:, 0] * 0.1).astype(np.float32)
    est = MLPRegressor(hidden_layer_sizes=(3,), solver="adam", max_iter=5, batch_size=8,
                       random_state=0)
    with pytest.raises(DivergenceError, match="diverged at epoch 1"):
        quiet(est.fit, X, y)


def test_inner_kernel_called_from_python_raises_instead_of_crashing():
    # Inner kernels have no CPython wrapper (a tenth of a cold compile);
    # Numba would jump to a missing wrapper. In a subprocess: a crash
    # must fail this test, not the suite.
    proc = run_python("""
        import numpy as np
        from fastbp.kernels import activations
        a = np.ones((2, 3))
        try:
            activations.bias_activation(a, np.zeros(3), 0, a, a)
        except TypeError as exc:
            print(exc)
    """)
    assert proc.returncode == 0, proc.stderr
    assert "inner kernel" in proc.stdout and "python_twin" in proc.stdout


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("penalty", ["alpha", "l1"])
def test_a_divergence_a_penalty_may_cause_names_it(blobs, solver, penalty):
    # helper-39: alpha=1e308 diverged with advice on the learning rate,
    # clipping and scaling only; the penalty was never named.
    X, y = blobs
    est = MLPClassifier((4,), solver=solver, max_iter=3, random_state=0, **{penalty: 1e308})
    with pytest.raises(DivergenceError, match=rf"The penalty may be the cause: {penalty}=1e\+308"):
        quiet(est.fit, X, y)
    # A divergence with the usual penalty does not blame it.
    X, y = _regression_data()
    with pytest.raises(DivergenceError) as info:
        quiet(MLPRegressor(hidden_layer_sizes=(16,), solver="sgd", learning_rate_init=0.5,
                           max_iter=300, random_state=0).fit, X, y)
    assert "penalty" not in str(info.value)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_a_divergence_of_a_penalty_over_tiny_weights_names_it(blobs, solver):
    # helper-53: uniform float32 weights of 1e-30 with the default alpha
    # diverged blaming the learning rate and scaling: scikit-learn divides
    # the penalty by the weights' sum, which made alpha 6e25 times the data.
    X, y = blobs
    X = X.astype(np.float32)
    weights = np.full(len(X), 1e-30)
    est = MLPClassifier((4,), solver=solver, max_iter=3, random_state=0)
    with pytest.raises(DivergenceError, match=r"The penalty may be the cause: alpha=0.0001 "
                       r"\(\S+ relative to sample_weight's scale\)\. .* or sample weights "
                       r"nearer 1\.$"):
        quiet(est.fit, X, y, sample_weight=weights)
    quiet(est.set_params(alpha=0).fit, X, y, sample_weight=weights)  # the penalty it was
    assert np.isfinite(est.loss_)


@pytest.mark.parametrize("params", [{"solver": "rmsprop"}, {"learning_rate": "constant"}])
def test_a_solver_or_schedule_changed_within_a_partial_fit_stream_is_refused(blobs, params):
    # helper-60: the stream went on with its first optimizer and schedule,
    # the new setting ignored without a word (as in scikit-learn). The
    # optimizer's hyper-parameters are taken instead (test_toolkit).
    X, y = blobs
    model = MLPClassifier((4,), random_state=0, learning_rate="exponential", gamma=0.5)
    model.partial_fit(X, y, classes=[0, 1])
    before = copy.deepcopy(model.__dict__)
    model.set_params(**params)
    (name, value), = params.items()
    with pytest.raises(ValueError, match=f"{name} changed from .* to '{value}' within a "
                       "partial_fit stream.*or call fit to start afresh"):
        model.partial_fit(X, y)
    assert model.t_ == before["t_"]
    for a, b in zip(before["coefs_"], model.coefs_):
        np.testing.assert_array_equal(a, b)
    quiet(model.fit, X, y)  # afresh: the new setting is used
    assert model._optimizer.solver == model.solver
    model.partial_fit(X, y)
