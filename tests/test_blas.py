"""The CPU kernels' matrix products (fastbp.kernels.blas): NumPy's own CBLAS
called from compiled code, and Numba's np.dot where that is missing."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastbp._cache.key import _key_extras
from fastbp.kernels import blas

try:  # tests/ may or may not become a package
    from .support import python_kernels
except ImportError:
    from support import python_kernels

kblas = python_kernels(blas)

DTYPES = [np.float32, np.float64]
# (m, k, n): single rows and columns, a 1-wide inner dimension, and a
# mini-batch product.
SHAPES = [(1, 1, 1), (1, 7, 3), (5, 1, 4), (6, 9, 1), (32, 20, 64), (33, 70, 10)]


def _uses_numpy_openblas():
    deps = np.show_config(mode="dicts")["Build Dependencies"]
    return deps["blas"]["name"] == "scipy-openblas"


def test_numpy_wheels_blas_is_used():
    # CI installs NumPy's wheels, whose OpenBLAS exports the ILP64 CBLAS.
    if not _uses_numpy_openblas():
        assert blas.BACKEND == "scipy"
        return
    if os.environ.get("FASTBP_BLAS", "").lower() == "scipy":
        assert blas.BACKEND == "scipy"
        return
    assert blas.BACKEND.startswith("numpy:scipy_cblas_sgemm64_"), blas.BACKEND
    assert blas.NUMPY_BLAS


def test_backend_is_part_of_every_cache_key():
    assert _key_extras["blas"] == blas.BACKEND
    dispatcher = blas.matmul
    key = dispatcher._cache._index_key((), dispatcher.targetctx.codegen())
    assert key[-1] == tuple(sorted(_key_extras.items()))
    assert ("blas", blas.BACKEND) in key[-1]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_products_against_numpy(shape, dtype):
    m, k, n = shape
    rng = np.random.default_rng([m, k, n, np.dtype(dtype).itemsize])
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    d = rng.standard_normal((m, n)).astype(dtype)
    out = np.full((m, n), np.nan, dtype)
    kblas.matmul(a, b, out)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(out, ref, **tol)
    if blas.NUMPY_BLAS and m > 1 and n > 1:
        # The very gemm that NumPy's matmul calls (which takes gemv for a
        # single row or column), with the same arguments.
        np.testing.assert_array_equal(out, a @ b)
    grad = np.full((k, n), np.nan, dtype)
    kblas.matmul_tn(a, d, grad)
    np.testing.assert_allclose(grad, a.astype(np.float64).T @ d, **tol)
    back = np.full((m, k), np.nan, dtype)
    kblas.matmul_nt(d, b, back)
    np.testing.assert_allclose(back, d.astype(np.float64) @ b.T, **tol)
    assert out.dtype == grad.dtype == back.dtype == dtype


def test_products_on_views_of_a_flat_buffer():
    # The kernels' operands are C-ordered views into flat work buffers.
    rng = np.random.default_rng(1)
    buf = rng.standard_normal(200).astype(np.float32)
    a = buf[3:3 + 12].reshape(4, 3)
    b = buf[50:50 + 15].reshape(3, 5)
    out_buf = np.zeros(40, np.float32)
    out = out_buf[7:7 + 20].reshape(4, 5)
    kblas.matmul(a, b, out)
    np.testing.assert_allclose(out, a @ b, rtol=1e-6, atol=1e-6)
    assert np.all(out_buf[:7] == 0) and np.all(out_buf[27:] == 0)


_FALLBACK = textwrap.dedent("""
    import numpy as np
    from fastbp import MLPClassifier
    from fastbp.kernels import blas
    assert blas.BACKEND == "scipy" and not blas.NUMPY_BLAS, blas.BACKEND
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5))
    y = np.arange(60) % 3
    clf = MLPClassifier((7,), max_iter=5, random_state=0).fit(X, y)
    np.save({path!r}, np.concatenate([c.ravel() for c in clf.coefs_]))
""")


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")
def test_scipy_fallback_trains_the_same_model(tmp_path):
    # FASTBP_BLAS=scipy (and a NumPy without ILP64 CBLAS) takes Numba's
    # np.dot; its own cache entries keep the two apart.
    from fastbp import MLPClassifier

    path = str(tmp_path / "coefs.npy")
    env = dict(os.environ, FASTBP_BLAS="scipy", NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    res = subprocess.run([sys.executable, "-c", _FALLBACK.format(path=path)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5))
    y = np.arange(60) % 3
    clf = MLPClassifier((7,), max_iter=5, random_state=0).fit(X, y)
    here = np.concatenate([c.ravel() for c in clf.coefs_])
    # Two OpenBLAS builds may round a product differently in the last bit.
    np.testing.assert_allclose(here, np.load(path), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name, a_shape, b_shape, out_shape", [
    ("matmul", (3, 4), (5, 2), (3, 2)),      # inner dimensions differ
    ("matmul", (3, 4), (4, 2), (3, 3)),      # out too wide
    ("matmul_tn", (4, 3), (5, 2), (3, 2)),
    ("matmul_tn", (4, 3), (4, 2), (2, 2)),
    ("matmul_nt", (3, 4), (2, 5), (3, 2)),
    ("matmul_nt", (3, 4), (2, 4), (4, 2)),
])
def test_mismatched_shapes_give_nan_never_out_of_bounds(name, a_shape, b_shape, out_shape):
    # The kernels' shapes come from the layout tables; a mismatch is a bug,
    # which must surface (as NaN, then divergence) without touching memory
    # beyond the operands.
    buf = np.zeros(100, np.float64)
    out = buf[10:10 + out_shape[0] * out_shape[1]].reshape(out_shape)
    getattr(kblas, name)(np.ones(a_shape), np.ones(b_shape), out)
    assert np.isnan(out).any()
    assert not np.isnan(buf[:10]).any() and not np.isnan(buf[10 + out.size:]).any()


_BACKEND_AND_WARNINGS = """
import json, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from fastbp import _cblas
print(json.dumps([_cblas.BACKEND, [[w.category.__name__, str(w.message), w.filename]
                                   for w in caught if "FASTBP_BLAS" in str(w.message)]]))
"""


def test_an_unknown_fastbp_blas_warns_and_takes_the_default():
    # helper-136: FASTBP_BLAS=bogus took NumPy's BLAS without a word, where
    # FASTBP_SPLIT and FASTBP_COMPILE_AHEAD warn on a value they do not know
    # (helper-123's review).
    import json

    def run(value):
        env = dict(os.environ, FASTBP_BLAS=value)
        proc = subprocess.run([sys.executable, "-c", _BACKEND_AND_WARNINGS], env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.splitlines()[-1])

    default, quiet = run("numpy")
    assert quiet == []
    backend, ((category, message, filename),) = run("bogus")
    assert backend == default
    assert category == "RuntimeWarning"
    assert message.startswith("FASTBP_BLAS='bogus' is not one of numpy, scipy: taken as numpy")
    assert filename == "<string>"  # the line that imported fastbp, not fastbp's own
