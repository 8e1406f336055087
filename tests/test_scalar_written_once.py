"""Three formulas that were written a second time beside
``fastbp.kernels.scalar`` are written once there (fix-241):

* the validation loss of finished predictions
  (``kernels.losses.loss_from_output``) adds each output's loss through the
  terms the training rows add (``cross_entropy_term``,
  ``binary_cross_entropy_term``, ``poisson_term``, ``half_square``);
* layer norm's gradient of one element (``layer_norm_delta``), which the
  CPU and CUDA ``layer_norm_backward`` both call;
* the GPU's float32 fallback for a running variance that overflowed
  (``running_var_rescaled``), which shares ``running_update`` with
  ``running_statistics``. The CPU has no such fallback: its statistics are
  float64, its running variance rounded once.

Each shared function is checked against its formula in NumPy; the
validation loss against ``tests/naive.py`` and, bit for bit, against the
values it gave before the terms were shared; and, in a process of its own
under numba-cuda's simulator, the CUDA kernels against their CPU twins.
"""

import ast
import inspect
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import naive
from fastbp._config import python_twin
from fastbp.kernels import codes, scalar
from fastbp.kernels import losses as kloss
from fastbp.kernels import normalization as knorm
from fastbp.kernels.activations import cpu_scalar

ROOT = Path(__file__).resolve().parents[1]
DTYPES = [np.float32, np.float64]
DTYPE_IDS = ["float32", "float64"]
CUDA_NORMALIZATION = ROOT / "fastbp" / "kernels" / "cuda" / "normalization.py"


def _cuda_source(name):
    """The source of function ``name`` of the CUDA normalisation module,
    read without importing numba.cuda."""
    text = CUDA_NORMALIZATION.read_text()
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.get_source_segment(text, node)
    raise AssertionError(f"no function {name} in {CUDA_NORMALIZATION}")


# ---------------------------------------------------------------------------
# Written once: the callers call the shared function, the formula is gone
# ---------------------------------------------------------------------------

def test_the_validation_loss_adds_the_training_rows_terms():
    src = inspect.getsource(kloss.loss_from_output.py_func)
    for name in ("cross_entropy_term", "binary_cross_entropy_term", "poisson_term",
                 "half_square"):
        assert f"{name}(" in src, name
        # The CPU kernels call the copy that compile_for made of scalar's.
        assert getattr(kloss, name) is getattr(cpu_scalar, name)
        assert getattr(kloss, name).py_func.__code__ is getattr(scalar, name).__code__
    # No loss formula of its own left: no log of a complement, no square,
    # no term subtracted from the row.
    for formula in ("row -=", "math.log(1 - q)", "0.5 * d * d", "- t)"):
        assert formula not in src, formula
    # The training rows add the same terms.
    for row, term in (("softmax_finish_row", "cross_entropy_term"),
                      ("logistic_loss_row", "binary_cross_entropy_term"),
                      ("poisson_loss_row", "poisson_term"),
                      ("squared_loss_row", "half_square")):
        assert term in getattr(scalar, row).__code__.co_names, row
        assert "log" not in getattr(scalar, row).__code__.co_names or row == "softmax_finish_row"


def test_both_layer_norm_backward_passes_call_layer_norm_delta():
    cpu = inspect.getsource(knorm.layer_norm_backward.py_func)
    gpu = _cuda_source("layer_norm_backward")
    assert knorm.layer_norm_delta is cpu_scalar.layer_norm_delta
    for src in (cpu, gpu):
        assert "layer_norm_delta(" in src
        # The formula's ``- sg - xhat * sgx`` is scalar's alone.
        assert "- sg" not in src and "sgx)" not in src.replace("sg, sgx)", "")


def test_the_gpu_running_variance_fallback_is_scalars():
    gpu = _cuda_source("running_var_overflowed")
    assert "running_var_rescaled(" in gpu
    body = gpu.split('"""')[-1]
    for formula in ("- momentum", "nb - 1", "* big", "* c"):
        assert formula not in body, formula
    # ``(1 - momentum) old + add`` is written once, in running_update,
    # which running_statistics and the fallback both call.
    for name in ("running_statistics", "running_var_rescaled"):
        func = getattr(scalar, name)
        assert "running_update" in func.__code__.co_names, name
        assert "- momentum)" not in inspect.getsource(func).split('"""')[-1], name


