"""``python -m bench.small_products`` runs, and its loops compute the products
(structure and correctness only, never a time)."""

import numpy as np
import pytest

from bench import small_products as sp


def test_loops_compute_the_same_products():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((7, 5)).astype(np.float32)
    b = rng.standard_normal((5, 3)).astype(np.float32)
    c = rng.standard_normal((7, 3)).astype(np.float32)
    out = np.empty((7, 3), np.float32)
    sp.loop_nn(a, b, out, 1)
    np.testing.assert_allclose(out, a @ b, rtol=1e-5)
    sp.loop_dot(a, np.ascontiguousarray(b.T), out, 1)
    np.testing.assert_allclose(out, a @ b, rtol=1e-5)
    tn = np.empty((5, 3), np.float32)
    sp.loop_tn(a, c, tn, 1)
    np.testing.assert_allclose(tn, a.T @ c, rtol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_main_prints_every_product(capsys, dtype):
    assert sp.main(["--reps", "2", "--dtype", dtype]) == 0
    out = capsys.readouterr().out
    assert dtype in out.splitlines()[0]
    for name in ("X @ W1", "H @ W2", "H.T @ D", "D @ W2.T", "X.T @ G"):
        assert out.count(name) == 2
    assert out.count("us per step") == 2


def test_fastbp_products_match_numba_dot():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((6, 4)).astype(np.float32)
    b = rng.standard_normal((4, 5)).astype(np.float32)
    d = rng.standard_normal((6, 5)).astype(np.float32)
    out, ref = np.empty((6, 5), np.float32), np.empty((6, 5), np.float32)
    sp.numpy_nn(a, b, out, 1)
    sp.blas_nn(a, b, ref, 1)
    np.testing.assert_allclose(out, ref, rtol=1e-5)
    tn, tn_ref = np.empty((4, 5), np.float32), np.empty((4, 5), np.float32)
    sp.numpy_tn(a, d, tn, 1)
    sp.blas_tn(a, d, tn_ref, 1)
    np.testing.assert_allclose(tn, tn_ref, rtol=1e-5)
    nt, nt_ref = np.empty((6, 4), np.float32), np.empty((6, 4), np.float32)
    sp.numpy_nt(d, b, nt, 1)
    sp.blas_nt(d, b, nt_ref, 1)
    np.testing.assert_allclose(nt, nt_ref, rtol=1e-5)
