"""Formulas that both targets share are written once, in
``fastbp.kernels.scalar`` (rev-225, fix-227): the optimizers' update
rules, the penalised loss, batch norm's running statistics and gradient,
and the logistic row's sigmoid.

Each function moved there is checked against its formula written in
NumPy, through the CPU's compiled copy (``python_twin``); the CPU kernels
that call it are checked to give what a Python loop over the same compiled
scalars gives; and, in a process of its own under numba-cuda's simulator,
the CUDA modules are checked to hold the same functions (the same code
object) and to give the same values.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from fastbp._config import python_twin
from fastbp.kernels import codes, scalar
from fastbp.kernels import optimizers as kopt
from fastbp.kernels.activations import cpu_scalar

ROOT = Path(__file__).resolve().parents[1]
DTYPES = [np.float32, np.float64]

#: A few (p, g, s1, s2) values: signs mixed, one zero gradient, one zero
#: state, magnitudes apart.
VALUES = [(0.7, -0.3, 0.05, 0.002), (-1.5, 2.0, -0.1, 0.3), (0.0, 0.0, 0.0, 0.0),
          (3e-3, 1e-4, 0.0, 0.0), (-20.0, -7.5, 1.25, 4.0)]
HYPER = dict(beta_1=0.9, beta_2=0.999, b1c=0.1, b2c=0.001, lr=0.01, lr_t=0.003,
             momentum=0.9, epsilon=1e-8)


def reference(name, p, g, s1, s2, h, decay=0.0, nesterov=False):
    """Each update rule written in NumPy, in the values' dtype."""
    sqrt = np.sqrt
    if name == "adam_update":
        m = h["beta_1"] * s1 + h["b1c"] * g
        v = h["beta_2"] * s2 + h["b2c"] * g * g
        return p - h["lr"] * decay * p - h["lr_t"] * m / (sqrt(v) + h["epsilon"]), m, v
    if name == "rmsprop_update":
        v = h["beta_2"] * s1 + h["b2c"] * g * g
        return p - h["lr"] * g / (sqrt(v) + h["epsilon"]), v
    if name == "adagrad_update":
        s = s1 + g * g
        return p - h["lr"] * g / (sqrt(s) + h["epsilon"]), s
    v = h["momentum"] * s1 - h["lr"] * g
    return p + (h["momentum"] * v - h["lr"] * g if nesterov else v), v


def call(func, name, p, g, s1, s2, h, decay, nesterov):
    """``func`` (a compiled update rule) with its arguments by rule."""
    if name == "adam_update":
        return func(p, g, s1, s2, h["beta_1"], h["beta_2"], h["b1c"], h["b2c"], h["lr"],
                    h["lr_t"], decay, h["epsilon"])
    if name == "rmsprop_update":
        return func(p, g, s1, h["beta_2"], h["b2c"], h["lr"], h["epsilon"])
    if name == "adagrad_update":
        return func(p, g, s1, h["lr"], h["epsilon"])
    return func(p, g, s1, h["lr"], h["momentum"], nesterov)


RULES = [("adam_update", 0.0, False), ("adam_update", 0.01, False),
         ("rmsprop_update", 0.0, False), ("adagrad_update", 0.0, False),
         ("sgd_update", 0.0, False), ("sgd_update", 0.0, True)]
RULE_IDS = ["adam", "adamw", "rmsprop", "adagrad", "sgd", "sgd-nesterov"]


def test_the_update_rules_are_registered_and_compiled_from_scalar():
    names = {f.__name__ for f in scalar.FUNCTIONS}
    for name in ("adam_update", "rmsprop_update", "adagrad_update", "sgd_update"):
        assert name in names
        # The CPU kernels call the copy that compile_for made of scalar's.
        assert getattr(kopt, name) is getattr(cpu_scalar, name)
        assert getattr(kopt, name).py_func.__code__ is getattr(scalar, name).__code__


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name, decay, nesterov", RULES, ids=RULE_IDS)
def test_each_update_rule_is_its_formula(name, decay, nesterov, dtype):
    func = python_twin(getattr(cpu_scalar, name))
    h = {k: dtype(v) for k, v in HYPER.items()}
    eps = np.finfo(dtype).eps
    for p, g, s1, s2 in VALUES:
        if name in ("rmsprop_update", "adagrad_update"):
            s1 = abs(s1)  # a mean square or a sum of squares
        args = [dtype(x) for x in (p, g, s1, s2)]
        got = call(func, name, *args, h, dtype(decay), nesterov)
        want = reference(name, *args, h, dtype(decay), nesterov)
        assert len(got) == len(want)
        for a, b in zip(got, want):
            # Computed in the arguments' type: a float32 result (boxed as a
            # Python float) is a float32 value.
            assert float(dtype(a)) == float(a)
            # fastmath may contract a multiply-add: a few roundings apart.
            np.testing.assert_allclose(a, b, rtol=8 * eps, atol=8 * eps * abs(float(b)) + 1e-30)
    # A rule that ignored its state (or the momentum) would give these twice.
    p, g, s1, s2 = (dtype(x) for x in VALUES[0])
    assert call(func, name, p, g, s1, s2, h, dtype(decay), nesterov)[0] != call(
        func, name, p, g, s1 + dtype(1), s2 + dtype(1), h, dtype(decay), nesterov)[0]


