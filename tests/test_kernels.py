"""Every Numba kernel of fastbp against the plain NumPy references in naive.py.

Both float32 and float64 are tested. References are computed in float64 from
the (possibly float32) inputs, so the float32 tolerances only absorb the
kernel's own float32 rounding; any real bug gives errors of order one.
"""

import inspect
import math
import os
import platform
import subprocess
import sys
import textwrap
from functools import partial
from types import SimpleNamespace

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from numba.core import types as nbtypes
from scipy.special import xlogy

from fastbp import _config as config
from fastbp._config import FASTMATH, python_twin
from fastbp.kernels import activations, codes, dropout, elementary, losses, network, normalization
from fastbp.kernels import blas, lean, optimizers, sparse, views
from fastbp.kernels.records import Solver, Targets
from fastbp.training.backend import get_backend
from fastbp.training.data import KernelInput
from fastbp.training.layout import NetworkLayout
from fastbp.training.lbfgs import loss_and_gradient_function
from fastbp.training.spec import NetworkSpec, clipping_bounds
from fastbp.training.split import SplitEpoch
from fastbp.training.workspace import Workspace

try:  # tests/ may or may not become a package
    from . import naive
    from .support import python_kernels
except ImportError:
    import naive
    from support import python_kernels

# Inner kernels are called here from Python, through twins that can be.
kact, kdrop, kloss, knet = map(python_kernels, (activations, dropout, losses, network))
knorm, kopt, ksparse = map(python_kernels, (normalization, optimizers, sparse))

DTYPES = [np.float32, np.float64]
HIDDEN = list(naive.HIDDEN)
OUTPUTS = list(naive.OUTPUTS)
SHAPES = [(1, 1), (1, 5), (6, 1), (7, 13)]

# Element-wise kernels: a few ulps.
ELEM_TOL = {np.float32: dict(rtol=2e-6, atol=2e-7), np.float64: dict(rtol=1e-13, atol=1e-14)}
# Whole-network results (BLAS sums, several layers, several steps).
NET_TOL = {np.float32: dict(rtol=2e-4, atol=5e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


def call_by_name(kernel, **values):
    """Call ``kernel`` with arguments looked up by parameter name, so that the
    tests follow reorderings of long kernel signatures; an argument the test
    does not know fails loudly."""
    names = list(inspect.signature(kernel.py_func).parameters)
    missing = [n for n in names if n not in values]
    if missing:
        raise TypeError(f"{kernel.__name__}: the test does not supply {missing}")
    return kernel(*[values[n] for n in names])


def dtid(dtype):
    return np.dtype(dtype).name


def rng_for(*key):
    """A generator seeded from the test's parameters (deterministic)."""
    return np.random.default_rng([ord(c) for c in "|".join(map(str, key))])


def f64(a):
    """A float64 copy (never a view: kernels overwrite their inputs)."""
    return np.array(a, dtype=np.float64)


def assert_close(got, ref, dtype, tol=ELEM_TOL, scale=None):
    """``allclose`` with the dtype's tolerance; ``atol`` scales with ``max|ref|``."""
    t = tol[np.dtype(dtype).type]
    ref = f64(ref)
    if scale is None:
        finite = np.abs(ref[np.isfinite(ref)])
        scale = max(1.0, float(finite.max(initial=0.0)))
    np.testing.assert_allclose(f64(got), ref, rtol=t["rtol"], atol=t["atol"] * scale)


def eps_of(dtype):
    return float(np.finfo(dtype).eps)


def make_X(n, f, dtype, rng, sparse=False, density=0.5):
    X = rng.standard_normal((n, f))
    if sparse:
        X[rng.uniform(size=(n, f)) > density] = 0
        X[::3] = 0  # empty rows, row 0 included
        return sp.csr_matrix(X.astype(dtype))
    return X.astype(dtype)


def make_Y(out, n, n_out, dtype, rng):
    if out == "identity":
        Y = rng.standard_normal((n, n_out))
    elif out == "softmax":
        Y = np.eye(n_out)[rng.integers(0, n_out, n)]
    elif out == "logistic":
        Y = rng.integers(0, 2, (n, n_out)).astype(float)
    else:
        Y = rng.poisson(1.5, (n, n_out)).astype(float)
    return Y.astype(dtype)


def make_sw(n, dtype, rng):
    sw = rng.uniform(0.2, 3.0, n)
    sw[1::4] = 0.0  # zero weights, never a whole pair of neighbours
    return sw.astype(dtype)


# ---------------------------------------------------------------------------
# Scalar activations
# ---------------------------------------------------------------------------

Z_GRID = np.array([0.0, -0.0, 1e-30, -1e-30, 1e-8, -1e-8, 0.3, -0.7, 1.0, -1.0, 2.5,
                   -4.0, 17.0, -17.0, 50.0, -50.0, 88.0, -88.0, 800.0, -800.0])


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("name", HIDDEN)
def test_activate_scalar(name, dtype):
    code = codes.HIDDEN_ACTIVATIONS[name]
    z = Z_GRID.astype(dtype)
    got = np.array([kact.activate(zi, code) for zi in z])
    ref = naive.activate(f64(z), name)
    assert np.all(np.isfinite(got))
    assert_close(got, ref, dtype, scale=1.0)
    if name in ("relu", "identity", "leaky_relu"):
        # Piecewise linear: exact (up to the float32 rounding of 0.01 z).
        assert_close(got, ref, dtype, scale=0)


def test_activation_codes_cover_reference():
    assert set(codes.HIDDEN_ACTIVATIONS) == set(HIDDEN)
    assert set(codes.OUTPUT_FUNCTIONS) == set(OUTPUTS)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("name", HIDDEN)
def test_derivative_scalar(name, dtype):
    code = codes.HIDDEN_ACTIVATIONS[name]
    z = Z_GRID.astype(dtype)
    a = naive.activate(f64(z), name).astype(dtype)
    got = np.array([kact.derivative(zi, ai, code) for zi, ai in zip(z, a)])
    ref = naive.derivative(f64(z), name)
    assert np.all(np.isfinite(got))
    # elu/selu/softplus are differentiated through a = f(z): a + 1 cancels
    # for very negative z, so only an absolute tolerance of one ulp of 1.
    tol = dict(ELEM_TOL)
    tol = {k: dict(rtol=v["rtol"] * 4, atol=v["atol"] * 4 if name not in
                   ("elu", "selu", "softplus") else eps_of(k) * 2)
           for k, v in tol.items()}
    assert_close(got, ref, dtype, tol=tol, scale=1.0)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("name", naive.SKLEARN_HIDDEN)
def test_derivative_from_output_as_sklearn(name, dtype):
    """scikit-learn's four activations are differentiated from ``a`` alone:
    ``z`` may hold anything (the forward pass overwrites it)."""
    code = codes.HIDDEN_ACTIVATIONS[name]
    assert code not in codes.NEEDS_PREACTIVATION
    a = naive.activate(f64(Z_GRID), name).astype(dtype)
    garbage = dtype(np.nan)
    got = np.array([kact.derivative(garbage, ai, code) for ai in a])
    ref = naive.derivative_from_output(f64(a), name)
    assert_close(got, ref, dtype, scale=1.0)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
def test_relu_at_exactly_zero(dtype):
    relu = codes.RELU
    zero = dtype(0.0)
    assert kact.activate(zero, relu) == 0.0
    assert kact.derivative(zero, zero, relu) == 0.0  # scikit-learn: delta[Z == 0] = 0
    assert kact.derivative(dtype(1e-30), dtype(1e-30), relu) == 1.0
    assert kact.activate(dtype(-1e-30), relu) == 0.0
    assert kact.derivative(zero, zero, codes.LEAKY_RELU) == pytest.approx(naive.LEAKY_SLOPE)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
def test_sigmoid_and_softplus_helpers(dtype):
    x = Z_GRID.astype(dtype)
    got = np.array([kact.softplus(xi) for xi in x])
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, np.logaddexp(0.0, f64(x)),
                               rtol=4 * ELEM_TOL[dtype]["rtol"], atol=1e-300)
    got = np.array([kact.sigmoid(xi) for xi in x])
    assert_close(got, naive.activate(f64(x), "logistic"), dtype, scale=1.0)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
def test_infinite_hidden_values_match_sklearn(dtype):
    """Overflowed pre-activations: scikit-learn's relu(-inf) = 0 (np.maximum),
    relu'(a = inf) = 1 (the delta is zeroed only where a == 0)."""
    inf = dtype(np.inf)
    assert kact.activate(-inf, codes.RELU) == 0.0
    assert kact.activate(inf, codes.RELU) == np.inf
    assert kact.activate(-inf, codes.LOGISTIC) == 0.0
    assert kact.activate(inf, codes.LOGISTIC) == 1.0
    assert kact.activate(inf, codes.TANH) == 1.0
    assert kact.derivative(inf, inf, codes.RELU) == 1.0
    assert kact.derivative(-inf, dtype(0), codes.RELU) == 0.0


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("pos", [0, 1])
def test_softmax_with_minus_inf_logit(pos, dtype):
    """A logit of -inf (overflowed pre-activation) has probability 0; the
    others are finite, as scikit-learn's ``inplace_softmax`` gives them."""
    logits = [1.0, 0.0, 2.0]
    logits[pos] = -np.inf
    ref = naive.softmax(f64([logits]))
    z = np.array([logits], dtype=dtype)
    kloss.output_activation(z, np.zeros(3, dtype), codes.OUT_SOFTMAX)
    assert_close(z, ref, dtype)
    # Training path: loss and delta finite (the -inf class is not the target).
    y = np.array([[0.0, 0.0, 1.0]], dtype=dtype)
    z = np.array([logits], dtype=dtype)
    total, delta = _call_output_loss_delta(z, np.zeros(3, dtype), y,
                                           np.ones(1, dtype), "softmax")
    ref_loss = naive.log_loss(f64(y), ref, eps=eps_of(dtype))
    np.testing.assert_allclose(total, ref_loss, rtol=1e-6)
    assert_close(delta, ref - f64(y), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("weighted", [False, True], ids=["nosw", "sw"])
def test_logistic_output_at_infinite_logits(weighted, dtype):
    """Logits of +-inf: p = 1 / 0, scikit-learn's clipped loss and its delta
    ``p - y`` are finite, with or without sample weights."""
    z = np.array([[np.inf, -np.inf], [np.inf, 0.0]], dtype=dtype)
    y = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=dtype)
    p = naive.activate(f64(z), "logistic")
    sw = np.ones(2, dtype) if weighted else None
    ref = naive.binary_log_loss(f64(y), p, eps=eps_of(dtype))
    total, delta = _call_output_loss_delta(z, np.zeros(2, dtype), y, sw, "logistic")
    assert np.isfinite(total)
    np.testing.assert_allclose(total / 2, ref, rtol=1e-6)
    assert_close(delta, p - f64(y), dtype)


# ---------------------------------------------------------------------------
# Elementary functions (vectorisable exp)
# ---------------------------------------------------------------------------

@numba.njit(fastmath=FASTMATH)
def _exp_loop(x, out):
    # Called as the kernels call it: in a loop compiled with fastbp's flags.
    for i in range(x.shape[0]):
        out[i] = elementary.exp(x[i])


def _exp_inputs(dtype):
    rng = rng_for("exp", dtype)
    lo, hi = (-110.0, 95.0) if dtype == np.float32 else (-750.0, 715.0)
    # The whole range, the core [-1, 1], the softmax range, and the edges:
    # overflow and the last subnormals for each dtype.
    edges = [0.0, -0.0, 1e-30, -1e-30, 88.72, 88.73, -87.3, -103.2, -103.9, -104.5,
             709.78, 709.79, -708.3, -744.4, -745.2, -746.0]
    return np.concatenate([rng.uniform(lo, hi, 200_000), rng.uniform(-1, 1, 100_000),
                           rng.uniform(-30, 0, 100_000), edges]).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
def test_exp_within_two_ulp_of_the_exact_value(dtype):
    x = _exp_inputs(dtype)
    out = np.empty_like(x)
    _exp_loop(x, out)
    # Reference: libm's expl in extended precision, rounded once to the dtype.
    exact = np.exp(x.astype(np.longdouble))
    with np.errstate(over="ignore"):
        ref = exact.astype(dtype)
    assert np.array_equal(np.isinf(out), np.isinf(ref))
    assert np.array_equal(out == 0, ref == 0)
    finite = np.isfinite(ref) & (ref != 0)
    ulp = np.spacing(np.abs(ref[finite]).astype(dtype)).astype(np.longdouble)
    err = np.abs(out[finite].astype(np.longdouble) - exact[finite]) / ulp
    assert err.max() <= 2.0, (dtype, float(err.max()), x[finite][np.argmax(err)])


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
def test_exp_special_values(dtype):
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1.0], dtype=dtype)
    out = np.empty_like(x)
    _exp_loop(x, out)
    assert out[0] == np.inf and out[1] == 0 and np.isnan(out[2])
    assert out[3] == 1 and out[4] == 1
    assert abs(out[5] - np.e) <= np.spacing(dtype(np.e))
    # The Python twin is libm's.
    assert elementary.exp(1.0) == math.exp(1.0)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
