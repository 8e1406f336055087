"""Four more scalar formulas that both targets share are written once, in
``fastbp.kernels.scalar``:

* Adam's bias-corrected step size (``adam_step_size``) and AdamW's
  corrected epsilon (``adamw_epsilon``), which the CPU's ``train_epoch``,
  the split kernel's ``train_epoch_split`` and the CUDA host's
  ``train_epoch`` had each written out;
* the scaled fallback of ``1 / sqrt(var + eps)`` (``inv_std_scaled``), in
  the CPU and CUDA ``scaled_inv_std``;
* splitmix64's mixing step (``splitmix_mix``), in the CPU's dropout stream
  and the GPU's counter-based masks.

Checked here: each caller calls the shared function and writes no copy of
its formula (read from the source, so that the CUDA modules need not be
imported); the CPU's compiled copy (``python_twin``) gives, bit for bit,
what scalar's Python gives on NumPy scalars (what the CUDA host and the
simulator run) and what the formula it replaced gave, in float32 and
float64. Also: the split kernel keeps no AdamW branch (the trainer never
sends it AdamW), and ``SplitEpoch`` refuses any solver but sgd and adam
rather than run a step the kernel does not implement.
"""

import ast
import inspect
import math
from pathlib import Path
from types import SimpleNamespace

import numba
import numpy as np
import pytest

import naive
from fastbp._config import _NJIT_OPTIONS, python_twin
from fastbp.kernels import codes, scalar
from fastbp.kernels import dropout as kdrop
from fastbp.kernels import normalization as knorm
from fastbp.kernels.activations import cpu_scalar
from fastbp.kernels.dtypes import like
from fastbp.kernels.records import Hyper, Split, Tables, Work
from fastbp.training.split import SplitEpoch

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ROOT / "fastbp" / "kernels"
DTYPES = [np.float32, np.float64]
DTYPE_IDS = ["float32", "float64"]
NEW = ("adam_step_size", "adamw_epsilon", "inv_std_scaled", "splitmix_mix")


def _function_source(path, name):
    """The source of the top-level function ``name`` in ``path``, read
    without importing it."""
    text = path.read_text()
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.get_source_segment(text, node)
    raise AssertionError(f"no function {name} in {path}")


def _code(src):
    """``src`` without its docstring and comments: what it computes."""
    tree = ast.parse(src)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            body[0] = ast.Pass()
    return ast.unparse(tree)


# ---------------------------------------------------------------------------
# Written once
# ---------------------------------------------------------------------------

def test_the_new_functions_are_scalars_compiled_for_both_targets():
    names = [f.__name__ for f in scalar.FUNCTIONS]
    for name in NEW:
        assert name in names, name
        # Inlined into the CPU's kernels like the other update formulas.
        assert name in scalar.INLINE_FUNCTIONS, name
        assert getattr(cpu_scalar, name).py_func.__code__ is getattr(scalar, name).__code__


@pytest.mark.parametrize("path, func", [
    ("network.py", "train_epoch"),
    ("split.py", "train_epoch_split"),
    ("cuda/network.py", "train_epoch"),
])
def test_every_adam_step_calls_adam_step_size(path, func):
    src = _code(_function_source(KERNELS / path, func))
    assert "adam_step_size(" in src
    # No bias correction of its own left: no power of a beta.
    for formula in ("pow(", "**", "beta_2c)", "sqrt("):
        assert formula not in src, (path, formula)
    if path != "split.py":
        assert "adamw_epsilon(" in src


def test_adams_step_size_and_adamws_epsilon_share_their_correction():
    # sqrt(1 - beta_2**t) is written once, in the function both call.
    for name in ("adam_step_size", "adamw_epsilon"):
        src = _code(inspect.getsource(getattr(scalar, name)))
        assert "adam_second_correction(" in src, name
        assert "sqrt" not in src, name


def test_the_split_kernel_has_no_adamw_branch():
    src = _code((KERNELS / "split.py").read_text())
    assert "ADAMW" not in src
    # AdamW's decoupled decay is not passed to the update either.
    assert "decay" not in _code(_function_source(KERNELS / "split.py", "update_block"))


def test_both_scaled_inv_std_call_inv_std_scaled():
    for path in ("normalization.py", "cuda/normalization.py"):
        src = _code(_function_source(KERNELS / path, "scaled_inv_std"))
        assert "inv_std_scaled(" in src, path
        assert "sqrt" not in src and "eps / big" not in src, path