SOLVERS = [("adam", False), ("adamw", False), ("rmsprop", False), ("adagrad", False),
           ("sgd", False), ("sgd", True)]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("solver, nesterov", SOLVERS, ids=RULE_IDS)
def test_one_cpu_optimizer_step_is_the_scalar_rules_in_a_loop(solver, nesterov, dtype):
    """optimizer_step (vectorised, one loop per solver) against the same
    step through the compiled scalars one parameter at a time."""
    units = np.array([3, 4, 2], dtype=np.int64)
    w_off = np.array([0, 12], dtype=np.int64)
    n_weights = 20
    n_params = n_weights + 4 + 2
    rs = np.random.RandomState(227)
    params = rs.standard_normal(n_params).astype(dtype)
    grads = rs.standard_normal(n_params).astype(dtype)
    state_1 = (0.1 * rs.standard_normal(n_params)).astype(dtype)
    state_2 = (0.01 * rs.random_sample(n_params)).astype(dtype)
    dt = dtype
    alpha, l1, scale, coef = dt(0.2), dt(0.02), dt(0.25), dt(0.7)
    h = {k: dt(v) for k, v in HYPER.items()}
    code = codes.SOLVERS[solver]

    penalised = python_twin(cpu_scalar.penalised)
    rule = python_twin(getattr(cpu_scalar, {"adam": "adam_update", "adamw": "adam_update"}
                               .get(solver, f"{solver}_update")))
    p_ref, s1_ref, s2_ref = params.copy(), state_1.copy(), state_2.copy()
    decoupled = solver == "adamw"
    for i in range(n_params):
        weight = i < n_weights
        a_g = alpha if weight and not decoupled else dt(0)
        decay = alpha if weight and decoupled else dt(0)
        g = penalised(p_ref[i], grads[i], a_g, l1 if weight else dt(0), scale) * coef
        out = call(rule, "adam_update" if solver == "adamw" else f"{solver}_update",
                   p_ref[i], g, s1_ref[i], s2_ref[i], h, decay, nesterov)
        p_ref[i], s1_ref[i] = out[0], out[1]
        if len(out) == 3:
            s2_ref[i] = out[2]

    start = params.copy()
    layer_sq = np.zeros(2, dtype)
    python_twin(kopt.optimizer_step)(
        params, grads, state_1, state_2, units, w_off, n_weights, code, alpha, l1, scale,
        coef, h["lr"], h["lr_t"], h["momentum"], nesterov, h["beta_1"], h["beta_2"],
        h["b1c"], h["b2c"], h["epsilon"], layer_sq)
    assert np.all(params != start)
    eps = np.finfo(dtype).eps
    for got, want in ((params, p_ref), (state_1, s1_ref), (state_2, s2_ref)):
        # The vectorised loop may contract multiply-adds where the scalar
        # call does not: a few roundings apart at most.
        np.testing.assert_allclose(got, want, rtol=8 * eps, atol=0)



@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_the_penalised_loss_adds_only_the_penalties_that_apply(dtype):
    add_penalty = python_twin(cpu_scalar.add_penalty)
    alpha, l1 = dtype(0.2), dtype(0.1)
    # The kernels' sums are float64: the terms are added one at a time, so
    # the result is this sum exactly.
    want = (1.5 + 0.5 * float(alpha) * 3.0) + float(l1) * 4.0
    assert add_penalty(1.5, alpha, l1, 3.0, 4.0) == want
    assert add_penalty(1.5, dtype(0), l1, 3.0, 4.0) == 1.5 + float(l1) * 4.0
    assert add_penalty(1.5, alpha, dtype(0), 3.0, 4.0) == 1.5 + 0.5 * float(alpha) * 3.0
    # 0 times an overflowed sum is NaN: a penalty that does not apply stays out.
    assert add_penalty(1.5, dtype(0), l1, np.inf, 4.0) == 1.5 + float(l1) * 4.0
    assert add_penalty(1.5, alpha, dtype(0), 3.0, np.inf) == 1.5 + 0.5 * float(alpha) * 3.0
    assert add_penalty(1.5, dtype(0), dtype(0), np.inf, np.inf) == 1.5
    assert add_penalty(1.5, alpha, l1, np.inf, 4.0) == np.inf