def test_pow2_builds_exact_powers_of_two(dtype):
    info = np.finfo(dtype)
    n = np.arange(info.minexp, info.maxexp, dtype=np.int64)

    @numba.njit
    def powers(n, ref):
        out = np.empty(n.shape[0], dtype=ref.dtype)
        for i in range(n.shape[0]):
            out[i] = elementary.pow2(n[i], ref[0])
        return out

    np.testing.assert_array_equal(powers(n, np.ones(1, dtype)), np.ldexp(dtype(1), n))


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("shape", [(1, 1), (7, 4), (33, 10)], ids=str)
def test_exp_block_separate_and_in_place(shape, dtype):
    rng = rng_for("exp_block", shape, dtype)
    z = (5 * rng.standard_normal(shape)).astype(dtype)
    ref = np.exp(f64(z))
    out = np.full_like(z, np.nan)
    kloss.exp_block(z, out)
    assert_close(out, ref, dtype)
    kloss.exp_block(z, z)
    np.testing.assert_array_equal(z, out)


# ---------------------------------------------------------------------------
# Array activation kernels
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", HIDDEN)
def test_bias_activation(name, shape, dtype):
    rng = rng_for("bias_act", name, shape, dtype)
    h = (3 * rng.standard_normal(shape)).astype(dtype)
    b = rng.standard_normal(shape[1]).astype(dtype)
    if shape == (7, 13):
        h[0, :] = -b  # exactly zero pre-activations (relu kink)
        h[1, :3] = [50, -50, 800]
        h[2, :3] = [-800, 1e-30, -1e-30]
    code = codes.HIDDEN_ACTIVATIONS[name]
    z_ref = (h + b)  # rounded in the dtype, as the kernel rounds it
    a_ref = naive.activate(f64(z_ref), name)
    # Separate outputs.
    z = np.full_like(h, np.nan)
    a = np.full_like(h, np.nan)
    h_in = h.copy()
    kact.bias_activation(h, b, code, z, a)
    np.testing.assert_array_equal(h, h_in)
    np.testing.assert_array_equal(z, z_ref)
    assert np.all(np.isfinite(a))
    assert_close(a, a_ref, dtype, scale=1.0)
    # In place (h, z and a one array), the default path.
    kact.bias_activation(h, b, code, h, h)
    assert_close(h, a_ref, dtype, scale=1.0)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", HIDDEN)
def test_activation_backward(name, shape, masked, dtype):
    rng = rng_for("act_back", name, shape, masked, dtype)
    z = (2 * rng.standard_normal(shape)).astype(dtype)
    if name in ("relu", "leaky_relu") and z.size > 2:
        z.flat[:2] = 0.0
    a = naive.activate(f64(z), name).astype(dtype)
    delta = rng.standard_normal(shape).astype(dtype)
    mask = (rng.uniform(size=shape) > 0.3) / dtype(0.7) if masked else np.zeros(shape)
    mask = mask.astype(dtype)
    code = codes.HIDDEN_ACTIVATIONS[name]
    d_eff = f64(delta) * (f64(mask) if masked else 1.0)
    ref = d_eff * naive.derivative(f64(z), name)
    out = np.full_like(delta, np.nan)
    kact.activation_backward(delta, mask, masked, z, a, code, out)
    assert out.dtype == dtype
    tol = {k: dict(rtol=v["rtol"] * 4, atol=eps_of(k) * 4) for k, v in ELEM_TOL.items()}
    assert_close(out, ref, dtype, tol=tol)
    if name == "relu":
        assert np.all(out[a == 0] == 0)
    # ``out`` may alias ``z`` (how the backward pass calls it).
    zz = z.copy()
    kact.activation_backward(delta, mask, masked, zz, a if code not in
                             codes.NEEDS_PREACTIVATION else a.copy(), code, zz)
    np.testing.assert_array_equal(zz, out)


@pytest.mark.parametrize("kernels", ["full", "lean"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", [h for h in HIDDEN
                                  if codes.HIDDEN_ACTIVATIONS[h] not in codes.NEEDS_PREACTIVATION])
def test_activation_backward_in_place(name, shape, dtype, kernels):
    """The backward pass's call on the default path, where the workspace
    lays a hidden layer's pre-activation, activation and gradient on one
    array (the activation is differentiated from its output) and, without
    dropout, passes that array as the unread mask: ``out``, ``z``, ``a`` and
    ``mask`` are the same array, overwritten with the gradient."""
    # helper-115: no test passed them as one array, which is the only way
    # into relu's in-place loop (_relu_backward_in_place): that loop scaled
    # by 1.5 passed every case of test_activation_backward.
    backward = (kact.activation_backward if kernels == "full"
                else python_twin(lean.activation_backward))
    rng = rng_for("act_back_in_place", name, shape, dtype)
    z = (2 * rng.standard_normal(shape)).astype(dtype)
    if name in ("relu", "leaky_relu") and z.size > 2:
        z.flat[:2] = 0.0
    x = naive.activate(f64(z), name).astype(dtype)
    delta = rng.standard_normal(shape).astype(dtype)
    ref = f64(delta) * naive.derivative(f64(z), name)
    code = codes.HIDDEN_ACTIVATIONS[name]
    backward(delta, x, False, x, x, code, x)
    assert x.dtype == dtype
    tol = {k: dict(rtol=v["rtol"] * 4, atol=eps_of(k) * 4) for k, v in ELEM_TOL.items()}
    assert_close(x, ref, dtype, tol=tol)


@pytest.mark.parametrize("n", [1, 3, 4, 6, 9])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
def test_track_alive(dtype, n):
    # Rows go four at a time, then one by one: row counts whose leftovers
    # are 0 to 3, with planted maxima at each position of a block and in
    # the leftover rows; a NaN never replaces what was seen before it.
    rng = rng_for("alive", dtype)
    a = np.maximum(rng.standard_normal((n, 5)), 0).astype(dtype)
    a[:, 2] = 0
    for j in (0, 4):
        a[(j + n // 2) % n, j] = 20
    a[-1, 1] = np.nan
    alive = np.array([0, 0.5, 0, 10, 0], dtype=dtype)
    ref = np.fmax(f64(alive), np.fmax.reduce(f64(a), axis=0))  # NaN-ignoring max
    kact.track_alive(a, alive)
    np.testing.assert_array_equal(alive, ref.astype(dtype))
    assert alive[2] == 0


@pytest.mark.parametrize("n_columns", [1, 2, 7, 20, 33])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
def test_gather_rows_prefetches_the_upcoming_rows_and_changes_nothing(dtype, n_columns):
    # The prefetch is a hint to the cache: the machine code holds prefetch
    # instructions, the gather is exact, and nothing else changes (upcoming
    # rows first, last, repeated, one, none).
    src = rng_for("prefetch", dtype).standard_normal((50, n_columns)).astype(dtype)
    before = src.copy()
    rows = np.array([3, 49, 0], dtype=np.int64)
    for upcoming in ([0, 49, 7, 7, 23], [49], []):
        dst = np.full((3, n_columns), np.nan, dtype)
        knet.gather_rows(src, rows, dst, np.array(upcoming, dtype=np.int64))
        np.testing.assert_array_equal(dst, src[rows])
    np.testing.assert_array_equal(src, before)
    asm = "\n".join(knet.gather_rows.inspect_asm().values())
    if platform.machine().lower() in ("x86_64", "amd64"):
        assert "prefetcht1" in asm  # locality 2: into L2


@pytest.mark.parametrize("n", [1, 3, 4, 7, 9, 32])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
def test_bias_gradient(dtype, n):
    rng = rng_for("bias gradient", dtype)
    g = rng.standard_normal((n, 13)).astype(dtype)
    gb = np.full(13, np.nan, dtype=dtype)  # overwritten, not accumulated into
    knet.bias_gradient(g, gb)
    # A sum's rounding, in whatever order the compiler adds: n roundings of
    # at most the sum of magnitudes each.
    bound = 2 * n * np.finfo(dtype).eps * np.abs(f64(g)).sum(axis=0)
    np.testing.assert_array_less(np.abs(f64(gb) - f64(g).sum(axis=0)), bound)


# ---------------------------------------------------------------------------
# Output functions and losses
# ---------------------------------------------------------------------------

OUT_SHAPES = [(1, 1), (1, 4), (6, 1), (7, 13)]


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("shape", OUT_SHAPES, ids=str)
@pytest.mark.parametrize("out", OUTPUTS)
def test_output_activation(out, shape, dtype):
    rng = rng_for("out_act", out, shape, dtype)
    z = (2 * rng.standard_normal(shape)).astype(dtype)
    b = rng.standard_normal(shape[1]).astype(dtype)
    ref = naive.output_activation(f64(z), f64(b), out)
    kloss.output_activation(z, b, codes.OUTPUT_FUNCTIONS[out])
    assert z.dtype == dtype
    tol = {k: dict(rtol=v["rtol"] * 8, atol=v["atol"]) for k, v in ELEM_TOL.items()}
    assert_close(z, ref, dtype, tol=tol)
    if out == "softmax":
        np.testing.assert_allclose(z.sum(axis=1), 1.0, rtol=10 * ELEM_TOL[dtype]["rtol"])


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("out", OUTPUTS)
def test_output_activation_extremes(out, dtype):
    z = np.array([[50.0, -50.0, 0.0],
                  [800.0, -800.0, 0.0],
                  [-800.0, -800.0, -800.0],
                  [800.0, 800.0, -800.0],
                  [0.0, 0.0, 0.0]], dtype=dtype)
    with np.errstate(over="ignore"):
        ref = naive.output_activation(f64(z), np.zeros(3), out)
    kloss.output_activation(z, np.zeros(3, dtype), codes.OUTPUT_FUNCTIONS[out])
    assert not np.any(np.isnan(z))
    if out == "exp":
        big = ref > np.finfo(dtype).max  # exp(800) overflows in both dtypes
        assert np.all(z[big] == np.inf)
        np.testing.assert_allclose(f64(z)[~big], ref[~big], rtol=8 * ELEM_TOL[dtype]["rtol"],
                                   atol=0)
    else:
        assert_close(z, ref, dtype, scale=1.0)


def _call_output_loss_delta(z, b, Y, sw, out):
    dtype = z.dtype
    code = codes.OUTPUT_FUNCTIONS[out]
    lo, hi = clipping_bounds(dtype, code)
    delta = np.full_like(z, np.nan)
    has_sw = sw is not None
    sw_arg = sw if has_sw else np.empty(0, dtype)
    total = kloss.output_loss_delta(z, b, Y, sw_arg, has_sw, code, lo, hi, delta)
    return total, delta


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("weighted", [False, True], ids=["nosw", "sw"])
@pytest.mark.parametrize("shape", OUT_SHAPES, ids=str)
@pytest.mark.parametrize("out", OUTPUTS)
def test_output_loss_delta(out, shape, weighted, dtype):
    n, m = shape
    if out == "softmax" and m == 1:
        m = 2  # softmax over one class is degenerate (scikit-learn uses logistic)
    rng = rng_for("old", out, shape, weighted, dtype)
    z = (1.5 * rng.standard_normal((n, m))).astype(dtype)
    Y = make_Y(out, n, m, dtype, rng)
    b = rng.standard_normal(m).astype(dtype)
    sw = None
    if weighted:
        sw = make_sw(n, dtype, rng)
        sw[0] = 0.0 if n > 1 else 1.7
    pred_ref = naive.output_activation(f64(z), f64(b), out)
    sw_ref = None if sw is None else f64(sw)
    loss_ref = naive.output_loss(f64(Y), pred_ref, out, sw_ref, eps=eps_of(dtype))
    delta_ref = pred_ref - f64(Y)
    if sw is not None:
        delta_ref *= f64(sw)[:, None]

    total, delta = _call_output_loss_delta(z, b, Y, sw, out)
    sw_sum = n if sw is None else f64(sw).sum()
    np.testing.assert_allclose(total / sw_sum, loss_ref, rtol=NET_TOL[dtype]["rtol"])
    assert_close(z, pred_ref, dtype, tol=NET_TOL)  # predictions written into z
    assert_close(delta, delta_ref, dtype, tol=NET_TOL)
    if sw is not None:
        assert np.all(delta[sw == 0] == 0)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("out", OUTPUTS)
def test_output_loss_delta_per_sample(out, dtype):
    """One non-zero weight at a time: each sample's own loss, times its weight."""
    rng = rng_for("old_rows", out, dtype)
    n, m = 5, 3
    z = (1.5 * rng.standard_normal((n, m))).astype(dtype)
    Y = make_Y(out, n, m, dtype, rng)
    b = np.zeros(m, dtype)
    pred_ref = naive.output_activation(f64(z), f64(b), out)
    per = naive.per_sample_loss(f64(Y), pred_ref, out, eps=eps_of(dtype))
    for i in range(n):
        sw = np.zeros(n, dtype)
        sw[i] = 2.0
        total, _ = _call_output_loss_delta(z.copy(), b, Y, sw, out)
        np.testing.assert_allclose(total, 2.0 * per[i], rtol=NET_TOL[dtype]["rtol"])


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("out", ["identity", "softmax", "logistic"])
def test_output_loss_delta_extremes(out, dtype):
    """Logits of +-50 and +-800: no NaN, clipped losses as scikit-learn's."""
    z = np.array([[50.0, -50.0, 0.0],
                  [800.0, -800.0, 0.0],
                  [-800.0, 800.0, 50.0],
                  [-50.0, -800.0, 800.0]], dtype=dtype)
    m = z.shape[1]
    if out == "identity":
        Y = np.array([[1, 2, 0], [0, -1, 1], [3, 0, 0], [1, 0, 2]], dtype=dtype)
    elif out == "softmax":
        Y = np.eye(m, dtype=dtype)[[0, 1, 2, 0]]  # includes confident mistakes
    else:
        Y = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 0], [1, 0, 1]], dtype=dtype)
    sw = np.array([1.0, 0.5, 0.0, 2.0], dtype=dtype)
    pred_ref = naive.output_activation(f64(z), np.zeros(m), out)
    total, delta = _call_output_loss_delta(z, np.zeros(m, dtype), Y, sw, out)
    assert not np.any(np.isnan(z))
    assert not np.any(np.isnan(delta))
    ref = naive.output_loss(f64(Y), pred_ref, out, f64(sw), eps=eps_of(dtype))
    assert np.isfinite(total)
    np.testing.assert_allclose(total / f64(sw).sum(), ref, rtol=NET_TOL[dtype]["rtol"])
    delta_ref = (pred_ref - f64(Y)) * f64(sw)[:, None]
    assert_close(delta, delta_ref, dtype, scale=1.0)
    assert_close(z, pred_ref, dtype, scale=1.0)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