# ---------------------------------------------------------------------------
# The shared functions against their formulas in NumPy
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_the_loss_terms_are_their_formulas(dtype):
    ce = python_twin(cpu_scalar.cross_entropy_term)
    bce = python_twin(cpu_scalar.binary_cross_entropy_term)
    poisson = python_twin(cpu_scalar.poisson_term)
    half_square = python_twin(cpu_scalar.half_square)
    d = dtype
    row = d(1.5)
    # Computed in the operands' type, the term subtracted from the row.
    assert ce(row, d(0.25), d(-2.0)) == d(1.5) - d(0.25) * d(-2.0)
    assert ce(row, d(0), d(-np.inf)) == row  # xlogy: no 0 * -inf
    p = d(0.3)
    assert bce(row, d(1), p) == d(1.5) - d(1) * d(math.log(p))
    assert bce(row, d(0), p) == d(1.5) - d(1) * d(math.log(d(1) - p))
    soft = bce(row, d(0.25), p)
    want = 1.5 - 0.25 * math.log(0.3) - 0.75 * math.log(0.7)
    np.testing.assert_allclose(soft, want, rtol=4 * np.finfo(dtype).eps)
    assert bce(row, d(1), d(0)) == np.inf and bce(row, d(0), d(1)) == np.inf
    t, y = d(0.4), d(3.0)
    got = poisson(row, y, t, d(math.exp(t)) - y)
    want = 1.5 + 3.0 * (math.log(3.0) - 0.4) + (math.exp(0.4) - 3.0)
    np.testing.assert_allclose(got, want, rtol=4 * np.finfo(dtype).eps)
    assert poisson(row, d(0), d(-np.inf), d(2)) == d(3.5)  # 0 log 0 = 0
    assert half_square(d(-3.0)) == d(4.5)
    assert half_square(d(0.1)) == d(0.5) * d(0.1) * d(0.1)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_layer_norm_delta_is_its_formula(dtype):
    delta = python_twin(cpu_scalar.layer_norm_delta)
    eps = np.finfo(dtype).eps
    for g, gamma, xhat, c, m, sg, sgx in [(0.5, 1.3, -1.2, 0.03, 4, 1.5, -0.7),
                                          (-2.0, 0.7, 0.4, 1.1, 7, 0.0, 3.0)]:
        args = [dtype(v) for v in (g, gamma, xhat, c)]
        got = delta(*args, dtype(m), dtype(sg), dtype(sgx))
        g, gamma, xhat, c = (float(v) for v in args)
        want = c * (m * g * gamma - float(dtype(sg)) - xhat * float(dtype(sgx)))
        np.testing.assert_allclose(got, want, rtol=16 * eps)
        # gamma multiplies the element's gradient, not the sums.
        assert delta(*args[:1], dtype(2) * args[1], *args[2:], dtype(m), dtype(sg),
                     dtype(sgx)) != got


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_the_cpu_layer_norm_backward_is_naives(dtype):
    rng = np.random.default_rng(241)
    n, m = 5, 4
    h = rng.standard_normal((n, m))
    xhat, inv = naive.normalise(h, 1, 1e-5)[:2]
    g = rng.standard_normal((n, m))
    gamma = 1 + 0.5 * rng.standard_normal(m)
    want, dgamma_want, dbeta_want = naive.norm_backward(g, xhat, gamma, inv, 1)
    got = g.astype(dtype)
    dgamma, dbeta = np.empty(m, dtype), np.empty(m, dtype)
    python_twin(knorm.layer_norm_backward)(got, xhat.astype(dtype), gamma.astype(dtype),
                                           inv.ravel().astype(dtype), dgamma, dbeta)
    tol = dict(rtol=2e-4, atol=2e-5) if dtype is np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got, want, **tol)
    np.testing.assert_allclose(dgamma, dgamma_want, **tol)
    np.testing.assert_allclose(dbeta, dbeta_want, **tol)