def test_both_dropouts_call_splitmix_mix():
    cpu = _code(_function_source(KERNELS / "dropout.py", "next_uniform"))
    gpu_src = (KERNELS / "cuda" / "dropout.py").read_text()
    gpu = _code(_function_source(KERNELS / "cuda" / "dropout.py", "keep_weight"))
    for src in (cpu, gpu):
        assert "splitmix_mix(" in src
        assert "_MIX_1" not in src and "_S30" not in src
    # The GPU's own copy of the step is gone.
    assert "def mix(" not in gpu_src and "_MIX_2" not in gpu_src
    # The mixing constants live in scalar alone.
    for path in ("dropout.py", "cuda/dropout.py"):
        assert "0xBF58476D1CE4E5B9" not in (KERNELS / path).read_text(), path


# ---------------------------------------------------------------------------
# The CPU's compiled copy against scalar's Python and the formulas replaced
# ---------------------------------------------------------------------------

def _same(a, b):
    """Bit for bit, ``b`` a NumPy scalar: ``a`` of its type, or a Python
    float (what a compiled function returns to Python) that holds a value
    of its type."""
    if isinstance(a, float) and not isinstance(a, np.generic):
        if type(b)(a) != a:  # not a value of b's type: computed in another
            return False
        a = type(b)(a)
    return type(a) is type(b) and np.asarray(a).tobytes() == np.asarray(b).tobytes()


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_adam_step_size_and_adamw_epsilon_are_the_old_formulas(dtype):
    step = python_twin(cpu_scalar.adam_step_size)
    eps_of = python_twin(cpu_scalar.adamw_epsilon)
    dt = dtype
    for lr, beta_1, beta_2, eps in [(1e-3, 0.9, 0.999, 1e-8), (0.3, 0.5, 0.95, 1e-4),
                                    (7e-5, 0.99, 0.9999, 3e-7)]:
        lr, eps = dt(lr), dt(eps)
        b1c, b2c = dt(1.0 - beta_1), dt(1.0 - beta_2)
        for t in (1, 2, 3, 10, 77, 1000, 123457):
            # The CUDA host's formula before the function (Python floats,
            # rounded once to the dtype).
            old_lr_t = dt(float(lr) * np.sqrt(1.0 - (1.0 - float(b2c)) ** float(t))
                          / (1.0 - (1.0 - float(b1c)) ** float(t)))
            old_eps = dt(float(eps) * np.sqrt(1.0 - (1.0 - float(b2c)) ** float(t)))
            host = scalar.adam_step_size(lr, b1c, b2c, t)
            cpu = step(lr, b1c, b2c, np.int64(t))
            assert _same(host, old_lr_t), (t, host, old_lr_t)
            assert _same(cpu, old_lr_t), (t, cpu, old_lr_t)
            assert _same(scalar.adamw_epsilon(eps, b2c, t), old_eps)
            assert _same(eps_of(eps, b2c, np.int64(t)), old_eps)
        # The bias correction is there: at t = 1 the step is lr *
        # sqrt(b2c) / b1c, far from lr.
        assert abs(step(lr, b1c, b2c, np.int64(1)) / lr - math.sqrt(float(b2c)) / float(b1c)) \
            < 1e-5 * math.sqrt(float(b2c)) / float(b1c)


def _compiled_as_kernels(func):
    """``func`` compiled with the CPU kernels' settings (fastmath's
    reassociation included), callable from Python."""
    return numba.njit(**_NJIT_OPTIONS)(func)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_inv_std_scaled_is_the_formula_both_targets_wrote(dtype):
    inv = python_twin(cpu_scalar.inv_std_scaled)
    # The formula as the GPU wrote it (``like(1, acts) / ...``), compiled as
    # the CPU compiles its kernels; in float64 the CPU wrote ``1 / ...``.
    gpu_old = _compiled_as_kernels(
        lambda big, var, eps: like(1, big) / (big * math.sqrt(var + eps / big / big)))
    cpu_old = _compiled_as_kernels(
        lambda big, var, eps: 1 / (big * math.sqrt(var + eps / big / big)))
    dt = dtype
    for big, var_s, eps in [(3e19, 0.5, 1e-5), (1.5, 0.25, 1e-3), (2e30, 1.0, 1e-5),
                            (1e-3, 0.125, 1e-5)]:
        big, var_s, eps = dt(big), dt(var_s), dt(eps)
        cpu = inv(big, var_s, eps)
        assert _same(cpu, dt(gpu_old(big, var_s, eps))), (big, cpu)
        if dtype is np.float64:
            assert _same(cpu, dt(cpu_old(big, var_s, eps))), (big, cpu)
        # The GPU runs it without fastmath, as Python does on NumPy
        # scalars (the simulator): the formula in the dtype, in its order.
        with np.errstate(under="ignore"):
            host = scalar.inv_std_scaled(big, var_s, eps)
            want = dt(1) / (big * dt(math.sqrt(var_s + eps / big / big)))
        assert _same(host, want), (big, host, want)
        np.testing.assert_allclose(float(host), 1 / math.sqrt(float(big) ** 2 * float(var_s)
                                                              + float(eps)),
                                   rtol=4 * np.finfo(dtype).eps)


