"""The CUDA backend without a GPU: PTX compilation of every kernel, the
clear error of ``device="cuda"``, and the lazy import of ``numba.cuda``.

Run in this (non-simulator) process: ``compile_ptx`` needs only the CUDA
compiler libraries that ``fastbp[cuda]`` (and ``fastbp[test]``) install.
"""

import inspect
import re
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from numba import types

from fastbp import MLPClassifier

# Argument types by parameter name: every GPU kernel names its arguments
# from this set, arrays of the model's dtype unless listed otherwise.
INT_ARRAYS_2D = {"tab"}
INT_ARRAYS = {"perm"}
# A sparse X's index arrays: int32 wherever they fit (fastbp.training.data's
# INDEX_DTYPE, what an ordinary sparse fit passes), int64 beyond.
INDEX_ARRAYS = {"indices", "indptr"}
INT32_ARRAYS = {"counts"}
FLOAT_ARRAYS_2D = {"Y", "out", "z", "delta", "y"}
FLOAT_ARRAYS = {"x", "params", "acts", "masks", "alive", "grads", "deltas", "stats",
                "running", "record", "y_buf", "sw", "data", "a", "state_1", "state_2", "xb",
                "ws"}
INTS = {"l", "nb", "x_off", "ldx", "p0", "seed", "step", "epilogue", "code", "at",
        "n_weights", "solver", "row0", "n_features", "bias_at"}
BOOLS = {"use_perm", "training", "accumulate", "bias_grad", "has_sw", "nesterov"}
FLOATS = {"drop", "momentum", "eps", "prob_lo", "prob_hi", "alpha", "l1", "scale", "lr",
          "lr_t", "beta_1", "beta_2", "beta_1c", "beta_2c", "epsilon", "clip", "value",
          "drop_prev"}


def _signature(kernel, ft, index=types.int32):
    sig = []
    for name in inspect.signature(kernel.py_func).parameters:
        if name in INT_ARRAYS_2D:
            sig.append(types.int64[:, ::1])
        elif name in INT_ARRAYS:
            sig.append(types.int64[::1])
        elif name in INDEX_ARRAYS:
            sig.append(index[::1])
        elif name in INT32_ARRAYS:
            sig.append(types.int32[::1])
        elif name in FLOAT_ARRAYS_2D:
            sig.append(ft[:, ::1])
        elif name in FLOAT_ARRAYS:
            sig.append(ft[::1])
        elif name in INTS:
            sig.append(types.int64)
        elif name in BOOLS:
            sig.append(types.boolean)
        elif name in FLOATS:
            sig.append(ft)
        else:
            raise AssertionError(f"{kernel.py_func.__name__}: unknown argument {name!r}")
    return tuple(sig)


def _all_gpu_kernels(dtype):
    from fastbp.kernels.cuda import gemm, losses, normalization, optimizers, sparse

    g = gemm.build(dtype, 64, 64, 16, 4, 4)
    o = optimizers.build(dtype, 256)
    found = {f"gemm.{n}": getattr(g, n) for n in ("forward", "weight_grad", "delta")}
    found.update({f"optimizers.{n}": getattr(o, n) for n in
                  ("optimizer_step", "gradient_norm_sq", "penalised_gradient", "fill")})
    for mod in (losses, normalization, sparse):
        for name, obj in vars(mod).items():
            # (numba-cuda marks a device function in targetoptions, not in
            # _device: scaled_inv_std, the first in these modules, was
            # taken for a kernel; helper-170.)
            device = getattr(obj, "_device", False) or getattr(
                obj, "targetoptions", {}).get("device", False)
            if hasattr(obj, "py_func") and not device \
                    and hasattr(obj, "specialize") and obj.py_func.__module__ == mod.__name__:
                found[f"{mod.__name__.rsplit('.', 1)[-1]}.{name}"] = obj
    return found