@pytest.mark.parametrize("stats", DTYPES, ids=["gpu-float32", "cpu-float64"])
@pytest.mark.parametrize("n", [1, 2, 50])
def test_running_statistics_share_running_update(n, stats):
    update = python_twin(cpu_scalar.running_update)
    running = python_twin(cpu_scalar.running_statistics)
    s = stats
    momentum = s(0.1)
    assert update(s(2.0), momentum * s(3.0), momentum) == (s(1) - momentum) * s(2.0) + \
        momentum * s(3.0)
    got = running(s(-1.25), s(0.5), s(4.0), s(0.01), n, momentum)
    unbiased = s(0.01) * s(n) / s(n - 1) if n > 1 else s(0.01)
    # The same operations in the same type: the same bits.
    assert got == (update(s(-1.25), momentum * s(4.0), momentum),
                   update(s(0.5), momentum * unbiased, momentum))


@pytest.mark.parametrize("n", [1, 2, 24])
def test_the_rescaled_running_variance_is_the_float64_one(n):
    """The GPU's float32 fallback gives what float64 statistics, rounded
    once, give (the CPU's way), where float32's variance overflows.

    Run as the simulator runs it, scalar's Python in NumPy scalars: the GPU
    compiles without fastmath, and the CPU, which never calls it, would
    reassociate its product."""
    rescaled = scalar.running_var_rescaled
    f = np.float32
    momentum, old = f(0.1), f(1.0)
    c = n / (n - 1) if n > 1 else 1.0
    # A batch variance of big**2 * var_s = 4.5e38: inf in float32.
    big, var_s = f(3e19), f(0.5)
    got = rescaled(old, f(np.inf), big, var_s, n, momentum)
    assert type(got) is f and np.isfinite(got)
    want = (1 - float(momentum)) * 1.0 + float(momentum) * (3e19 ** 2 * 0.5 * c)
    np.testing.assert_allclose(got, want, rtol=4e-7)
    # A finite variance whose var * n would overflow.
    got = rescaled(old, f(3e38), f(0), f(0), n, momentum)
    assert np.isfinite(got)
    np.testing.assert_allclose(got, 0.9 + float(momentum) * 3e38 * c, rtol=4e-7)
    # Where nothing overflows, running_statistics' variance, to rounding.
    got = rescaled(2.0, 3.0, 0.0, 0.0, n, 0.1)
    np.testing.assert_allclose(got, scalar.running_statistics(0.0, 2.0, 0.0, 3.0, n, 0.1)[1],
                               rtol=1e-15)


# ---------------------------------------------------------------------------
# The validation loss: naive's, and the bits it gave before (fix-241)
# ---------------------------------------------------------------------------

CASES = [("softmax", False), ("logistic", False), ("exp", False), ("exp", True),
         ("identity", False)]

#: loss_from_output's values at 2421cbc, before the terms were shared, of
#: :func:`loss_case`'s arrays: the shared terms must give the same bits.
BEFORE = {
    ('softmax', False, 'float32', False): float.fromhex('0x1.a8f77027d8745p+2'),
    ('softmax', False, 'float32', True): float.fromhex('0x1.21ca6c28ed66bp+2'),
    ('softmax', False, 'float64', False): float.fromhex('0x1.305ff23d069f1p+3'),
    ('softmax', False, 'float64', True): float.fromhex('0x1.ae72ba52080b3p+2'),
    ('logistic', False, 'float32', False): float.fromhex('0x1.2d044f361f411p+3'),
    ('logistic', False, 'float32', True): float.fromhex('0x1.135398b2e6e9dp+2'),
    ('logistic', False, 'float64', False): float.fromhex('0x1.e4ccc5befa315p+3'),
    ('logistic', False, 'float64', True): float.fromhex('0x1.13539c961630cp+2'),
    ('exp', False, 'float32', False): float.fromhex('0x1.4c5524993ca10p+4'),
    ('exp', False, 'float32', True): float.fromhex('0x1.c2b7627e5ab78p+3'),
    ('exp', False, 'float64', False): float.fromhex('0x1.4c5524f4bc2bdp+4'),
    ('exp', False, 'float64', True): float.fromhex('0x1.c2b76316421a9p+3'),
    ('exp', True, 'float32', False): float.fromhex('0x1.87a79272dd450p+6'),
    ('exp', True, 'float32', True): float.fromhex('0x1.2480d03a3c1edp+6'),
    ('exp', True, 'float64', False): float.fromhex('0x1.87a79261bc451p+6'),
    ('exp', True, 'float64', True): float.fromhex('0x1.2480d097111a6p+6'),
    ('identity', False, 'float32', False): float.fromhex('0x1.aff56910c2632p+4'),
    ('identity', False, 'float32', True): float.fromhex('0x1.7db79a8262839p+4'),
    ('identity', False, 'float64', False): float.fromhex('0x1.aff5686ea6236p+4'),
    ('identity', False, 'float64', True): float.fromhex('0x1.7db799aa97fd5p+4'),
}


