"""The CUDA suite: tiny tiles and blocks, so that simulated launches stay
fast and every product spans several blocks.

It runs under the simulator in CI (``NUMBA_ENABLE_CUDASIM=1``, started by
``tests/test_cuda_simulator.py``), or on a real GPU with
``FASTBP_CUDA_TEST_DEVICE=gpu``. On a GPU, ``FASTBP_CUDA_TEST_TILES=default``
keeps the production tiles and block size instead of the tiny ones, so that
the configuration users run is the one tested.
"""

import math
import os
import sys
import types

import numpy as np
import pytest

_SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
_ON_GPU = os.environ.get("FASTBP_CUDA_TEST_DEVICE") == "gpu"
if not (_SIMULATOR or _ON_GPU):  # pragma: no cover
    raise RuntimeError("tests/cuda runs under NUMBA_ENABLE_CUDASIM=1 (see "
                       "tests/test_cuda_simulator.py), or on a GPU with "
                       "FASTBP_CUDA_TEST_DEVICE=gpu")

from fastbp.kernels.cuda import network  # noqa: E402

#: The interpreter's thread switch interval under the simulator, which runs
#: a block's threads as Python threads. With the default 5 ms a thread runs
#: long stretches before another gets the GIL, so few of the orders a GPU
#: may run a block's threads in are tried between barriers; at 10 us they
#: interleave finely. The simulator, whose block manager polls its threads,
#: is faster too: a layer-norm fit took 1.7 s instead of 10.9 s
#: (helper-146).
SWITCH_INTERVAL = 1e-5


@pytest.fixture(autouse=True, scope="session")
def _fine_interleaving():
    """Fine-grained thread switches for the simulator's kernels, with its
    shared arrays made safe for them (see :func:`_locked_shared_arrays`)."""
    if not _SIMULATOR:
        yield
        return
    from numba.cuda.simulator import kernelapi

    before = sys.getswitchinterval(), kernelapi.FakeCUDAShared.array
    kernelapi.FakeCUDAShared.array = _locked_shared_arrays(before[1])
    sys.setswitchinterval(SWITCH_INTERVAL)
    yield
    sys.setswitchinterval(before[0])
    kernelapi.FakeCUDAShared.array = before[1]


def _locked_shared_arrays(array):
    """numba-cuda's simulated ``cuda.shared.array`` under a lock.

    The simulator looks a block's shared array up by the calling line and
    creates it when missing, without a lock: two threads of a block that
    both miss it each create one and work on different arrays, and the
    block's reduction or product reads garbage. With 10 us switches this
    broke a third of the suite's runs (a GPU prediction 0.43 from the CPU's,
    fits that did not repeat); with 5 ms switches it takes a preemption at
    that line, which a loaded machine gives now and then: the likely cause
    of ``test_toolkit_matches_cpu[layernorm-residual-float32]`` failing
    once in CI at 3.2e-3, and never on a rerun (helper-146). The kernels
    are not at fault: each thread gets the array of its block on a GPU.
    """
    import threading

    from numba.cuda import types
    from numba.cuda.np import numpy_support

    lock = threading.Lock()

    def locked(self, shape, dtype, alignment=None):
        if shape == 0 or alignment is not None:
            return array(self, shape, dtype, alignment)  # not looked up by line
        if isinstance(dtype, types.Type):
            dtype = numpy_support.as_dtype(dtype)
        # The simulator's key: the calling file and line.
        frame = sys._getframe(1)
        caller = (frame.f_code.co_filename, frame.f_lineno)
        with lock:
            res = self._allocations.get(caller)
            if res is None:
                res = self._allocations[caller] = np.empty(shape, dtype)
        return res

    return locked