F64_OP = re.compile(r"^\s*(?!\.reg)[a-z][\w.]*\.f64\b", re.M)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_every_gpu_kernel_compiles_to_ptx(dtype, monkeypatch):
    """Type inference and code generation for compute capability 9.0 (what
    the simulator never checks); a float32 kernel has no float64
    instruction."""
    from numba import cuda
    import numba.cuda.dispatcher as dispatcher

    # Device functions compile for the current device; there is none here.
    monkeypatch.setattr(dispatcher, "get_current_device",
                        lambda: SimpleNamespace(compute_capability=(9, 0)))
    ft = types.float32 if dtype == np.float32 else types.float64
    kernels = _all_gpu_kernels(dtype)
    assert {"gemm.forward", "losses.output_loss_delta", "normalization.batch_norm_forward",
            "sparse.densify_rows", "optimizers.optimizer_step"} <= set(kernels)
    from fastbp.training.data import INDEX_DTYPE

    assert np.dtype(INDEX_DTYPE) == np.int32
    compiled = []
    for name, k in kernels.items():
        params = inspect.signature(k.py_func).parameters
        # Index arrays in both widths the host can pass: int32 for every
        # ordinary sparse X, int64 for one too large for int32 indices.
        widths = (types.int32, types.int64) if INDEX_ARRAYS & set(params) else (None,)
        for index in widths:
            sig = _signature(k, ft, index or types.int32)
            ptx, _ = cuda.compile_ptx(k.py_func, sig, cc=(9, 0))
            assert ".entry" in ptx, name
            if dtype == np.float32:
                bad = F64_OP.findall(ptx)
                assert not bad, f"{name} {sig}: float64 instructions in float32 PTX: {bad[:5]}"
            compiled.append((name, index))
    assert ("sparse.densify_rows", types.int32) in compiled
    assert ("sparse.densify_rows", types.int64) in compiled


def test_device_cuda_without_gpu_raises_clear_error():
    X = np.random.default_rng(0).standard_normal((20, 3))
    y = np.arange(20) % 2
    clf = MLPClassifier((4,), max_iter=2, device="cuda")
    with pytest.raises(RuntimeError, match=r"(?s)device='cuda' found no (NVIDIA driver|usable)"
                                           r".*GPU"):
        clf.fit(X, y)
    assert not hasattr(clf, "coefs_")
    fitted = MLPClassifier((4,), max_iter=2, random_state=0).fit(X, y)
    before = [c.copy() for c in fitted.coefs_]
    fitted.set_params(device="cuda")
    with pytest.raises(RuntimeError, match="GPU"):
        fitted.partial_fit(X, y)
    with pytest.raises(RuntimeError, match="GPU"):
        fitted.predict(X)
    for a, b in zip(fitted.coefs_, before):
        np.testing.assert_array_equal(a, b)
    assert MLPClassifier((4,), max_iter=2).fit(X, y).score(X, y) >= 0


@pytest.mark.parametrize("driver, compilers, expected", [
    (False, True, "found no NVIDIA driver \\(libcuda cannot be loaded\\).*GPU packages .* are "
                  "installed"),
    (False, False, "found no NVIDIA driver.*compiler libraries are missing too: install them "
                   "with pip install"),
    (True, True, "the driver loads, but numba.cuda.is_available\\(\\) is False.*nvidia-smi"),
])
def test_the_no_gpu_message_names_what_is_missing(monkeypatch, driver, compilers, expected):
    # It said "no GPU, no NVIDIA driver, or no CUDA libraries" and advised
    # installing the packages, also where they were installed.
    import ctypes

    from numba.cuda.cudadrv import nvvm

    from fastbp.kernels import cuda as cuda_kernels

    def cdll(name, *args, **kwargs):
        if not driver:
            raise OSError(f"{name}: cannot open shared object file")
        return object()

    monkeypatch.setattr(ctypes, "CDLL", cdll)
    monkeypatch.setattr(nvvm, "is_available", lambda: compilers)
    assert re.search(expected, cuda_kernels._why_no_gpu(), re.S), cuda_kernels._why_no_gpu()


