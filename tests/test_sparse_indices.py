"""CSR index arrays reach the kernels as scipy made them (fix-299).

rev-289: every fit and partial_fit of a CSR matrix copied its int32
indices (scipy's default) to int64, nnz x 8 bytes per call. The kernels'
index dtype is now int32 wherever the values fit, for dense inputs' empty
index arrays too, so that dense and sparse fits still share one compiled
specialisation; int64 indices that fit are converted to it (rev-302).
"""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning

from fastbp import MLPClassifier, MLPRegressor
from fastbp.kernels.codes import OUT_LOGISTIC
from fastbp.training.backend import get_backend
from fastbp.training.compile import training_kernel
from fastbp.training.data import EMPTY_INDEX, KernelInput


def _csr(n_samples, n_features, density, dtype, seed=0):
    X = sp.random(n_samples, n_features, density=density, format="csr", dtype=dtype,
                  random_state=seed)
    assert X.indices.dtype == X.indptr.dtype == np.int32  # scipy's choice
    return X


def _with_int64_indices(X):
    Y = X.copy()
    Y.indices = Y.indices.astype(np.int64)
    Y.indptr = Y.indptr.astype(np.int64)
    return Y


def _coefs(est):
    return np.concatenate([a.ravel() for a in est.coefs_ + est.intercepts_])