def test_output_loss_delta_exp_extremes(dtype):
    """Poisson/exp at logits of +-50 and -800, then +800 (overflow).

    The reference is the half Poisson deviance written through the logit,
    ``xlogy(y, y) - y z + exp(z) - y``: scikit-learn's ``xlogy(y, y / p)``
    becomes ``inf`` (y > 0) or ``nan`` (y = 0) once ``exp(-800)`` underflows
    to 0, while the deviance itself is finite.
    """
    z = np.array([[50.0, -50.0, 0.0],
                  [-800.0, 0.0, 50.0],
                  [-800.0, -800.0, -50.0],
                  [0.0, 50.0, -800.0]], dtype=dtype)
    Y = np.array([[3, 0, 1], [2, 0, 0], [0, 4, 1], [1, 0, 2]], dtype=dtype)
    sw = np.array([1.0, 0.5, 0.0, 2.0], dtype=dtype)
    zin, y = f64(z), f64(Y)
    per = xlogy(y, y) - y * zin + np.exp(zin) - y
    total, delta = _call_output_loss_delta(z, np.zeros(3, dtype), Y, sw, "exp")
    assert not np.any(np.isnan(delta))
    np.testing.assert_allclose(total, (f64(sw)[:, None] * per).sum(),
                               rtol=NET_TOL[dtype]["rtol"])
    with np.errstate(over="ignore"):
        assert_close(delta, f64(sw)[:, None] * (np.exp(zin) - y), dtype, tol=NET_TOL)
    # Overflow: exp(800) = inf, so loss and delta are +inf, never NaN.
    z = np.array([[800.0, 0.0]], dtype=dtype)
    total, delta = _call_output_loss_delta(z, np.zeros(2, dtype),
                                           np.array([[1.0, 1.0]], dtype),
                                           np.array([1.0], dtype), "exp")
    assert total == np.inf
    assert delta[0, 0] == np.inf
    assert not np.any(np.isnan(delta))


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("weighted", [False, True], ids=["nosw", "sw"])
@pytest.mark.parametrize("out", OUTPUTS)
def test_loss_from_output(out, weighted, dtype):
    """Validation loss of finished predictions: scikit-learn's loss functions."""
    rng = rng_for("lfo", out, weighted, dtype)
    n, m = 9, (3 if out != "identity" else 2)
    z = 2 * rng.standard_normal((n, m))
    z[0, 0] = 60.0  # a clipped probability
    p = naive.output_activation(z, np.zeros(m), out).astype(dtype)
    Y = make_Y(out, n, m, dtype, rng)
    sw = make_sw(n, dtype, rng) if weighted else None
    ref = naive.output_loss(f64(Y), f64(p), out, None if sw is None else f64(sw),
                            eps=eps_of(dtype))
    got = kloss.loss_from_output(p, Y, sw if weighted else np.empty(0, dtype), weighted,
                                 codes.OUTPUT_FUNCTIONS[out], dtype(eps_of(dtype)))
    np.testing.assert_allclose(got, ref, rtol=NET_TOL[dtype]["rtol"])


@pytest.mark.parametrize("out", ["softmax", "logistic"])
def test_loss_from_output_takes_float32_logs_in_float64(out):
    """The validation loss of a float32 model sums float64 logs of its
    clipped probabilities (float32 logs would be some 1e-8 off)."""
    rng = rng_for("lfo64", out)
    n, m = 9, 3
    p = naive.output_activation(2 * rng.standard_normal((n, m)), np.zeros(m),
                                out).astype(np.float32)
    Y = make_Y(out, n, m, np.float32, rng)
    ref = naive.output_loss(f64(Y), f64(p), out, None, eps=eps_of(np.float32))
    got = kloss.loss_from_output(p, Y, np.empty(0, np.float32), False,
                                 codes.OUTPUT_FUNCTIONS[out], np.float32(eps_of(np.float32)))
    np.testing.assert_allclose(got, ref, rtol=1e-13)


def test_float32_poisson_loss_takes_its_log_of_a_quotient_in_float64():
    """helper-70: ``log(y / p)`` divided in float32 first, and a tiny
    prediction of a large count overflowed to inf where the loss is
    finite (about 9.1e11 here)."""
    p = np.array([[1e-30], [1.0]], np.float32)
    Y = np.array([[1e10], [2.0]], np.float32)
    ref = naive.output_loss(f64(Y), f64(p), "exp", None, eps=eps_of(np.float32))
    got = kloss.loss_from_output(p, Y, np.empty(0, np.float32), False,
                                 codes.OUTPUT_FUNCTIONS["exp"], np.float32(eps_of(np.float32)))
    assert np.isfinite(ref)
    np.testing.assert_allclose(got, ref, rtol=1e-6)