#: The CPU's scaled_inv_std of :func:`test_the_cpu_fallback_keeps_its_bits`'s
#: rows, before the formula moved to scalar (the code of a0a312d^, about the
#: rows' means summed in order).
INV_BEFORE = {1e160: float.fromhex("0x1.61b81ef91ad45p-531"),
              3.0: float.fromhex("0x1.86850e332793cp-2"),
              1e-150: float.fromhex("0x1.3c3a4edfa9758p+8")}


def test_the_cpu_fallback_keeps_its_bits():
    """The CPU kernel around the shared formula: the bits it gave before,
    and ``1 / std`` of a row whose variance, summed as it is, overflows
    float64."""
    f = python_twin(knorm.scaled_inv_std)
    rng = np.random.default_rng(314)
    for scale, before in INV_BEFORE.items():
        x = scale * rng.standard_normal(7)
        # The mean summed in order, in scalar float64: the kernel's own steps
        # are scalar too, so the bits are the same on every CPU. NumPy's
        # mean may sum in another order on another CPU: the 1e160 row's pin,
        # taken about it on an AVX-512 Xeon, was one ulp from what the same
        # code at a0a312d^ gives on an AVX2 EPYC.
        mean = np.float64(0.0)
        for value in x:
            mean += value
        got = f(x, mean / np.float64(len(x)), np.float64(1e-5))
        assert got == before, (scale, float(got).hex())
        if scale > 1e154:
            with np.errstate(over="ignore"):
                assert np.isinf(np.sum((x - x.mean()) ** 2))
            np.testing.assert_allclose(got, 1 / np.std(x / scale) / scale, rtol=1e-13)


def test_splitmix_mix_is_splitmix64s_finaliser():
    mix = python_twin(cpu_scalar.splitmix_mix)
    for x in (0, 1, 0x9E3779B97F4A7C15, 2**63, 2**64 - 1, 123456789123456789):
        assert int(mix(np.uint64(x))) == naive._splitmix_finaliser(x), hex(x)
    # The CPU's dropout stream, through it, is still splitmix64's.
    state = np.array([42], dtype=np.uint64)
    nxt = python_twin(kdrop.next_uniform)
    got = [nxt(state) for _ in range(20)]
    want, s = naive.splitmix_uniforms(42, 20)
    np.testing.assert_array_equal(got, want)
    assert int(state[0]) == s


# ---------------------------------------------------------------------------
# The split path runs sgd and adam only
# ---------------------------------------------------------------------------

def _split_epoch(calls):
    def train_epoch_split(inputs, targets, tables, work, solver, hyper, rows, batch_size, t,
                          loss_sum, layer_sq, first_sq, split):
        assert isinstance(split, Split)
        calls.append(hyper.solver)
        return 0.0, t + 1, True

    buf = np.zeros((2, 2), dtype=np.int64)
    tables = Tables(buf, buf, np.zeros(1), 0)
    empty = np.zeros(1)
    work = Work(*([empty] * 10))
    records = (None, None, tables, work, None)
    return SplitEpoch(SimpleNamespace(train_epoch_split=train_epoch_split), records, 2)


def _hyper(solver):
    return Hyper(*([0] * len(Hyper._fields)))._replace(solver=solver)


@pytest.mark.parametrize("name", ["adamw", "rmsprop", "adagrad"])
def test_a_split_epoch_refuses_solvers_the_split_kernel_lacks(name):
    calls = []
    epoch = _split_epoch(calls)
    sq = np.zeros(1)
    try:
        with pytest.raises(ValueError, match=f"sgd or adam .*, not {name}\\."):
            epoch.run(_hyper(codes.SOLVERS[name]), np.arange(4, dtype=np.int64), 2, 0, sq,
                      sq.copy())
        # Refused before any part ran.
        assert calls == []
        epoch.begin()
        epoch.run(_hyper(codes.ADAM), np.arange(4, dtype=np.int64), 2, 0, sq, sq.copy())
        assert calls == [codes.ADAM, codes.ADAM]
    finally:
        epoch.close()