@pytest.mark.parametrize("stats", [np.float64, np.float32], ids=["cpu-float64", "gpu-float32"])
@pytest.mark.parametrize("n", [1, 2, 50])
def test_running_statistics_are_their_formula(n, stats):
    """The CPU passes float64 batch statistics, the GPU its dtype's."""
    running = python_twin(cpu_scalar.running_statistics)
    eps = np.finfo(stats).eps
    for old_mean, old_var, mean, var in [(0.0, 1.0, 0.3, 2.0), (-1.25, 0.5, 4.0, 0.01)]:
        momentum = stats(0.1)
        got = running(stats(old_mean), stats(old_var), stats(mean), stats(var), n, momentum)
        unbiased = var * n / (n - 1) if n > 1 else var
        m = float(momentum)
        want = ((1 - m) * old_mean + m * mean, (1 - m) * old_var + m * unbiased)
        np.testing.assert_allclose(got, want, rtol=8 * eps)
        assert float(stats(got[0])) == got[0] and float(stats(got[1])) == got[1]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_the_batch_norm_delta_is_its_formula(dtype):
    delta = python_twin(cpu_scalar.batch_norm_delta)
    eps = np.finfo(dtype).eps
    for g, xhat, c, n, sg, sgx in [(0.5, -1.2, 0.03, 32, 1.5, -0.7), (-2.0, 0.4, 1.1, 7, 0.0, 3.0)]:
        got = delta(dtype(g), dtype(xhat), dtype(c), dtype(n), dtype(sg), dtype(sgx))
        want = float(dtype(c)) * (n * float(dtype(g)) - float(dtype(sg))
                                  - float(dtype(xhat)) * float(dtype(sgx)))
        np.testing.assert_allclose(got, want, rtol=16 * eps)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_the_logistic_row_takes_sigmoid(dtype):
    assert "sigmoid" in scalar.logistic_loss_row.__code__.co_names
    assert "exp" not in scalar.logistic_loss_row.__code__.co_names
    row = python_twin(cpu_scalar.logistic_loss_row)
    sigmoid = python_twin(cpu_scalar.sigmoid)
    z = np.array([[-3.0, 0.25, 40.0]], dtype)
    bias = np.array([0.5, -0.1, 0.0], dtype)
    y = np.array([[0.0, 1.0, 1.0]], dtype)
    delta = np.empty_like(z)
    want = [sigmoid(z[0, j] + bias[j]) for j in range(3)]
    eps = np.finfo(dtype).eps
    row(z, 0, bias, y, dtype(1), dtype(eps), dtype(1 - eps), delta)
    assert list(z[0]) == want
    assert list(delta[0]) == [float(dtype(w - t)) for w, t in zip(want, y[0])]

#: (CUDA module, name) of every function moved to scalar by fix-227.
GPU_NAMES = [("optimizers", "adam_update"), ("optimizers", "rmsprop_update"),
             ("optimizers", "adagrad_update"), ("optimizers", "sgd_update"),
             ("normalization", "running_statistics"), ("normalization", "batch_norm_delta")]

_SIMULATED = textwrap.dedent("""
    import importlib, sys
    import numpy as np
    from fastbp.kernels import scalar
    sys.path.insert(0, {tests!r})
    from test_scalar_shared_formulas import HYPER, VALUES, call, reference
    for module, name in {names!r}:
        func = getattr(importlib.import_module("fastbp.kernels.cuda." + module), name)
        # The simulator runs the device function's Python: scalar's own code.
        assert func.py_func.__code__ is getattr(scalar, name).__code__, (module, name)
        if name.endswith("_update"):
            for dtype in (np.float32, np.float64):
                h = {{k: dtype(v) for k, v in HYPER.items()}}
                for nesterov in (False, True):
                    for p, g, s1, s2 in VALUES:
                        args = [dtype(x) for x in (p, g, abs(s1), s2)]
                        got = call(func, name, *args, h, dtype(0.01), nesterov)
                        want = reference(name, *args, h, dtype(0.01), nesterov)
                        np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
    # The host's penalised loss (Python, over the record's float64 rows)
    # is scalar's, its coefficients as Python floats.
    from fastbp.kernels.cuda import network
    loss = np.array([1.5, 2.0])
    got = network._add_penalty(loss, np.float32(0.2), np.float32(0.1), np.array([3.0, np.inf]),
                               np.array([4.0, 1.0]))
    want = scalar.add_penalty(loss, float(np.float32(0.2)), float(np.float32(0.1)),
                              np.array([3.0, np.inf]), np.array([4.0, 1.0]))
    assert got.dtype == np.float64 and got[0] == want[0] and got[1] == np.inf, got
    assert network._add_penalty(loss, np.float32(0), np.float32(0.1), np.array([np.inf] * 2),
                                np.array([4.0, 1.0]))[0] == 1.5 + float(np.float32(0.1)) * 4.0
    print("checked", len({names!r}))
""")


def test_the_cuda_modules_call_the_same_functions():
    """Under numba-cuda's simulator (which must be set before numba is
    imported, hence a process of its own)."""
    pytest.importorskip("numba.cuda")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    code = _SIMULATED.format(tests=str(ROOT / "tests"), names=GPU_NAMES)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"checked {len(GPU_NAMES)}" in proc.stdout