@pytest.fixture(autouse=True, scope="session")
def _ieee_math():
    """IEEE results from the simulated kernels' ``math``.

    The simulator runs the kernels as Python, where ``math.exp(1e3)``
    raises OverflowError and ``math.log(0.0)`` ValueError; a GPU's exp
    returns inf and its log -inf. Without this, a fit that saturates or
    diverges ended in the simulator's OverflowError, where the CPU (and a
    GPU) give a saturated result or a DivergenceError, and no test could
    cover those paths (rev-259). ``math`` is rebound only in the globals of
    the CUDA modules and of the scalar functions' GPU copies (each
    ``scalar.compile_for`` copy has a globals mapping of its own), never in
    a CPU kernel's module; the CPU kernels are compiled by Numba and never
    call Python's math anyway. ``**`` cannot be rebound; the CUDA path
    uses it on floats only in host code (Adam's bias corrections, powers of
    numbers below 1), which runs as Python on a GPU too.
    """
    if not _SIMULATOR:
        yield
        return
    scopes = _cuda_scopes()
    ieee = ieee_math()
    for scope in scopes:
        scope["math"] = ieee
    yield
    for scope in scopes:
        scope["math"] = math


def ieee_math():
    """Python's ``math`` module with the functions that raise where IEEE
    arithmetic gives inf, -inf or NaN falling back to NumPy's float64
    ufuncs (the same result wherever ``math`` does not raise)."""
    ieee = types.SimpleNamespace(**vars(math))
    for name, ufunc in (("exp", np.exp), ("expm1", np.expm1), ("pow", np.power),
                        ("cosh", np.cosh), ("sinh", np.sinh), ("log", np.log),
                        ("log1p", np.log1p), ("sqrt", np.sqrt)):
        setattr(ieee, name, _falling_back(getattr(math, name), ufunc))
    return ieee


def _falling_back(strict, ufunc):
    def ieee(*args):
        try:
            return strict(*args)
        except (OverflowError, ValueError):
            with np.errstate(all="ignore"):
                return float(ufunc(*(np.float64(a) for a in args)))

    ieee.__name__ = strict.__name__
    return ieee


def _cuda_scopes():
    """The globals mappings, bound to ``math``, that the simulated CUDA
    kernels and device functions run in: those of ``fastbp.kernels.cuda``'s
    modules and of every device function they hold (the scalar functions'
    GPU copies, in namespaces of ``scalar.compile_for``)."""
    scopes = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("fastbp.kernels.cuda"):
            continue
        scopes[id(vars(module))] = vars(module)
        for value in list(vars(module).values()):
            held = (vars(value).values() if isinstance(value, types.SimpleNamespace)
                    else (value,))
            for obj in held:
                fn = getattr(obj, "fn", None)  # the simulator's FakeCUDAKernel
                if isinstance(fn, types.FunctionType):
                    scopes[id(fn.__globals__)] = fn.__globals__
    found = [scope for scope in scopes.values() if scope.get("math") is math]
    for scope in found:
        owner = sys.modules.get(scope.get("__name__"))
        if owner is not None and vars(owner) is scope \
                and not owner.__name__.startswith("fastbp.kernels.cuda"):
            # A device function defined in a CPU module would share its
            # globals with that module's Numba kernels.
            raise RuntimeError(f"a CUDA device function runs in the globals of "
                               f"{owner.__name__}; its math cannot be rebound")
    return found


@pytest.fixture(autouse=True, scope="module")
def _tiny_tiles():
    """Tiny tiles and blocks for this suite's modules only (on a GPU, other
    CUDA tests of the same process keep the production sizes)."""
    before = network.TILES, network.THREADS
    if _SIMULATOR or os.environ.get("FASTBP_CUDA_TEST_TILES") != "default":
        network.configure(tiles=(4, 4, 4, 2, 2), threads=8)
    yield
    network.configure(tiles=before[0], threads=before[1])


@pytest.fixture(autouse=True)
def _quiet_uint64_overflow():
    """The dropout hash multiplies uint64 scalars, which wrap on purpose;
    NumPy warns about it when the simulator runs the kernels as Python."""
    import numpy as np

    with np.errstate(over="ignore"):
        yield