@pytest.mark.parametrize("compilers", [False, True])
def test_a_gpu_without_the_compiler_libraries_is_named(monkeypatch, compilers):
    # helper-64: with a GPU, the compiler libraries went unchecked, and
    # numba-cuda installed without its CUDA 12 extra failed at the first
    # compile with numba-cuda's own message.
    from numba import cuda
    from numba.cuda.cudadrv import nvvm

    from fastbp.kernels import cuda as cuda_kernels

    monkeypatch.setattr(cuda, "is_available", lambda: True)
    monkeypatch.setattr(nvvm, "is_available", lambda: compilers)
    message = cuda_kernels.device_status()
    if compilers:
        assert message is None
    else:
        assert re.search("found a GPU, but not the CUDA compiler libraries.*"
                         "pip install \"fastbp\[cuda\]\"", message), message


def test_device_parameter_is_validated():
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="device"):
        MLPClassifier(device="gpu").fit(np.zeros((4, 2)), [0, 1, 0, 1])


def _python(code):
    """Run ``code`` in a fresh interpreter (warnings off), capturing its output."""
    return subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                          text=True, timeout=600)


def _stdout_of(code):
    """The output of ``code`` run by :func:`_python`, which must succeed."""
    res = _python(code)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def test_import_and_cpu_fit_never_import_numba_cuda():
    code = ("import sys, numpy as np, fastbp\n"
            "fastbp.MLPClassifier((3,), max_iter=2).fit(np.eye(4), [0, 1, 0, 1])\n"
            "bad = [m for m in sys.modules if m.startswith(('numba.cuda', 'numba_cuda'))]\n"
            "print('CUDA', bad)\n")
    out = _stdout_of(code)
    assert "CUDA []" in out, out


def test_kernels_compile_with_numpy_without_row_stack():
    """NumPy 2.5 removed ``np.row_stack``, which numba-cuda 0.30 registers
    an overload of at its first compile (NVIDIA/numba-cuda#907): every
    compile failed. fastbp's kernels still compile, and NumPy is left as it
    was. Removing the name here reproduces NumPy 2.5 on an older NumPy."""
    code = (
        "import numpy as np, fastbp\n"
        "from numba import cuda, types\n"
        "import numba.cuda.dispatcher as d\n"
        "from types import SimpleNamespace\n"
        "d.get_current_device = lambda: SimpleNamespace(compute_capability=(9, 0))\n"
        "if hasattr(np, 'row_stack'):\n"
        "    del np.row_stack\n"
        "from fastbp.kernels.cuda import gemm\n"
        "g = gemm.build(np.float32, 64, 64, 16, 4, 4)\n"
        "sig = tuple(types.int64[:, ::1] if n == 'tab' else types.int32[::1]\n"
        "            if n == 'counts' else types.float32[::1] if n in ('params', 'acts',\n"
        "            'masks', 'deltas', 'ws') else types.float32 if n == 'drop_prev' else\n"
        "            types.int64 for n in ('l', 'nb', 'tab', 'params', 'acts', 'masks',\n"
        "            'deltas', 'drop_prev', 'ws', 'counts'))\n"
        "ptx, _ = cuda.compile_ptx(g.delta.py_func, sig, cc=(9, 0))\n"
        "print('PTX', '.entry' in ptx, 'ROW_STACK', hasattr(np, 'row_stack'))\n")
    out = _stdout_of(code)
    assert "PTX True ROW_STACK False" in out, out
    # The control: without fastbp's loader, numba-cuda's first compile fails.
    plain = (
        "import numpy as np\n"
        "from numba import cuda, types\n"
        "if hasattr(np, 'row_stack'):\n"
        "    del np.row_stack\n"
        "def k(a):\n"
        "    a[0] = 1.0\n"
        "cuda.compile_ptx(k, (types.float32[::1],), cc=(9, 0))\n")
    res = _python(plain)
    assert res.returncode != 0 and "row_stack" in res.stderr, (
        "numba-cuda compiles without np.row_stack now: fastbp.kernels.cuda.compat can go")