def loss_case(out, pre_exp, dtype, weighted):
    """``(p, y, sw)`` for output ``out``, with clipped probabilities, soft
    binary targets, zero counts and a tiny prediction among them."""
    rng = np.random.default_rng(241)
    n, m = 7, 3
    sw = (0.25 + rng.random(n)).astype(dtype) if weighted else np.empty(0, dtype)
    if out == "softmax":
        e = np.exp(3 * rng.standard_normal((n, m)))
        p = e / e.sum(axis=1, keepdims=True)
        p[0] = [1.0, 0.0, 0.0]
        y = np.eye(m)[rng.integers(0, m, n)]
        y[0] = [0, 1, 0]
    elif out == "logistic":
        p = 1 / (1 + np.exp(-4 * rng.standard_normal((n, m))))
        p[0] = [0.0, 1.0, 0.5]
        y = (rng.random((n, m)) < 0.5).astype(float)
        y[1] = [0.25, 0.5, 0.9]
    elif out == "exp":
        t = 2 * rng.standard_normal((n, m))
        t[0, 0] = -200.0 if pre_exp else -20.0
        p = t if pre_exp else np.exp(t)
        y = rng.poisson(2.0, (n, m)).astype(float)
        y[0, 0] = 3.0
    else:
        p = 5 * rng.standard_normal((n, m))
        y = 5 * rng.standard_normal((n, m))
    return np.ascontiguousarray(p, dtype), np.ascontiguousarray(y, dtype), sw


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("out, pre_exp", CASES, ids=[f"{o}{'-pre_exp' * e}" for o, e in CASES])
def test_the_validation_loss_keeps_its_bits_and_is_naives(out, pre_exp, dtype, weighted):
    p, y, sw = loss_case(out, pre_exp, dtype, weighted)
    eps = dtype(np.finfo(dtype).eps)
    got = kloss.loss_from_output(p, y, sw, weighted, codes.OUTPUT_FUNCTIONS[out], eps, pre_exp)
    assert got == BEFORE[(out, pre_exp, np.dtype(dtype).name, weighted)]
    # naive's loss of the same values in float64 (float32's outputs minus
    # targets are rounded in float32 by the kernel).
    pred = np.exp(p.astype(float)) if pre_exp else p.astype(float)
    want = naive.output_loss(y.astype(float), pred, out, sw.astype(float) if weighted else None,
                             float(eps))
    rtol = 1e-6 if dtype is np.float32 and out in ("exp", "identity") else 1e-13
    np.testing.assert_allclose(got, want, rtol=rtol)


# ---------------------------------------------------------------------------
# The CUDA kernels against their CPU twins, under the simulator
# ---------------------------------------------------------------------------