def test_clipping_bounds_are_logs_of_eps():
    for dtype in DTYPES:
        le, l1me = clipping_bounds(np.dtype(dtype), codes.OUT_SOFTMAX)
        eps = np.finfo(dtype).eps
        assert np.asarray(le).dtype == dtype and np.asarray(l1me).dtype == dtype
        np.testing.assert_allclose(float(le), np.log(float(eps)), rtol=1e-7)
        np.testing.assert_allclose(float(l1me), np.log1p(-float(eps)), rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
def test_logistic_clipping_bounds_are_eps_and_one_minus_eps(dtype):
    """The binary cross-entropy clips the probability itself, to scikit-learn's
    ``eps`` and ``1 - eps`` bit for bit, in the dtype."""
    lo, hi = clipping_bounds(np.dtype(dtype), codes.OUT_LOGISTIC)
    eps = np.finfo(dtype).eps
    assert np.asarray(lo).dtype == dtype and np.asarray(hi).dtype == dtype
    assert lo == eps and hi == dtype(1) - eps and hi != dtype(1)


# ---------------------------------------------------------------------------
# Optimizers
# ---------------------------------------------------------------------------

OPT_UNITS = (3, 4, 2)  # 20 weights, 6 biases, plus 5 extra (norm-like) params


def _opt_problem(dtype, seed="opt"):
    rng = rng_for(seed, dtype)
    lay = NetworkLayout(OPT_UNITS)
    n_params = lay.n_params + 5
    params = rng.standard_normal(n_params).astype(dtype)
    params[3] = 0.0  # a weight at exactly 0 (l1 subgradient 0)
    grads = [(3 * rng.standard_normal(n_params)).astype(dtype) for _ in range(3)]
    return lay, params, grads


def _naive_penalised(params, raw, n_weights, alpha, l1, scale):
    p = f64(params)
    g = f64(raw).copy()
    g[:n_weights] += alpha * p[:n_weights] + l1 * np.sign(p[:n_weights])
    return g * scale


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("l1", [0.0, 0.05])
def test_penalised_gradient_and_norm(l1, dtype):
    lay, params, grads = _opt_problem(dtype)
    nw = lay.n_weights
    g = grads[0].copy()
    alpha, scale = dtype(0.37), dtype(1 / 7)
    ref = _naive_penalised(params, g, nw, float(alpha), l1, float(scale))
    norm_sq = kopt.gradient_norm_sq(params, g, nw, alpha, dtype(l1), scale)
    np.testing.assert_allclose(norm_sq, np.sum(ref ** 2), rtol=NET_TOL[dtype]["rtol"])
    sumsq, sumabs = kopt.penalised_gradient(params, g, nw, alpha, dtype(l1), scale)
    np.testing.assert_allclose(sumsq, np.sum(f64(params[:nw]) ** 2), rtol=1e-6)
    np.testing.assert_allclose(sumabs, np.sum(np.abs(f64(params[:nw]))), rtol=1e-6)
    assert_close(g, ref, dtype)


def test_gradient_norm_sq_of_a_float32_gradient_past_the_square_root_of_its_range():
    # helper-63: each square was taken in float32: components above 1.8e19
    # made the norm inf, and clipping then scaled every step to 0.
    lay, params, grads = _opt_problem(np.float32)
    g = grads[0] * np.float32(1e20)
    one = np.float32(1)
    ref = _naive_penalised(params, g, lay.n_weights, 0.0, 0.0, 1.0)
    norm_sq = kopt.gradient_norm_sq(params, g, lay.n_weights, np.float32(0), np.float32(0), one)
    assert np.isfinite(norm_sq)
    np.testing.assert_allclose(norm_sq, np.sum(ref ** 2), rtol=1e-5)


SOLVER_CASES = [
    ("sgd", dict(nesterov=False)),
    ("sgd", dict(nesterov=True)),
    ("adam", {}),
    ("adamw", {}),
    ("rmsprop", {}),
    ("adagrad", {}),
]
SOLVER_IDS = ["sgd", "sgd-nesterov", "adam", "adamw", "rmsprop", "adagrad"]


def _naive_flat_step(solver, kw, flat, g, s1, s2, t, lr, momentum, b1, b2, eps, alpha,
                     wmask):
    if solver == "sgd":
        (flat,), (s1,) = naive.sgd_update([flat], [g], [s1], lr, momentum, kw["nesterov"])
    elif solver == "adam":
        (flat,), (s1,), (s2,), t = naive.adam_update([flat], [g], [s1], [s2], t, lr, b1,
                                                     b2, eps)
    elif solver == "adamw":
        flat, s1, s2, t = naive.adamw_update(flat, g, s1, s2, t, lr, b1, b2, eps, alpha,
                                             wmask)
    elif solver == "rmsprop":
        flat, s1 = naive.rmsprop_update(flat, g, s1, lr, b2, eps)
    else:
        flat, s1 = naive.adagrad_update(flat, g, s1, lr, eps)
    return flat, s1, s2, t


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("clip_coef", [1.0, 0.3])
@pytest.mark.parametrize("l1", [0.0, 0.02])
@pytest.mark.parametrize("solver,kw", SOLVER_CASES, ids=SOLVER_IDS)
def test_optimizer_step(solver, kw, l1, clip_coef, dtype):
    """Three consecutive steps of each solver against the references."""
    lay, params, grads = _opt_problem(dtype, seed=("step", solver))
    nw = lay.n_weights
    n_params = params.size
    wmask = np.zeros(n_params)
    wmask[:nw] = 1
    dt = dtype
    alpha, scale, lr, momentum = dt(0.2), dt(0.25), dt(0.05), dt(0.9)
    b1, b2, eps = dt(0.9), dt(0.999), dt(1e-8)
    code = codes.SOLVERS[solver]
    s1 = np.zeros(n_params, dtype)
    s2 = np.zeros(n_params, dtype)
    layer_sq = np.zeros(len(OPT_UNITS) - 1, dtype=dtype)
    r_flat, r_s1, r_s2, t = f64(params), np.zeros(n_params), np.zeros(n_params), 0
    r_layer_sq = np.zeros(len(OPT_UNITS) - 1)
    alpha_g = 0.0 if solver == "adamw" else float(alpha)
    for raw in grads:
        g = _naive_penalised(r_flat, raw, nw, alpha_g, l1, float(scale))
        for l in range(len(OPT_UNITS) - 1):
            # Diagnostics: the data-loss gradient only (scaled, no penalty).
            sl = slice(lay.w_off[l], lay.w_off[l] + OPT_UNITS[l] * OPT_UNITS[l + 1])
            r_layer_sq[l] += np.sum((f64(raw[sl]) * float(scale)) ** 2)
        sumsq_ref = np.sum(r_flat[:nw] ** 2)
        sumabs_ref = np.sum(np.abs(r_flat[:nw]))
        r_flat, r_s1, r_s2, t = _naive_flat_step(
            solver, kw, r_flat, g * clip_coef, r_s1, r_s2, t, float(lr), float(momentum),
            float(b1), float(b2), float(eps), float(alpha), wmask)
        step = t if solver in ("adam", "adamw") else 1
        lr_t = dt(float(lr) * np.sqrt(1 - float(b2) ** step) / (1 - float(b1) ** step))
        # train_epoch's epsilon for adamw: PyTorch's, with the bias
        # correction folded into lr_t (the reference divides by sqrt(v_hat) + eps).
        eps_t = dt(float(eps) * np.sqrt(1 - float(b2) ** step)) if solver == "adamw" else eps
        sumsq, sumabs = call_by_name(
            kopt.optimizer_step, params=params, grads=raw.copy(), state_1=s1, state_2=s2,
            units=lay.units, w_off=lay.w_off, n_weights=nw, code=code, alpha=alpha,
            l1=dt(l1), scale=scale, clip_coef=dt(clip_coef), lr=lr, lr_t=lr_t,
            momentum=momentum, nesterov=kw.get("nesterov", False), beta_1=b1, beta_2=b2,
            beta_1c=dt(1 - float(b1)), beta_2c=dt(1 - float(b2)), epsilon=eps_t,
            layer_sq=layer_sq)
        np.testing.assert_allclose(sumsq, sumsq_ref, rtol=NET_TOL[dtype]["rtol"])
        np.testing.assert_allclose(sumabs, sumabs_ref, rtol=NET_TOL[dtype]["rtol"])
        assert_close(params, r_flat, dtype, tol=NET_TOL)
        assert_close(s1, r_s1, dtype, tol=NET_TOL)
        if solver in ("adam", "adamw"):
            assert_close(s2, r_s2, dtype, tol=NET_TOL)
    np.testing.assert_allclose(layer_sq, r_layer_sq, rtol=NET_TOL[dtype]["rtol"])


# ---------------------------------------------------------------------------
# Sparse products, dropout, normalisation
# ---------------------------------------------------------------------------

SPARSE_SHAPES = [(1, 1, 1), (1, 6, 3), (9, 1, 4), (7, 13, 5), (30, 11, 1)]


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("shape", SPARSE_SHAPES, ids=str)
def test_csr_rows_dot(shape, dtype):
    n, f, k = shape
    rng = rng_for("csr_dot", shape, dtype)
    X = make_X(n, f, dtype, rng, sparse=True)
    ki = KernelInput(X)
    w = rng.standard_normal((f, k)).astype(dtype)
    rows = rng.permutation(n)[: max(1, n - 2)].astype(np.int64)
    out = np.full((rows.size, k), np.nan, dtype)
    ksparse.csr_rows_dot(ki.data, ki.indices, ki.indptr, rows, w, out)
    ref = naive.csr_rows_dot(f64(ki.data), ki.indices, ki.indptr, rows, f64(w))
    np.testing.assert_allclose(ref, f64(X.toarray())[rows] @ f64(w), rtol=1e-12,
                               atol=1e-12)
    assert_close(out, ref, dtype, tol=NET_TOL)
    empty = np.diff(ki.indptr)[rows] == 0
    assert np.all(out[empty] == 0)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("shape", SPARSE_SHAPES, ids=str)
def test_csr_rows_tdot(shape, dtype):
    n, f, k = shape
    rng = rng_for("csr_tdot", shape, dtype)
    X = make_X(n, f, dtype, rng, sparse=True)
    ki = KernelInput(X)
    rows = rng.permutation(n)[: max(1, n - 2)].astype(np.int64)
    delta = rng.standard_normal((rows.size, k)).astype(dtype)
    out = np.full((f, k), np.nan, dtype)
    ksparse.csr_rows_tdot(ki.data, ki.indices, ki.indptr, rows, delta, out)
    ref = naive.csr_rows_tdot(f64(ki.data), ki.indices, ki.indptr, rows, f64(delta), f)
    assert_close(out, ref, dtype, tol=NET_TOL)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("rate", [0.0, 0.3, 0.9])
def test_dropout_forward_is_splitmix64(rate, dtype):
    rng = rng_for("drop", rate, dtype)
    a = rng.standard_normal((7, 13)).astype(dtype)
    seed = 12345678901234567
    state = np.array([seed], dtype=np.uint64)
    mask = np.full_like(a, np.nan)
    out = np.full_like(a, np.nan)
    kdrop.dropout_forward(a, dtype(rate), state, mask, out)
    ref_mask, ref_state = naive.dropout_mask(a.shape, float(dtype(rate)), seed)
    assert int(state[0]) == ref_state
    assert_close(mask, ref_mask, dtype, scale=1.0)
    assert_close(out, f64(a) * ref_mask, dtype)
    if rate == 0.0:
        np.testing.assert_array_equal(out, a)
    kept = np.mean(mask > 0)
    assert abs(kept - (1 - rate)) < 0.15


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
def test_next_uniform_stream(dtype):
    state = np.array([0], dtype=np.uint64)
    got = [kdrop.next_uniform(state) for _ in range(50)]
    ref, s = naive.splitmix_uniforms(0, 50)
    np.testing.assert_array_equal(got, ref)
    assert int(state[0]) == s
    assert all(0 <= u < 1 for u in got)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("training", [True, False], ids=["train", "infer"])
@pytest.mark.parametrize("shape", [(1, 3), (7, 13), (12, 1)], ids=str)
def test_batch_norm_forward(shape, training, dtype):
    rng = rng_for("bnf", shape, training, dtype)
    n, m = shape
    h = (2 * rng.standard_normal(shape) + 1).astype(dtype)
    gamma = rng.uniform(0.5, 1.5, m).astype(dtype)
    beta = rng.standard_normal(m).astype(dtype)
    rmean = rng.standard_normal(m).astype(dtype)
    rvar = rng.uniform(0.5, 2, m).astype(dtype)
    eps, mom = dtype(1e-5), dtype(0.1)
    running = {"mean": [f64(rmean)], "var": [f64(rvar)]}
    P = {"coefs": [np.eye(m), np.zeros((m, 1))], "intercepts": [np.zeros(m), np.zeros(1)],
         "scales": [f64(gamma)], "shifts": [f64(beta)]}
    cache, _ = naive.forward(f64(h), P, "tanh", "identity", norm="batch",
                             training=training, running=running, bn_momentum=float(mom),
                             norm_eps=float(eps))
    inv_std = np.full(m, np.nan, dtype)
    z = np.full_like(h, np.nan)
    a = np.full_like(h, np.nan)
    h_k = h.copy()
    knorm.batch_norm_forward(h_k, gamma, beta, eps, training, rmean, rvar, mom, inv_std,
                             codes.TANH, z, a)
    tol = NET_TOL
    assert_close(h_k, cache["xhat"][0], dtype, tol=tol)
    assert_close(z, cache["z"][0], dtype, tol=tol)
    assert_close(a, cache["a"][0], dtype, tol=tol)
    assert_close(inv_std, cache["inv"][0].ravel(), dtype, tol=tol)
    assert_close(rmean, running["mean"][0], dtype, tol=tol)
    assert_close(rvar, running["var"][0], dtype, tol=tol)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("shape", [(1, 3), (7, 13), (12, 2)], ids=str)
def test_layer_norm_forward(shape, dtype):
    rng = rng_for("lnf", shape, dtype)
    n, m = shape
    h = (2 * rng.standard_normal(shape) + 1).astype(dtype)
    gamma = rng.uniform(0.5, 1.5, m).astype(dtype)
    beta = rng.standard_normal(m).astype(dtype)
    eps = dtype(1e-5)
    xhat, inv, _, _ = naive.normalise(f64(h), 1, float(eps))
    u = f64(gamma) * xhat + f64(beta)
    inv_std = np.full(n, np.nan, dtype)
    z = np.full_like(h, np.nan)
    a = np.full_like(h, np.nan)
    knorm.layer_norm_forward(h, gamma, beta, eps, inv_std, codes.GELU, z, a)
    assert_close(h, xhat, dtype, tol=NET_TOL)
    assert_close(z, u, dtype, tol=NET_TOL)
    assert_close(a, naive.activate(u, "gelu"), dtype, tol=NET_TOL)
    assert_close(inv_std, inv.ravel(), dtype, tol=NET_TOL)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("kind", ["batch", "layer"])
def test_norm_backward(kind, dtype):
    rng = rng_for("nb", kind, dtype)
    n, m = 7, 5
    h = rng.standard_normal((n, m))
    axis = 0 if kind == "batch" else 1
    xhat, inv, _, _ = naive.normalise(h, axis, 1e-5)
    xhat = xhat.astype(dtype)
    gamma = rng.uniform(0.5, 1.5, m).astype(dtype)
    g = rng.standard_normal((n, m)).astype(dtype)
    inv_k = inv.ravel().astype(dtype)
    dh, dgamma, dbeta = naive.norm_backward(f64(g), f64(xhat), f64(gamma),
                                            f64(inv_k).reshape(inv.shape), axis)
    dg = np.full(m, np.nan, dtype)
    db = np.full(m, np.nan, dtype)
    fn = knorm.batch_norm_backward if kind == "batch" else knorm.layer_norm_backward
    fn(g, xhat, gamma, inv_k, dg, db)
    assert_close(g, dh, dtype, tol=NET_TOL)
    assert_close(dg, dgamma, dtype, tol=NET_TOL)
    assert_close(db, dbeta, dtype, tol=NET_TOL)


# ---------------------------------------------------------------------------
# Layout helpers
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("norm", [None, "batch", "layer"])
@pytest.mark.parametrize("units", [(3, 1), (5, 4, 2), (7, 13, 1, 3)], ids=str)
def test_layout_matches_sklearn_pack_order(units, norm):
    rng = rng_for("layout", units, norm)
    P = naive.random_params(units, rng, norm=norm)
    lay = NetworkLayout(units, norm=codes.NORMALIZATIONS[norm])
    flat = lay.pack(P["coefs"], P["intercepts"], np.float64, P["scales"], P["shifts"])
    np.testing.assert_array_equal(flat, naive.pack(P))
    assert lay.n_weights == sum(W.size for W in P["coefs"])
    assert lay.n_params == flat.size
    coefs, intercepts, scales, shifts = lay.unpack(flat)
    for key, got in (("coefs", coefs), ("intercepts", intercepts), ("scales", scales),
                     ("shifts", shifts)):
        assert len(got) == len(P[key])
        for a, b in zip(got, P[key]):
            np.testing.assert_array_equal(a, b)
    if norm == "batch":
        means = [rng.standard_normal(m) for m in units[1:-1]]
        variances = [rng.uniform(size=m) for m in units[1:-1]]
        running = lay.pack_running(means, variances, np.float64)
        expect = [np.concatenate([mu, v]) for mu, v in zip(means, variances)]
        expect = np.concatenate(expect) if expect else np.zeros(0)
        np.testing.assert_array_equal(running, expect)


@numba.njit
def _layer_view(buf, offset, n_rows, n_cols):
    # layer_view is an intrinsic: only compiled code can call it.
    return views.layer_view(buf, offset, n_rows, n_cols)


@numba.njit
def _flat_view(arr):
    return views.flat_view(arr)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
def test_layer_view_and_gather_rows(dtype):
    buf = np.arange(30, dtype=dtype)
    v = _layer_view(buf, 7, 4, 5)
    np.testing.assert_array_equal(v, np.arange(7, 27, dtype=dtype).reshape(4, 5))
    assert v.flags.c_contiguous and v.strides == (5 * buf.itemsize, buf.itemsize)
    v[1, 2] = -1
    assert buf[7 + 1 * 5 + 2] == -1  # a view, not a copy
    assert np.shares_memory(v, buf)
    np.testing.assert_array_equal(_layer_view(buf, 24, 2, 3), buf[24:].reshape(2, 3))
    assert _layer_view(buf, 0, 0, 5).shape == (0, 5)
    # A window outside buf (a corrupted layout table) is empty, never out of bounds.
    for offset, rows, cols in ((25, 2, 3), (-1, 1, 1), (0, -2, 3), (0, 3, -2), (31, 0, 0)):
        assert _layer_view(buf, offset, rows, cols).shape == (0, 0)
    frozen = buf.copy()
    frozen.flags.writeable = False
    assert not _layer_view(frozen, 0, 2, 2).flags.writeable
    src = np.arange(24, dtype=dtype).reshape(6, 4)
    for block in (src, src[2:5], src[:0]):
        flat = _flat_view(block)
        np.testing.assert_array_equal(flat, block.ravel())
        assert flat.flags.c_contiguous and np.shares_memory(flat, src) == (block.size > 0)
    _flat_view(src[1:3])[1] = -7
    assert src[1, 1] == -7
    assert not _flat_view(frozen.reshape(5, 6)).flags.writeable
    with pytest.raises(numba.core.errors.TypingError):
        _flat_view(src[:, 1:])  # not C-contiguous: no flat view
    src = np.arange(24, dtype=dtype).reshape(6, 4)
    rows = np.array([5, 0, 0, 3], dtype=np.int64)
    dst = np.full((4, 4), np.nan, dtype)
    knet.gather_rows(src, rows, dst, rows[:0])
    np.testing.assert_array_equal(dst, src[rows])


# ---------------------------------------------------------------------------
# Whole network: loss_and_gradient, train_epoch, predict
# ---------------------------------------------------------------------------

class Net:
    """A random network, its data, and kernel calls on them.

    ``hidden`` is one activation name or one per hidden layer; ``norm``,
    ``residual`` (flags per hidden layer) and ``drops`` (rates per hidden
    layer) select the toolkit's options.
    """

    def __init__(self, units, hidden, out, dtype, n, *, sparse=False, weighted=False,
                 seed="net", scale=None, norm=None, residual=None, drops=None):
        rng = rng_for(seed, units, hidden, out, dtype, n, sparse, weighted, norm,
                      residual, drops)
        self.rng = rng
        self.units = tuple(units)
        n_hidden = len(units) - 2
        self.hidden = [hidden] * n_hidden if isinstance(hidden, str) else list(hidden)
        self.out, self.dtype, self.n = out, np.dtype(dtype), n
        self.norm, self.residual, self.drops = norm, residual, drops
        self.layout = NetworkLayout(units, [codes.HIDDEN_ACTIVATIONS[h] for h in self.hidden],
                                    codes.NORMALIZATIONS[norm], residual)
        self.spec = NetworkSpec(self.layout, codes.OUTPUT_FUNCTIONS[out],
                                tuple(drops) if drops else ())
        P = naive.random_params(units, rng, scale=scale, norm=norm)
        self.params = naive.pack(P).astype(dtype)
        self.X = make_X(n, units[0], dtype, rng, sparse=sparse)
        self.inp = KernelInput(self.X)
        self.Y = make_Y(out, n, units[-1], dtype, rng)
        self.sw = make_sw(n, dtype, rng) if weighted else None
        self.sw_arg = self.sw if weighted else np.empty(0, dtype)
        hid = units[1:-1]
        self.running_means = [rng.standard_normal(m).astype(dtype) for m in hid]
        self.running_vars = [rng.uniform(0.5, 2.0, m).astype(dtype) for m in hid]
        self.running = (self.layout.pack_running(self.running_means, self.running_vars,
                                                 dtype)
                        if norm == "batch" else np.zeros(0, dtype))

    # -- references -------------------------------------------------------
    @property
    def X64(self):
        return self.X.astype(np.float64) if sp.issparse(self.X) else f64(self.X)

    def P64(self, params=None):
        return naive.unpack(f64(self.params if params is None else params), self.units,
                            self.norm)

    def running64(self):
        return {"mean": [f64(m) for m in self.running_means],
                "var": [f64(v) for v in self.running_vars]}

    def naive_kw(self):
        return dict(norm=self.norm, residual=self.residual)

    def naive_loss_grad(self, alpha, l1=0.0, chunk=None):
        """Full-batch loss and gradient, chunk by chunk (batch norm uses each
        chunk's statistics, as the kernel does)."""
        n = self.n
        chunk = n if chunk is None else chunk
        sw = np.ones(n) if self.sw is None else f64(self.sw)
        P = self.P64()
        data_loss = 0.0
        grad = np.zeros(self.params.size)
        for s in range(0, n, chunk):
            rows = np.arange(s, min(s + chunk, n))
            w = sw[rows]
            if w.sum() == 0:
                continue  # zero weights contribute nothing
            loss, grads, _ = naive.backprop(
                self.X64[rows], f64(self.Y)[rows], None if self.sw is None else w, P,
                self.hidden, self.out, 0.0, eps=eps_of(self.dtype), **self.naive_kw())
            data_loss += loss * w.sum()
            grad += naive.pack(grads) * w.sum()
        total = sw.sum()
        nw = self.layout.n_weights
        p = f64(self.params)
        grad[:nw] += alpha * p[:nw] + l1 * np.sign(p[:nw])
        pen = naive.penalty(P["coefs"], alpha, l1, 1.0)
        return (data_loss + pen) / total, grad / total

    def naive_predict(self):
        _, y = naive.forward(self.X64, self.P64(), self.hidden, self.out,
                             training=False, running=self.running64(), **self.naive_kw())
        return y

    # -- kernels ------------------------------------------------------------
    def loss_and_gradient(self, alpha, l1=0.0, chunk=None, params=None):
        f = loss_and_gradient_function(get_backend("cpu"), self.spec, self.inp, self.Y,
                                       self.sw, alpha=alpha, l1=l1, dtype=self.dtype,
                                       chunk=chunk or self.n)
        loss, grad = f(self.params if params is None else params)
        return loss, grad.copy()

    def predict(self, chunk, params=None, with_status=False):
        params = self.params if params is None else params
        ws = Workspace(self.layout, chunk, self.dtype, dense_input=False, training=False)
        out = np.full((self.n, self.units[-1]), np.nan, self.dtype)
        status = call_by_name(
            knet.predict, inputs=self.inp.inputs(), tables=ws.tables(self.layout.norm),
            work=ws.work(self.running), params=params, hyper=self.spec.hyper(self.dtype),
            chunk=chunk, out=out)
        return (out, status) if with_status else out

    def train_epoch(self, solver, batch_size, perm, state_1, state_2, t, *, alpha, lr,
                    l1=0.0, clip=0.0, momentum=0.9, nesterov=True, beta_1=0.9,
                    beta_2=0.999, epsilon=1e-8, rng_state=0):
        """One kernel epoch, called as ``training.stochastic`` calls it.

        Returns ``(loss_sum, t, rng_state, layer_sq, first_sq)``.
        """
        ws = Workspace(self.layout, batch_size, self.dtype,
                       dense_input=not self.inp.is_sparse, drops=self.spec.drops,
                       track_dead=self.spec.tracks_dead_units)
        ws.rng[0] = rng_state
        layer_sq = np.zeros(len(self.units) - 1, dtype=self.dtype)
        first_sq = np.full(len(self.units) - 1, -1.0, dtype=self.dtype)
        opt = SimpleNamespace(code=codes.SOLVERS[solver], learning_rate=lr,
                              momentum=momentum, nesterov=nesterov, beta_1=beta_1,
                              beta_2=beta_2, epsilon=epsilon)
        if self.split_parts > 1:
            # The default path's epoch with each step split between threads,
            # run as training.stochastic runs it, in ``split_slices`` calls.
            records = (self.inp.inputs(), Targets(self.Y, self.sw_arg, self.sw is not None),
                       ws.tables(self.layout.norm), ws.work(self.running),
                       Solver(self.params, state_1, state_2))
            epoch = SplitEpoch(lean.for_output(self.spec.out_code), records, self.split_parts)
            hyper = self.spec.hyper(self.dtype, opt, alpha=alpha, l1=l1, clip=clip)
            epoch.begin()
            bounds = np.linspace(0, -(-len(perm) // batch_size), self.split_slices + 1)
            try:
                for lo, hi in zip(bounds[:-1].astype(int), bounds[1:].astype(int)):
                    t = epoch.run(hyper, perm[lo * batch_size:hi * batch_size], batch_size,
                                  t, layer_sq, first_sq)
            finally:
                epoch.close()
            epoch.end(layer_sq, ws.alive)
            return epoch.loss_sum, t, int(ws.rng[0]), layer_sq, first_sq
        loss_sum, t = call_by_name(
            knet.train_epoch, inputs=self.inp.inputs(),
            targets=Targets(self.Y, self.sw_arg, self.sw is not None),
            tables=ws.tables(self.layout.norm), work=ws.work(self.running),
            solver=Solver(self.params, state_1, state_2),
            hyper=self.spec.hyper(self.dtype, opt, alpha=alpha, l1=l1, clip=clip),
            perm=perm, batch_size=batch_size, t=t, loss_sum=0.0, layer_sq=layer_sq,
            first_sq=first_sq)
        return loss_sum, t, int(ws.rng[0]), layer_sq, first_sq


    #: Threads of a split epoch (``fastbp.kernels.split``), and the calls
    #: it is run in; 1 runs ``train_epoch``.
    split_parts = 1
    split_slices = 1


def _units_for(base, out):
    n_out = {"identity": 2, "softmax": 3, "logistic": 2, "exp": 2}[out]
    return tuple(base) + (n_out,)


NET_BASES = [(4, 5, 3), (7, 6, 4, 5)]


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["nosw", "sw"])
@pytest.mark.parametrize("out", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_loss_and_gradient_vs_naive(hidden, out, weighted, sparse, dtype):
    base = NET_BASES[(HIDDEN.index(hidden) + OUTPUTS.index(out)) % 2]
    units = _units_for(base, out)
    net = Net(units, hidden, out, dtype, 23, sparse=sparse, weighted=weighted)
    alpha = 0.3
    ref_loss, ref_grad = net.naive_loss_grad(alpha)
    for chunk in (23, 5, 1):  # whole, not dividing n, single rows
        loss, grad = net.loss_and_gradient(alpha, chunk=chunk)
        np.testing.assert_allclose(loss, ref_loss, rtol=NET_TOL[dtype]["rtol"])
        assert_close(grad, ref_grad, dtype, tol=NET_TOL)


TOOLKIT_CASES = [
    dict(norm="batch"),
    dict(norm="layer"),
    dict(residual=[False, True, True]),
    dict(norm="layer", residual=[False, True, True]),
    dict(l1=0.05),
    dict(hidden=["relu", "gelu", "swish"]),
]
TOOLKIT_IDS = ["batchnorm", "layernorm", "residual", "layernorm-residual", "l1", "mixed"]


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("case", TOOLKIT_CASES, ids=TOOLKIT_IDS)
def test_loss_and_gradient_toolkit_vs_naive(case, sparse, dtype):
    case = dict(case)
    l1 = case.pop("l1", 0.0)
    hidden = case.pop("hidden", "tanh")
    units = (6, 5, 5, 5, 3)
    net = Net(units, hidden, "softmax", dtype, 19, sparse=sparse, weighted=True,
              seed="tk", **case)
    for chunk in (19, 7):
        ref_loss, ref_grad = net.naive_loss_grad(0.1, l1, chunk=chunk)
        loss, grad = net.loss_and_gradient(0.1, l1, chunk=chunk)
        np.testing.assert_allclose(loss, ref_loss, rtol=NET_TOL[dtype]["rtol"])
        assert_close(grad, ref_grad, dtype, tol=NET_TOL)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("out", OUTPUTS)
def test_loss_and_gradient_sparse_equals_dense(out, dtype):
    units = _units_for((6, 5, 4), out)
    net_s = Net(units, "tanh", out, dtype, 17, sparse=True, weighted=True, seed="sd")
    net_d = Net(units, "tanh", out, dtype, 17, sparse=True, weighted=True, seed="sd")
    net_d.X = net_s.X.toarray()
    net_d.inp = KernelInput(net_d.X)
    ls, gs = net_s.loss_and_gradient(0.1, chunk=4)
    ld, gd = net_d.loss_and_gradient(0.1, chunk=4)
    np.testing.assert_allclose(ls, ld, rtol=NET_TOL[dtype]["rtol"])
    assert_close(gs, gd, dtype, tol=NET_TOL)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("units", [(3, 2), (1, 1, 1), (1, 3, 1), (4, 3, 1, 2, 3)], ids=str)
def test_odd_shapes(units, dtype):
    """No hidden layer, one-unit layers, a one-unit bottleneck, one sample."""
    for n in (1, 9):
        net = Net(units, "tanh", "identity", dtype, n, weighted=True, seed="odd")
        if n == 1:
            net.sw[:] = 2.5
        assert_close(net.predict(4 if n > 4 else 1), net.naive_predict(), dtype,
                     tol=NET_TOL)
        ref_loss, ref_grad = net.naive_loss_grad(0.2)
        loss, grad = net.loss_and_gradient(0.2, chunk=4 if n > 4 else 1)
        np.testing.assert_allclose(loss, ref_loss, rtol=NET_TOL[dtype]["rtol"])
        assert_close(grad, ref_grad, dtype, tol=NET_TOL)


EPOCH_CASES = [
    dict(solver="sgd", nesterov=False),
    dict(solver="sgd", nesterov=True),
    dict(solver="adam"),
    dict(solver="adamw"),
    dict(solver="rmsprop"),
    dict(solver="adagrad"),
    dict(solver="adam", l1=0.01, clip=0.5),
    dict(solver="sgd", norm="batch"),
    dict(solver="adam", norm="layer", residual=[False, True]),
    dict(solver="sgd", drops=[0.3, 0.5]),
    dict(solver="adam", drops=[0.2, 0.0], residual=[False, True], norm="batch"),
]
EPOCH_IDS = ["sgd", "sgd-nesterov", "adam", "adamw", "rmsprop", "adagrad", "adam-l1-clip",
             "sgd-batchnorm", "adam-layernorm-residual", "sgd-dropout",
             "adam-dropout-residual-batchnorm"]


def _epoch_check(net, case, n, batch_size, perm, dtype, n_epochs=1):
    case = dict(case)
    solver = case.pop("solver")
    nesterov = bool(case.pop("nesterov", True))
    l1 = case.pop("l1", 0.0)
    clip = case.pop("clip", 0.0)
    alpha = 0.01
    lr = {"sgd": 0.05, "adagrad": 0.05}.get(solver, 0.01)
    if net.out == "exp":
        lr /= 5  # exp outputs blow up quickly with large steps
    eps_lr = dict(momentum=0.9, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    dt = net.dtype.type
    n_params = net.layout.n_params
    s1 = np.zeros(n_params, dtype)
    s2 = np.zeros(n_params, dtype)
    state = naive.zero_state(n_params)
    t0 = 0
    if solver in ("adam", "adamw", "rmsprop", "adagrad"):
        # Start from a later step with non-zero state.
        t0 = 3
        s1[:] = (0.01 * net.rng.standard_normal(n_params)).astype(dtype)
        s2[:] = (0.01 * net.rng.uniform(size=n_params)).astype(dtype)
        if solver in ("rmsprop", "adagrad"):
            s1[:] = np.abs(s1)
        state = {"s1": f64(s1), "s2": f64(s2), "t": t0}
    P = net.P64()
    running = net.running64() if net.norm == "batch" else None
    rng_state = 987654321
    t = t0
    for _ in range(n_epochs):
        P, state, ref_acc, ref_rng = naive.train_epoch(
            net.X64, f64(net.Y), None if net.sw is None else f64(net.sw), P, perm,
            batch_size, net.hidden, net.out, float(dt(alpha)), solver, state,
            learning_rate=float(dt(lr)), nesterov=nesterov, eps=eps_of(dtype),
            l1=float(dt(l1)), clip=float(dt(clip)), norm=net.norm, residual=net.residual,
            drops=None if net.drops is None else [float(dt(d)) for d in net.drops],
            rng_state=rng_state, running=running,
            **{k: float(dt(v)) for k, v in eps_lr.items()})
        t_before = t
        loss_sum, t, rng_out, layer_sq, first_sq = net.train_epoch(
            solver, batch_size, perm, s1, s2, t, alpha=alpha, lr=lr, l1=l1, clip=clip,
            nesterov=nesterov, rng_state=rng_state, **eps_lr)
        assert rng_out == ref_rng
        rng_state = rng_out
        assert np.isfinite(ref_acc) and np.all(np.isfinite(naive.pack(P)))
        n_batches = -(-len(perm) // batch_size)
        tol = NET_TOL[dtype]
        np.testing.assert_allclose(loss_sum, ref_acc, rtol=tol["rtol"])
        assert_close(net.params, naive.pack(P), dtype, tol=NET_TOL)
        assert_close(s1, state["s1"], dtype, tol=NET_TOL)
        if solver in ("adam", "adamw"):
            assert_close(s2, state["s2"], dtype, tol=NET_TOL)
        np.testing.assert_allclose(layer_sq, state["layer_sq"], rtol=10 * tol["rtol"])
        if t_before == 0:  # the first step's norms: the explosion baseline
            np.testing.assert_allclose(first_sq, state["first_sq"], rtol=10 * tol["rtol"])
        else:
            np.testing.assert_array_equal(first_sq, -1.0)  # left alone
        if running is not None:
            means, variances = net.layout.unpack_running(net.running)
            for k in range(len(means)):
                assert_close(means[k], running["mean"][k], dtype, tol=NET_TOL)
                assert_close(variances[k], running["var"][k], dtype, tol=NET_TOL)
    assert t == t0 + n_epochs * n_batches
    return P


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["nosw", "sw"])
@pytest.mark.parametrize("case", EPOCH_CASES, ids=EPOCH_IDS)
def test_train_epoch_vs_naive(case, weighted, sparse, dtype):
    k = EPOCH_CASES.index(case)
    out = OUTPUTS[(k + 2 * weighted + sparse) % 4]
    hidden = ["relu", "tanh", "logistic", "identity", "elu", "mish"][(k + 2 * sparse
                                                                      + weighted) % 6]
    units = _units_for((6, 7, 7), out)
    n, batch_size = 23, 5  # the batch size does not divide n
    opts = {key: case[key] for key in ("norm", "residual", "drops") if key in case}
    net = Net(units, hidden, out, dtype, n, sparse=sparse, weighted=weighted, seed="ep",
              **opts)
    perm = net.rng.permutation(n).astype(np.int64)
    if weighted:
        for s in range(0, n, batch_size):
            assert net.sw[perm[s:s + batch_size]].sum() > 0
    p0 = net.params.copy()
    _epoch_check(net, case, n, batch_size, perm, dtype)
    assert not np.allclose(net.params, p0)  # the epoch really moved the parameters


@pytest.mark.timeout(600, method="thread")
@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("weighted", [False, True], ids=["nosw", "sw"])
@pytest.mark.parametrize("case", [dict(solver="sgd", nesterov=False), dict(solver="sgd"),
                                  dict(solver="adam")], ids=["sgd", "sgd-nesterov", "adam"])
@pytest.mark.parametrize("parts, batch_size, slices", [(2, 5, 1), (2, 4, 3), (3, 5, 2),
                                                       (3, 2, 1)],
                         ids=["2parts", "2parts-3calls", "3parts-2calls", "3parts-empty"])
def test_train_epoch_split_vs_naive(parts, batch_size, slices, case, weighted, dtype):
    """Each step split between threads (kernels.split, run by
    training.split.SplitEpoch) against the reference epoch: every output
    function, activations that differentiate from the output and from the
    pre-activation, batches that the parts share unevenly, and with 3 parts
    and batches of 2, parts with no rows and weight blocks of no rows."""
    k = ["sgd", "sgd-nesterov", "adam"].index(
        "adam" if case["solver"] == "adam" else "sgd" if case.get("nesterov") is False
        else "sgd-nesterov")
    out = OUTPUTS[(k + 2 * weighted + parts) % 4]
    hidden = ["relu", "tanh", "elu", "logistic", "mish", "identity"][(k + 3 * weighted
                                                                      + batch_size) % 6]
    n = 23
    net = Net(_units_for((6, 7, 2), out), hidden, out, dtype, n, weighted=weighted,
              seed="split")
    net.split_parts, net.split_slices = parts, slices
    perm = net.rng.permutation(n).astype(np.int64)
    if weighted:  # a batch whose weights sum to 0 has no mean gradient
        for s in range(0, n, batch_size):
            if net.sw[perm[s:s + batch_size]].sum() == 0:
                net.sw[perm[s]] = 1.0
    p0 = net.params.copy()
    _epoch_check(net, case, n, batch_size, perm, dtype, n_epochs=2)
    assert not np.allclose(net.params, p0)


@pytest.mark.timeout(600, method="thread")
def test_split_epoch_releases_its_threads_when_a_part_fails(monkeypatch):
    """A part that fails before its kernel runs raises the barrier's abort
    flag: the parts waiting for it return, and the error reaches the caller
    (rather than a hang)."""
    net = Net((4, 5, 3), "relu", "softmax", np.float64, 12, seed="abort")
    ws = Workspace(net.layout, 4, net.dtype, track_dead=True)
    state = np.zeros(net.layout.n_params)
    records = (net.inp.inputs(), Targets(net.Y, net.sw_arg, False),
               ws.tables(net.layout.norm), ws.work(net.running),
               Solver(net.params, state, state.copy()))
    kernels = lean.for_output(net.spec.out_code)
    real = kernels.train_epoch_split

    def failing(*args):
        if args[-1].part == 1:
            raise MemoryError("part 1 could not start")
        return real(*args)

    epoch = SplitEpoch(SimpleNamespace(train_epoch_split=failing), records, 2)
    opt = SimpleNamespace(code=codes.SGD, learning_rate=0.1, momentum=0.9, nesterov=True,
                          beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    hyper = net.spec.hyper(net.dtype, opt, alpha=0.0)
    sq = np.zeros(2)
    epoch.begin()
    with pytest.raises(MemoryError, match="part 1"):
        epoch.run(hyper, np.arange(12, dtype=np.int64), 4, 0, sq, sq.copy())
    epoch.close()
    # Part 0 stopped at its first barrier: no update was applied.
    np.testing.assert_array_equal(state, 0)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("case", [dict(solver="sgd", norm="batch"),
                                  dict(solver="adam", norm="layer", drops=[0.3, 0.3])],
                         ids=["batchnorm", "layernorm-dropout"])
def test_train_epoch_last_batch_of_one_row(case, dtype):
    """n = 21 with batches of 5: the last batch has a single row (batch norm
    then normalises one value: variance 0, unbiased running update skipped)."""
    opts = {key: case[key] for key in ("norm", "drops") if key in case}
    net = Net((4, 6, 6, 3), "tanh", "softmax", dtype, 21, weighted=False, seed="one",
              **opts)
    perm = net.rng.permutation(21).astype(np.int64)
    _epoch_check(net, case, 21, 5, perm, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
def test_train_epoch_row_subset_two_epochs(dtype):
    """``perm`` may name a subset of rows (validation split); optimizer state,
    time step and dropout stream carry over between epochs."""
    n = 20
    net = Net((3, 4, 4, 2), "tanh", "softmax", dtype, n, weighted=True, seed="sub",
              drops=[0.25, 0.0])
    train_rows = np.sort(net.rng.permutation(n)[:13]).astype(np.int64)
    perm = net.rng.permutation(train_rows).astype(np.int64)
    _epoch_check(net, dict(solver="adam"), n, 6, perm, dtype, n_epochs=2)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("out", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_predict_vs_naive(hidden, out, sparse, dtype):
    units = _units_for((5, 6, 4), out)
    n = 23
    net = Net(units, hidden, out, dtype, n, sparse=sparse, seed="pred")
    ref = net.naive_predict()
    for chunk in (n, 7, 1):  # chunk 7 does not divide 23
        got, status = net.predict(chunk, with_status=True)
        assert got.dtype == dtype
        assert_close(got, ref, dtype, tol=NET_TOL)
        assert status == 0


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_predict_reports_non_finite_input_and_output(bad, dtype):
    """One bad value of a dense X in any chunk sets INPUT_NOT_FINITE; the
    chunk's outputs, even where relu turned the NaN into 0, are checked
    on their own."""
    n = 23
    for row, col in [(0, 0), (22, 4), (9, 2)]:
        net = Net((5, 6, 3), "relu", "softmax", dtype, n, seed="bad")
        net.X[row, col] = bad
        for chunk in (n, 7, 1):
            out, status = net.predict(chunk, with_status=True)
            assert status & codes.INPUT_NOT_FINITE
            assert bool(status & codes.OUTPUT_NOT_FINITE) == (not np.isfinite(out).all())
    # A CSR X is validated before it reaches the kernel; its rows are not
    # scanned, but outputs gone non-finite still are.
    net = Net((5, 6, 3), "identity", "identity", dtype, n, sparse=True, seed="bad")
    net.X.data[3] = bad
    out, status = net.predict(7, with_status=True)
    assert not status & codes.INPUT_NOT_FINITE
    assert status & codes.OUTPUT_NOT_FINITE and not np.isfinite(out).all()
    # Finite X, outputs that overflow: a linear output of huge weights.
    net = Net((5, 6, 3), "identity", "identity", dtype, n, seed="bad")
    net.params[:] = np.finfo(dtype).max / 4
    out, status = net.predict(7, with_status=True)
    assert status == codes.OUTPUT_NOT_FINITE


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
@pytest.mark.parametrize("case", [dict(norm="batch"), dict(norm="layer"),
                                  dict(residual=[False, True, True]),
                                  dict(norm="batch", residual=[False, True, True])],
                         ids=["batchnorm", "layernorm", "residual", "batchnorm-residual"])
def test_predict_toolkit_vs_naive(case, dtype):
    """Inference mode: batch norm uses the running statistics; no dropout."""
    net = Net((6, 5, 5, 5, 3), "relu", "softmax", dtype, 23, seed="predtk",
              drops=[0.5, 0.5, 0.5], **case)
    ref = net.naive_predict()
    running0 = net.running.copy()
    for chunk in (23, 7):
        assert_close(net.predict(chunk), ref, dtype, tol=NET_TOL)
    np.testing.assert_array_equal(net.running, running0)  # prediction never updates


@pytest.mark.parametrize("dtype", DTYPES, ids=dtid)
def test_predict_extreme_weights_no_nan(dtype):
    """Huge pre-activations: outputs saturate but never become NaN."""
    for out in ("softmax", "logistic"):
        net = Net(_units_for((4, 5), out), "relu", out, dtype, 11, seed="ext", scale=1.0)
        net.params *= dtype(300.0)  # pre-activations in the hundreds and thousands
        got = net.predict(4)
        assert not np.any(np.isnan(got))
        assert_close(got, net.naive_predict(), dtype, tol=NET_TOL, scale=1.0)


# ---------------------------------------------------------------------------
# Dtype discipline
# ---------------------------------------------------------------------------

KERNEL_MODULES = (kact, kloss, kopt, ksparse, kdrop, knorm, knet)


def _all_kernels():
    found = {}
    for mod in KERNEL_MODULES:
        for name in dir(mod):
            obj = getattr(mod, name)
            # The scalar maths is compiled from kernels.scalar into kact.
            if isinstance(obj, numba.core.registry.CPUDispatcher) and \
                    obj.py_func.__module__ in (mod.__name__, "fastbp.kernels.scalar"):
                found[f"{mod.__name__.rsplit('.', 1)[-1]}.{name}"] = obj
    return found


def _float_args(kernel, sig):
    """``{argument name: float bit width}`` of a signature's float arrays and
    float scalars."""
    names = list(inspect.signature(kernel.py_func).parameters)
    widths = {}
    for name, t in _flat_types(zip(names, sig)):
        if isinstance(t, nbtypes.Array) and isinstance(t.dtype, nbtypes.Float):
            widths[name] = t.dtype.bitwidth
        elif isinstance(t, nbtypes.Float):
            widths[name] = t.bitwidth
    return widths


def _flat_types(named):
    """``(name, type)`` pairs with the fields of record (named tuple)
    arguments spelled out as ``record.field``."""
    for name, t in named:
        if isinstance(t, nbtypes.BaseNamedTuple):
            yield from _flat_types((f"{name}.{f}", ft)
                                   for f, ft in zip(t.instance_class._fields, t.types))
        else:
            yield name, t


# The one documented exception: an epoch's loss is accumulated in float64 in
# every model (as scikit-learn does); train_epoch returns that sum as a
# float64 and takes it back when an epoch runs in slices.
FLOAT64_ACCUMULATORS = {("network.train_epoch", "loss_sum")}


def test_no_signature_mixes_float_widths():
    """Run the whole-network kernels in both dtypes, then inspect every
    kernel's signatures: none mixes float32 and float64 arguments (arrays or
    float scalars), the rule of ``fastbp.kernels``."""
    for dtype, is_sparse in [(d, s) for d in DTYPES for s in (False, True)]:
        net = Net((4, 5, 5, 3), ["relu", "swish"], "softmax", dtype, 9, sparse=is_sparse,
                  weighted=True, seed="sig", norm="batch", residual=[False, True],
                  drops=[0.2, 0.2])
        net.loss_and_gradient(0.1, 0.01, chunk=4)
        net.predict(4)
        for solver in ("sgd", "adam"):
            n_p = net.layout.n_params
            net.train_epoch(solver, 4, np.arange(9, dtype=np.int64), np.zeros(n_p, dtype),
                            np.zeros(n_p, dtype), 0, alpha=0.1, lr=0.01, clip=1.0)
    mixed = []
    for name, k in _all_kernels().items():
        if name in ("network.train_epoch", "network.predict", "network.loss_and_gradient"):
            assert k.signatures, f"{name} never compiled"
        # Helpers called only from other kernels have no signatures of their
        # own when their callers come from Numba's on-disk cache, and inlined
        # helpers never do: only what was compiled here can be inspected.
        for sig in k.signatures:
            widths = {a: w for a, w in _float_args(k, sig).items()
                      if (name, a) not in FLOAT64_ACCUMULATORS}
            if len(set(widths.values())) > 1:
                minority = 64 if list(widths.values()).count(64) < len(widths) / 2 else 32
                mixed.append((name, [a for a, w in widths.items() if w == minority]))
    assert not mixed, f"kernels mixing float widths (kernel, odd arguments): {mixed}"


_SUBPROCESS_FLOAT32 = textwrap.dedent("""
    import inspect
    import warnings
    import numba
    import numpy as np
    import scipy.sparse as sp
    from numba.core import types as nbtypes
    from fastbp.estimators.classifier import MLPClassifier
    from fastbp.estimators.regressor import MLPRegressor
    from fastbp.kernels import (activations, dropout, losses, network, normalization,
                                optimizers, sparse)

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 5)).astype(np.float32)
    X[X < 0.2] = 0
    y3 = rng.integers(0, 3, 40)
    yr = np.abs(X[:, 0] + rng.standard_normal(40)).astype(np.float32)
    sw = rng.uniform(0.5, 1.5, 40).astype(np.float32)
    configs = [
        dict(solver="sgd"), dict(solver="adam", early_stopping=True),
        dict(solver="lbfgs", l1=0.01), dict(solver="adamw", normalization="batch"),
        dict(solver="rmsprop", normalization="layer", residual=True, dropout=0.2),
        dict(solver="adagrad", activation="gelu", clip_grad_norm=1.0),
    ]
    for Xi in (X, sp.csr_matrix(X)):
        for cfg in configs:
            kw = dict(hidden_layer_sizes=(6, 6), max_iter=3, random_state=0, **cfg)
            for est, y in ((MLPClassifier(**kw), y3), (MLPClassifier(**kw), y3 == 1),
                           (MLPClassifier(**kw), np.c_[y3 == 1, y3 == 2]),
                           (MLPRegressor(**kw), yr),
                           (MLPRegressor(loss="poisson", **kw), yr)):
                est.fit(Xi, y, sample_weight=sw)
                assert est.coefs_[0].dtype == np.float32, est
                est.predict(Xi)
    from fastbp.kernels import full, lean
    from fastbp.kernels.codes import OUTPUT_FUNCTIONS

    found = []
    for mod in (activations, dropout, losses, network, normalization, optimizers, sparse):
        for name in dir(mod):
            k = getattr(mod, name)
            if not isinstance(k, numba.core.registry.CPUDispatcher):
                continue
            if k.py_func.__module__ not in (mod.__name__, "fastbp.kernels.scalar"):
                continue
            found.append((mod.__name__.rsplit(".", 1)[-1] + "." + name, k))
    # The entry points the estimators run: network's, compiled again per
    # output function.
    for per_output in (full, lean):
        for code in OUTPUT_FUNCTIONS.values():
            found += [(k.py_func.__qualname__, k)
                      for k in vars(per_output.for_output(code)).values()]
    # The loss accumulator, and the clipping coefficient of the float64
    # norm (one division per step, rounded once into the dtype; see
    # scalar.clip_coefficient). The coefficient's kernel is inner: its
    # signatures are listed only where this process compiled it, not where
    # its entry point came from the cache, so that it passed here by the
    # order of the suite (helper-215's test, earlier, filled the cache).
    FLOAT64_BY_DESIGN = {("train_epoch", "loss_sum"), ("clip_coefficient", "gnorm"),
                         ("clip_coefficient", "clip")}
    bad = []
    for qualname, k in found:
        name = k.py_func.__name__
        names = list(inspect.signature(k.py_func).parameters)
        for sig in k.signatures:
            flat = []
            for a, t in zip(names, sig):
                if isinstance(t, nbtypes.BaseNamedTuple):
                    flat += [(a + "." + f, ft) for f, ft in
                             zip(t.instance_class._fields, t.types)]
                else:
                    flat.append((a, t))
            args = [a for a, t in flat
                    if ((isinstance(t, nbtypes.Array) and t.dtype == nbtypes.float64)
                        or t == nbtypes.float64)
                    and (name, a) not in FLOAT64_BY_DESIGN]
            if args:
                bad.append((qualname, args))
    print("BAD", sorted(set((k, tuple(a)) for k, a in bad)))
""")


def test_float32_run_compiles_no_float64_specialisation():
    """A float32-only run through the estimators compiles no kernel with a
    float64 argument (but the loss accumulator, see FLOAT64_ACCUMULATORS).
    Run in a fresh interpreter: this process's dispatchers
    also hold the float64 specialisations of the other tests."""
    res = subprocess.run([sys.executable, "-c", _SUBPROCESS_FLOAT32],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    line = [ln for ln in res.stdout.splitlines() if ln.startswith("BAD")][-1]
    assert line == "BAD []", line


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("output", ["softmax", "logistic", "identity", "exp"])
def test_lean_kernels_agree_with_the_full_ones_on_the_default_path(dtype, solver, output,
                                                                   monkeypatch):
    # kernels.lean compiles network.py and the optimizer update again with
    # the toolkit's branches pruned, one copy per output function; on the
    # default path each must agree with the full kernels.
    from sklearn.datasets import load_digits

    from fastbp import MLPClassifier, MLPRegressor
    from fastbp.kernels import lean
    from fastbp.kernels.codes import OUTPUT_FUNCTIONS
    from fastbp.training.backend import CPUBackend

    X, y = load_digits(return_X_y=True)
    X = (X[:300] / 16).astype(dtype)
    if output == "softmax":
        make, y = MLPClassifier, y[:300]
    elif output == "logistic":
        make, y = MLPClassifier, y[:300] % 2
    else:
        make = partial(MLPRegressor, loss="poisson" if output == "exp" else "squared_error")
        y = (y[:300] + 1.0) / 10

    def fit():
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = make(hidden_layer_sizes=(16, 8), solver=solver, max_iter=4,
                         random_state=0).fit(X, y)
        return model, (model.predict_proba(X) if output in ("softmax", "logistic")
                       else model.predict(X))

    calls = []
    real = CPUBackend.network
    monkeypatch.setattr(CPUBackend, "network", lambda self, toolkit, out_code: calls.append(
        (toolkit, out_code)) or real(self, toolkit, out_code))
    lean_model, lean_out = fit()
    code = OUTPUT_FUNCTIONS[output]
    assert calls and all(call == (False, code) for call in calls), \
        "the default path must run the lean kernels of its output function"
    assert real(CPUBackend(), False, code) is lean.for_output(code)
    assert lean.for_output(code).train_epoch.py_func.__qualname__ == f"train_epoch.lean_{output}"
    monkeypatch.setattr(CPUBackend, "network",
                        lambda self, toolkit, out_code: real(self, True, out_code))
    full_model, full_out = fit()
    # To a few ulps a step, not bit for bit: fastmath lets LLVM reassociate
    # sums (adam's update, a softmax row's sum of exponentials) and it
    # vectorises each kernel set's inlined copy of a loop its own way.
    tol = {np.float32: dict(rtol=1e-4, atol=1e-6), np.float64: dict(rtol=1e-11, atol=1e-13)}
    for a, b in zip(lean_model.coefs_ + lean_model.intercepts_,
                    full_model.coefs_ + full_model.intercepts_):
        np.testing.assert_allclose(a, b, **tol[dtype])
    np.testing.assert_allclose(lean_out, full_out, **tol[dtype])


@pytest.mark.parametrize("solver", ["rmsprop", "adagrad", "adamw"])
def test_solvers_beyond_scikit_learns_run_the_full_kernels(solver, monkeypatch):
    # The lean update compiles sgd and adam only: any other solver routed
    # there would silently run sgd's loop.
    from fastbp import MLPClassifier
    from fastbp.training.backend import CPUBackend

    calls = []
    real = CPUBackend.network
    monkeypatch.setattr(CPUBackend, "network", lambda self, toolkit, out_code: calls.append(
        toolkit) or real(self, toolkit, out_code))
    X = np.random.RandomState(0).standard_normal((40, 3))
    MLPClassifier((4,), solver=solver, max_iter=1).fit(X, np.arange(40) % 2)
    assert calls[0] is True  # the fit; the predictions after it may run lean


def test_train_epoch_flushes_subnormals_and_restores_the_callers_mode():
    # Inside train_epoch subnormals are flushed (fpenv); the caller's
    # floating-point mode is back when it returns.
    import platform

    from sklearn.datasets import load_digits

    from fastbp import MLPClassifier
    from fastbp.kernels import fpenv

    tiny = np.float32(1e-40)  # subnormal in float32
    assert tiny * np.float32(1.5) != 0
    X, y = load_digits(return_X_y=True)
    MLPClassifier((8,), max_iter=2).fit((X[:200] / 16).astype(np.float32), y[:200])
    assert tiny * np.float32(1.5) != 0, "train_epoch left flush-to-zero on"

    @numba.njit
    def inside(x, out):
        # Stored results, as in the kernels: a store cannot move past the
        # mode switch (a pure product could, and LLVM would CSE the two).
        old = fpenv.flush_denormals()
        out[0] = x[0] * np.float32(1.5)
        fpenv.restore_denormals(old)
        out[1] = x[1] * np.float32(1.5)

    out = np.ones(2, dtype=np.float32)
    inside(np.array([tiny, tiny]), out)
    if platform.machine().lower() in ("x86_64", "amd64"):
        assert out[0] == 0
    assert out[1] != 0


def test_kernels_compile_without_reference_counting_and_leave_the_callers_arrays_alone():
    # fastbp._config compiles every CPU kernel without Numba's NRT: no atomic
    # increment or decrement around each layer view and call (they were 15 %
    # of a small network's epoch), and nothing of the caller's left referenced.
    import sys

    from fastbp._config import kernel

    @kernel
    def inner(a):
        view = views.layer_view(a, 1, 2, 2)
        view[0, 0] = 7.0
        return view[0, 0] + view[1, 1]

    @numba.njit(**config._NJIT_OPTIONS)
    def outer(a, b):
        b[:, 1] = inner(a) + a[1:5].sum()
        return b.shape[0]

    a = np.arange(6.0)
    b = np.zeros((3, 2))
    before = sys.getrefcount(a), sys.getrefcount(b)
    for _ in range(3):
        assert outer(a, b) == 3
    assert a.tolist() == [0, 7, 2, 3, 4, 5]
    assert b[:, 1].tolist() == [11.0 + 16.0] * 3
    assert (sys.getrefcount(a), sys.getrefcount(b)) == before
    assert "NRT_incref" not in "".join(outer.inspect_llvm().values())

    # Every entry point and inner kernel carries the option.
    from fastbp.kernels import lean
    from fastbp.kernels.codes import OUT_SOFTMAX

    kernels = [network.train_epoch, network.backward, optimizers.update_range,
               activations.bias_activation, *vars(lean.for_output(OUT_SOFTMAX)).values()]
    assert all(k.targetoptions["_nrt"] is config.NRT for k in kernels)
    # NRT stays off wherever NumPy's CBLAS does the products (CI's wheels).
    assert config.NRT is (os.environ.get("FASTBP_BLAS", "").lower() == "scipy"
                          or not blas.NUMPY_BLAS)
    # The toolkit's loss and predictions allocate for sparse X (np.arange),
    # in each output function's copy too.
    from fastbp.kernels import full

    toolkit = full.for_output(OUT_SOFTMAX)
    for k in (network.loss_and_gradient, network.predict, toolkit.loss_and_gradient,
              toolkit.predict):
        assert k.targetoptions["_nrt"] is True
    assert toolkit.train_epoch.targetoptions["_nrt"] is config.NRT


def test_borrowed_arrays_share_the_callers_memory_and_leave_its_references_alone():
    # The entry points borrow their arguments without NRT's reference
    # counting (fastbp.kernels.refcount): views of them must still read and
    # write the caller's memory, and nothing may be left referenced.
    import sys

    from fastbp.kernels.refcount import borrowed

    @numba.njit
    def write_through_views(a, b):
        a = borrowed(a)
        b, scale = borrowed((b, 1.0))  # records too, scalars untouched
        view = a[1:5].reshape((2, 2))
        view[0, 0] = 7.0
        b[:, 1] = view.sum() * scale
        return view.sum() + b.shape[0]

    a = np.arange(6.0)
    b = np.zeros((3, 2))
    before = sys.getrefcount(a), sys.getrefcount(b)
    for _ in range(3):
        assert write_through_views(a, b) == 7 + 2 + 3 + 4 + 3
    assert a.tolist() == [0, 7, 2, 3, 4, 5]
    assert b[:, 1].tolist() == [16.0] * 3
    assert (sys.getrefcount(a), sys.getrefcount(b)) == before