def test_split_k_plan(monkeypatch):
    """How far a product is split along its depth: towards the target
    blocks, whole panels of at least ``SPLIT_PANELS`` per split, none empty,
    and not at all when the grid already fills the GPU or splitting is off."""
    from fastbp.kernels.cuda import network

    monkeypatch.setattr(network, "SPLIT_BLOCKS", 264)
    monkeypatch.setattr(network, "SPLIT_PANELS", 4)
    # MNIST's first layer at batch 32 (4 blocks, 49 panels): 10 splits of 5.
    assert network._split((4, 1), 784, 16) == (4, 1, 10)
    # The output layer's weight gradient at batch 1024 (2 blocks, 64 panels).
    assert network._split((1, 2), 1024, 16) == (1, 2, 16)
    assert network._split((4, 13), 1024, 16) == (4, 13, 6)  # 11, 11, ..., 9 panels
    assert network._split((16, 17), 1024, 16) == (16, 17, 1)
    assert network._split((1, 1), 48, 16) == (1, 1, 1)  # 3 panels: too shallow
    monkeypatch.setattr(network, "SPLIT_BLOCKS", 0)
    assert network._split((4, 1), 784, 16) == (4, 1, 1)


def test_a_kept_launch_matches_only_what_it_marshalled():
    """``Launch.matches`` compares what marshalling captured: scalar values
    of the same type, and device arrays by address, shape, strides and
    type (not by identity: a view built anew of the same memory matches)."""
    from fastbp.kernels.cuda.launch import _same

    class Device:
        def __init__(self, ptr, shape=(4,), strides=(8,), typestr="<f8"):
            self.__cuda_array_interface__ = dict(data=(ptr, False), shape=shape,
                                                 strides=strides, typestr=typestr)

    assert _same(Device(100), Device(100))
    assert not _same(Device(100), Device(108))
    assert not _same(Device(100), Device(100, shape=(3,)))
    assert not _same(Device(100), Device(100, typestr="<f4"))
    assert _same(np.float32(0.5), np.float32(0.5))
    assert not _same(np.float32(0.5), np.float32(0.25))
    assert not _same(np.float32(0.5), np.float64(0.5))
    assert not _same(np.float64("nan"), np.float64("nan"))
    assert _same(3, 3) and not _same(3, 4) and not _same(True, 1)
    host = np.zeros(3)
    assert not _same(host, host)  # copied at marshalling: its values may have changed since


def test_a_kept_launch_needs_the_same_kernel_grid_and_scalar_types():
    """``Launch.matches`` (no GPU needed: the object is built by hand): a
    varying scalar may change value but not type (its marshalled holder
    keeps the first type); a fixed one must keep its value."""
    from fastbp.kernels.cuda.launch import Launch

    kernel, other = object(), object()
    kept = Launch.__new__(Launch)
    kept.dispatcher, kept.grid, kept.block = kernel, (4, 1, 2), (16, 16)
    kept.args, kept.varying = [3, np.float32(0.1), np.float32(0.5)], (0, 1)
    assert kept.matches(kernel, (4, 1, 2), (16, 16), [7, np.float32(0.9), np.float32(0.5)])
    assert not kept.matches(kernel, (4, 1, 2), (16, 16), [7.0, np.float32(0.9), np.float32(0.5)])
    assert not kept.matches(kernel, (4, 1, 2), (16, 16), [7, np.float64(0.9), np.float32(0.5)])
    assert not kept.matches(kernel, (4, 1, 2), (16, 16), [7, np.float32(0.9), np.float32(0.4)])
    assert not kept.matches(kernel, (4, 1, 1), (16, 16), [7, np.float32(0.9), np.float32(0.5)])
    assert not kept.matches(other, (4, 1, 2), (16, 16), [7, np.float32(0.9), np.float32(0.5)])