_SIMULATED = textwrap.dedent("""
    import numpy as np
    from fastbp._config import python_twin
    from fastbp.kernels import normalization as knorm, scalar
    from fastbp.kernels.cuda import normalization as gnorm
    from fastbp.kernels.network import (ACT, AL_OFF, A_OFF, BE_OFF, G_OFF, H_OFF, N_NET_ROWS,
                                        N_BUF_ROWS, O_OFF, RES, R_OFF, S_OFF, UNITS, Z_OFF)

    B = N_NET_ROWS
    for name in ("layer_norm_delta", "running_var_rescaled", "running_statistics"):
        assert getattr(gnorm, name).py_func.__code__ is getattr(scalar, name).__code__, name

    def table(nb, m):
        # One hidden layer, l = 0: its h, z, a and output after one another.
        tab = np.zeros((N_NET_ROWS + N_BUF_ROWS, 1), np.int64)
        tab[UNITS, 0] = m
        tab[G_OFF, 0], tab[BE_OFF, 0] = 0, m
        tab[ACT, 0], tab[RES, 0] = 0, 0
        for k, row in enumerate((H_OFF, Z_OFF, A_OFF, O_OFF)):
            tab[B + row, 0] = k * nb * m
        tab[B + S_OFF, 0] = tab[B + R_OFF, 0] = 0
        tab[B + AL_OFF, 0] = -1
        return tab

    def rel(a, b):
        a, b = np.asarray(a, float), np.asarray(b, float)
        return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))

    checked = 0
    rng = np.random.default_rng(241)
    nb, m = 5, 4
    for dt in (np.float32, np.float64):
        tol = 1e-5 if dt is np.float32 else 1e-12
        # Layer norm's backward pass, one thread per row.
        g = rng.standard_normal((nb, m)).astype(dt)
        xhat = rng.standard_normal((nb, m)).astype(dt)
        gamma = (1 + 0.5 * rng.standard_normal(m)).astype(dt)
        inv = (0.5 + rng.random(nb)).astype(dt)
        want = g.copy()
        python_twin(knorm.layer_norm_backward)(want, xhat, gamma, inv, np.empty(m, dt),
                                               np.empty(m, dt))
        tab = table(nb, m)
        acts = np.zeros(4 * nb * m, dt)
        acts[tab[B + H_OFF, 0]:][:nb * m] = xhat.ravel()
        acts[tab[B + Z_OFF, 0]:][:nb * m] = g.ravel()
        params = np.concatenate([gamma, np.zeros(m, dt)])
        gnorm.layer_norm_backward[1, 8](0, nb, tab, params, acts, inv.copy())
        got = acts[tab[B + Z_OFF, 0]:][:nb * m].reshape(nb, m)
        assert rel(got, want) <= tol, (dt, rel(got, want))
        assert not np.array_equal(got, g)
        checked += 1
        # Batch norm's forward pass in training, one thread per unit: the
        # running statistics (and xhat, inv) against the CPU's float64 ones.
        # In float32 a scale of 1e19 overflows the GPU's float32 variance:
        # its fallback, running_var_overflowed.
        for scale in ((1.0, 3e19) if dt is np.float32 else (1.0,)):
            h = (scale * rng.standard_normal((nb, m))).astype(dt)
            with np.errstate(over="ignore"):
                overflows = np.isinf(((h - h.mean(axis=0)) ** 2).sum(axis=0)).any()
            assert overflows == (scale > 1), (dt, scale)
            r_mean = rng.standard_normal(m).astype(dt)
            r_var = (0.5 + rng.random(m)).astype(dt)
            momentum, eps = dt(0.1), dt(1e-5)
            cpu_h, cpu_mean, cpu_var = h.copy(), r_mean.copy(), r_var.copy()
            cpu_inv, z, a = np.empty(m, dt), np.empty((nb, m), dt), np.empty((nb, m), dt)
            python_twin(knorm.batch_norm_forward)(cpu_h, gamma, np.zeros(m, dt), eps, True,
                                                  cpu_mean, cpu_var, momentum, cpu_inv, 0,
                                                  z, a)
            acts = np.zeros(4 * nb * m, dt)
            acts[:nb * m] = h.ravel()
            running = np.concatenate([r_mean, r_var])
            stats = np.empty(m, dt)
            gnorm.batch_norm_forward[1, 8](0, nb, tab, params, acts, stats, running,
                                           np.empty(1, dt), np.zeros(m, dt), dt(0), 0, 0,
                                           True, momentum, eps)
            assert np.all(np.isfinite(running)), (dt, scale, running)
            assert rel(running[:m], cpu_mean) <= tol, (dt, scale, running[:m], cpu_mean)
            assert rel(running[m:], cpu_var) <= tol, (dt, scale, running[m:], cpu_var)
            assert not np.array_equal(running[m:], r_var)
            assert rel(stats, cpu_inv) <= tol, (dt, scale)
            assert rel(acts[:nb * m].reshape(nb, m), cpu_h) <= tol, (dt, scale)
            checked += 1
    print("checked", checked)
""")


def test_the_cuda_kernels_match_their_cpu_twins():
    """Under numba-cuda's simulator (which must be set before numba is
    imported, hence a process of its own)."""
    pytest.importorskip("numba.cuda")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    proc = subprocess.run([sys.executable, "-c", _SIMULATED], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "checked 5" in proc.stdout, proc.stdout