def _fit(est, *args, method="fit"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return getattr(est, method)(*args)


def test_int32_csr_is_read_in_place_with_the_dense_index_dtype():
    X = _csr(60, 9, 0.3, np.float32)
    inp = KernelInput(X)
    assert inp.is_sparse
    assert np.shares_memory(inp.indices, X.indices)
    assert np.shares_memory(inp.indptr, X.indptr)
    assert np.shares_memory(inp.data, X.data)
    dense = KernelInput(X.toarray())
    assert dense.indices.dtype == dense.indptr.dtype == EMPTY_INDEX.dtype
    assert inp.indices.dtype == inp.indptr.dtype == EMPTY_INDEX.dtype


def test_int64_indices_that_fit_are_converted_to_the_one_index_dtype():
    # As load_svmlight_file gives them: read as they were, they compiled
    # kernels of their own that no warm-up had compiled (rev-302).
    X = _with_int64_indices(_csr(60, 9, 0.3, np.float64))
    inp = KernelInput(X)
    assert inp.indices.dtype == inp.indptr.dtype == EMPTY_INDEX.dtype
    np.testing.assert_array_equal(inp.indices, X.indices)
    np.testing.assert_array_equal(inp.indptr, X.indptr)


def test_index_dtype_is_int64_only_past_int32():
    from fastbp.training.data import index_dtype

    big = 2**31 - 1
    assert index_dtype(10, (5, 7)) == EMPTY_INDEX.dtype
    assert index_dtype(big - 1, (big - 1, big - 1)) == EMPTY_INDEX.dtype
    assert index_dtype(big, (5, 7)) == np.int64
    assert index_dtype(10, (5, big)) == np.int64
    assert index_dtype(10, (big, 7)) == np.int64


@pytest.mark.parametrize("wide", [False, True])
def test_take_gathers_rows_in_the_index_dtype(wide):
    X = _csr(80, 11, 0.3, np.float64)
    if wide:
        X = _with_int64_indices(X)
    inp = KernelInput(X)
    rows = np.array([7, 3, 3, 79, 0], dtype=np.int64)
    got = inp.take(rows)
    assert got.indices.dtype == got.indptr.dtype == EMPTY_INDEX.dtype
    taken = sp.csr_matrix((got.data, got.indices, got.indptr), shape=(len(rows), 11))
    np.testing.assert_array_equal(taken.toarray(), X[rows].toarray())


def test_rows_of_a_csr_block_keeps_the_index_dtype():
    X = _csr(80, 11, 0.3, np.float32)
    got = KernelInput.rows_of(X, 10, 30, np.float32)
    assert got.indices.dtype == got.indptr.dtype == EMPTY_INDEX.dtype
    assert np.shares_memory(got.indices, X.indices)
    block = sp.csr_matrix((got.data, got.indices, got.indptr), shape=(20, 11))
    np.testing.assert_array_equal(block.toarray(), X[10:30].toarray())


def test_fit_of_int32_csr_allocates_less_than_its_indices():
    # 20,000 x 200 at 5%: 200,000 stored values, 800 kB of int32 indices;
    # their int64 copy alone was 1.6 MB.
    X = _csr(20_000, 200, 0.05, np.float32, seed=1)
    y = np.asarray(X.sum(axis=1)).ravel().astype(np.float32)
    kw = dict(hidden_layer_sizes=(8,), max_iter=1, batch_size=500, random_state=0)
    _fit(MLPRegressor(**kw), X[:1000], y[:1000])  # compiles outside the trace
    tracemalloc.start()
    try:
        _fit(MLPRegressor(**kw), X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.indices.nbytes, (peak, X.indices.nbytes)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_sparse_fit_matches_dense_and_int64_index_fits(solver):
    X = _csr(120, 10, 0.4, np.float64, seed=2)
    y = np.arange(120) % 3
    kw = dict(hidden_layer_sizes=(6,), solver=solver, max_iter=5, random_state=0)
    dense = _fit(MLPClassifier(**kw), X.toarray(), y)
    sparse = _fit(MLPClassifier(**kw), X, y)
    wide = _fit(MLPClassifier(**kw), _with_int64_indices(X), y)
    assert_allclose(_coefs(sparse), _coefs(dense), rtol=0, atol=1e-12)
    assert_allclose(_coefs(wide), _coefs(sparse), rtol=0, atol=0)
    assert_allclose(sparse.predict_proba(X), dense.predict_proba(X.toarray()),
                    rtol=0, atol=1e-12)
    assert_allclose(sparse.predict_proba(_with_int64_indices(X)), sparse.predict_proba(X),
                    rtol=0, atol=0)


def test_sparse_early_stopping_matches_dense():
    # The validation rows are gathered by KernelInput.take.
    X = _csr(200, 10, 0.4, np.float64, seed=3)
    y = np.arange(200) % 2
    kw = dict(hidden_layer_sizes=(6,), max_iter=6, early_stopping=True,
              validation_fraction=0.2, n_iter_no_change=100, random_state=0)
    dense = _fit(MLPClassifier(**kw), X.toarray(), y)
    sparse = _fit(MLPClassifier(**kw), X, y)
    wide = _fit(MLPClassifier(**kw), _with_int64_indices(X), y)
    assert len(sparse.validation_scores_) == 6
    assert_allclose(sparse.validation_scores_, dense.validation_scores_, rtol=0, atol=1e-12)
    assert_allclose(_coefs(sparse), _coefs(dense), rtol=0, atol=1e-12)
    assert_allclose(_coefs(wide), _coefs(sparse), rtol=0, atol=0)


def test_sparse_partial_fit_matches_dense():
    X = _csr(150, 10, 0.4, np.float64, seed=4)
    y = np.asarray(X.sum(axis=1)).ravel()
    dense = MLPRegressor(hidden_layer_sizes=(6,), random_state=0)
    sparse = MLPRegressor(hidden_layer_sizes=(6,), random_state=0)
    for start in (0, 50, 100):
        rows = slice(start, start + 50)
        dense.partial_fit(X[rows].toarray(), y[rows])
        sparse.partial_fit(X[rows], y[rows])
    assert_allclose(_coefs(sparse), _coefs(dense), rtol=0, atol=1e-12)
    assert_allclose(sparse.predict(X), dense.predict(X.toarray()), rtol=0, atol=1e-12)


def test_dense_and_sparse_fits_share_one_specialisation():
    # rmsprop runs the full kernels for dense X too: one dispatcher, whose
    # signatures tell whether the sparse fit compiled one of its own.
    X = _csr(90, 8, 0.4, np.float64, seed=5)
    y = np.arange(90) % 2
    kw = dict(hidden_layer_sizes=(5,), solver="rmsprop", max_iter=2, random_state=0)
    _fit(MLPClassifier(**kw), X.toarray(), y)
    kernel = training_kernel(get_backend("cpu"), "rmsprop", OUT_LOGISTIC, True)
    after_dense = len(kernel.signatures)
    assert after_dense >= 1
    _fit(MLPClassifier(**kw), X, y)
    assert len(kernel.signatures) == after_dense


_WARM_THEN_INT64 = """
import json, warnings
import numpy as np, scipy.sparse as sp
import fastbp
from fastbp._cache import counts
warnings.simplefilter("ignore")
fastbp.warmup(fastbp.MLPRegressor(solver="lbfgs"), dtypes="float64", sparse=True)
X = sp.random(80, 6, density=0.4, format="csr", random_state=0)
X.indices = X.indices.astype(np.int64)  # as load_svmlight_file gives them
X.indptr = X.indptr.astype(np.int64)
before = counts.thread_counts()
model = fastbp.MLPRegressor(solver="lbfgs", max_iter=3).fit(X, np.arange(80.0) % 3)
model.predict(X)
print(json.dumps([b - a for a, b in zip(before, counts.thread_counts())]))
"""


def test_a_warm_up_covers_a_fit_of_int64_indices(tmp_path):
    # rev-302: int64 indices read as they were ran kernels of their own,
    # which fastbp.warmup(sparse=True) had not compiled (7 compiled after
    # it), without a compile notice. Fresh interpreter, empty cache.
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", _WARM_THEN_INT64], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    compiled = json.loads(proc.stdout.splitlines()[-1])[0]
    assert compiled == 0, proc.stdout


_DENSE_FIT_AND_PREDICT = """
import warnings
import numpy as np
import fastbp
warnings.simplefilter("ignore")
rng = np.random.RandomState(0)
X = rng.standard_normal((200, 20))
fastbp.MLPClassifier((16,), max_iter=1, random_state=0).fit(X, rng.randint(0, 3, 200)).predict(X)
"""


def test_a_dense_fit_and_its_predictions_compile_each_function_once(tmp_path):
    # The int32 empty index arrays stood in for prediction's row numbers,
    # where training passes int64 batch rows: forward_hidden and linear
    # compiled twice, +3 % on a cold first fit (bench/ab/compile_bench.py).
    # Fresh interpreter, empty cache: one cached specialisation a function.
    import collections
    import os
    import re
    import subprocess
    import sys

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", _DENSE_FIT_AND_PREDICT], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    # Data files are "<function>-<line>.py311.<n>.nbc", one per specialisation.
    counts = collections.Counter(
        re.sub(r"\.\d+\.nbc$", "", name) for _, _, files in os.walk(tmp_path)
        for name in files if name.endswith(".nbc"))
    twice = sorted(name for name, count in counts.items()
                   if count > 1 and name.startswith(("network.forward_hidden",
                                                     "network.linear", "network.backward")))
    assert counts and not twice, twice
