"""Compilation settings shared by every Numba kernel in fastbp.

One place decides how kernels are compiled, so that the whole engine has one
set of semantics and one on-disk cache policy.

``FASTMATH`` deliberately omits ``nnan`` and ``ninf``: fastbp must see a NaN or
an infinity when training diverges (the estimators check for them), so the
compiler may not assume they never occur. ``afn`` (approximate functions) is
left out too, so that ``exp``/``log``/``tanh`` agree with NumPy closely enough
for the parity tests against scikit-learn. What remains lets LLVM vectorise
reductions (``reassoc``), fuse multiply-adds (``contract``) and use reciprocals
(``arcp``), which is what the optimizer and activation loops need.
"""

import functools
import threading
import types

import numba
from numba.core.registry import CPUDispatcher

if numba.config.DISABLE_JIT:
    # With the JIT off, njit returns plain functions where fastbp needs
    # dispatchers (their caches, signatures and compiled twins): say so
    # rather than fail on a dispatcher attribute at import.
    raise ImportError(
        "fastbp needs Numba's JIT compiler, which NUMBA_DISABLE_JIT=1 turns off; unset "
        "NUMBA_DISABLE_JIT to import fastbp (its tests check every kernel against a NumPy "
        "reference, tests/naive.py).")

from ._cache.dispatchers import enable_cache
from ._cblas import NUMPY_BLAS
from . import _link_only

FASTMATH = {"nsz", "arcp", "contract", "reassoc"}

# For the elementary functions of ``fastbp.kernels.elementary``, whose range
# reduction and polynomials must run in the order written: no ``reassoc``,
# and no ``arcp`` (a reciprocal would add a rounding to the float64 Pade
# quotient).
ELEMENTARY_FASTMATH = {"nsz", "contract"}

JIT_OPTIONS = {
    "nogil": True,
    "cache": True,
    "fastmath": FASTMATH,
    # Division by zero gives inf/nan as in NumPy instead of raising, which
    # keeps the branch (and its exception machinery) out of inner loops.
    "error_model": "numpy",
    # No kernel is passed around as a first-class function value, so none
    # needs the C-callable wrapper Numba would otherwise build for each.
    "no_cfunc_wrapper": True,
}


# Numba's own ``cache=True`` fails for good on a damaged cache file and at
# import where no cache directory is writable; fastbp._cache attaches a
# cache that repairs itself and falls back to compiling in memory.
_NJIT_OPTIONS = {key: value for key, value in JIT_OPTIONS.items() if key != "cache"}
#: Whether kernels are compiled with Numba's reference-counting runtime
#: (NRT). They never allocate: every array they touch is the caller's (or a
#: view of one), and they return scalars. Without NRT no atomic increment
#: and decrement is emitted around each view and call, which shortened a
#: cold first fit by about a tenth (``bench/ab/compile_bench.py``); a kernel
#: that allocated or returned a new array would fail to compile, not leak.
#: Numba's ``np.dot``, the products' fallback where NumPy links no ILP64
#: CBLAS (``fastbp._cblas``), needs NRT; there the entry points borrow their
#: arrays instead (``fastbp.kernels.refcount``).
NRT = not NUMPY_BLAS
_NJIT_OPTIONS["_nrt"] = NRT


class InnerKernel(CPUDispatcher):
    """A kernel that only other kernels call.

    It is compiled without the CPython wrapper that converts Python objects
    to and from native values: the wrappers of fastbp's two dozen inner
    kernels took about a tenth of a cold compile, and only the entry points
    are called from Python. Called from Python, it raises (Numba would
    crash, there being no wrapper to call); tests call an inner kernel
    through :func:`python_twin`. Nor is it optimised or turned into machine
    code on its own: its callers link its IR and optimise it with theirs
    (:mod:`fastbp._link_only`).
    """

    def __call__(self, *args, **kwargs):
        raise TypeError(
            f"{self.py_func.__module__}.{self.py_func.__qualname__} is an inner kernel, "
            "compiled to be called by other kernels only; to call it from Python, use "
            "fastbp._config.python_twin(kernel).")


def _compile(func, entry=False, **options):
    if not entry:
        options["no_cpython_wrapper"] = True
        if _link_only.SUPPORTED:
            options["pipeline_class"] = _link_only.LinkOnlyCompiler
    elif _link_only.SUPPORTED:
        options["pipeline_class"] = _link_only.EntryCompiler
    dispatcher = numba.njit(**dict(_NJIT_OPTIONS, **options))(func)
    if not entry:
        dispatcher.__class__ = InnerKernel
    return enable_cache(dispatcher) if JIT_OPTIONS["cache"] else dispatcher


def entry_kernel(func=None, *, allocates=False):
    """Compile ``func``, a kernel called from Python (the trainer's entry
    points), lazily, in nopython mode, with fastbp's shared settings.

    ``allocates=True`` (as ``@entry_kernel(allocates=True)``) compiles it
    with the reference-counting runtime whatever :data:`NRT` says: for an
    entry point that allocates an array on a branch of the toolkit only.
    Its copies made by :func:`recompiled` follow :data:`NRT` again (the
    default path prunes such branches) unless made with ``allocates=True``
    (the toolkit's per-output copies keep them)."""
    if func is None:
        return lambda f: entry_kernel(f, allocates=allocates)
    return _compile(func, entry=True, **({"_nrt": True} if allocates else {}))


def kernel(func):
    """Compile ``func``, a kernel called by other kernels only (see
    :class:`InnerKernel`), lazily, with fastbp's shared settings."""
    return _compile(func)


def inline_kernel(func):
    """Compile a helper that Numba inlines into each caller's IR, so that a
    constant argument at the call site (an activation code) is folded there."""
    return _compile(func, inline="always")


def recompiled(dispatcher, qualname, *, allocates=False, **names):
    """``dispatcher``'s function compiled again as a kernel of its own, with
    some of its module's global names bound to other values.

    Numba reads a kernel's globals as compile-time constants, so a boolean
    switch bound to ``False`` prunes its branches before they are typed,
    and a callee's name can be bound to that callee's own recompiled copy.

    Parameters
    ----------
    dispatcher : numba dispatcher
        A kernel made by :func:`kernel` or :func:`entry_kernel` (the copy is
        of the same kind).
    qualname : str
        The copy's name, which also names its on-disk cache entries: Numba
        keys them by name and bytecode, which the copy shares, not by
        globals.
    allocates : bool, default=False
        Compile the copy with the reference-counting runtime, as
        :func:`entry_kernel` does with ``allocates=True`` (a copy that keeps
        the branches that allocate).
    **names
        Global names of the function's module, rebound for the copy.
    """
    func = dispatcher.py_func
    copy = types.FunctionType(func.__code__, dict(func.__globals__, **names), func.__name__,
                              func.__defaults__, func.__closure__)
    copy.__qualname__ = qualname
    copy.__doc__ = func.__doc__
    return _compile(copy, entry=not isinstance(dispatcher, InnerKernel),
                    **({"_nrt": True} if allocates else {}))


def made_once(make):
    """``make``, whose result for each argument is made at its first call
    and returned again at the later ones.

    For the sets of kernels made per output function: under a lock, since
    two threads that both made a set would each compile its kernels.
    """
    made, lock = {}, threading.Lock()

    @functools.wraps(make)
    def once(key):
        with lock:
            if key not in made:
                made[key] = make(key)
            return made[key]

    return once


_twins = {}


def python_twin(dispatcher):
    """A copy of the inner kernel ``dispatcher`` that Python can call.

    The same function, compiled with the same settings plus the CPython
    wrapper, in memory (an on-disk entry would share the original's cache
    files, which hold no wrapper). For tests and benchmarks that check one
    inner kernel against a reference; anything else returns as given.
    """
    if not isinstance(dispatcher, InnerKernel):
        return dispatcher
    if dispatcher not in _twins:
        # Its callees its own (renamed after it), as an entry point's are.
        options = ({"pipeline_class": _link_only.EntryCompiler} if _link_only.SUPPORTED
                   else {})
        _twins[dispatcher] = numba.njit(**_NJIT_OPTIONS, **options)(dispatcher.py_func)
    return _twins[dispatcher]


# The CUDA target. Its fastmath mode would flush denormals to zero and
# approximate division, square roots and transcendentals, which breaks the
# GPU's parity with the CPU kernels (1e-10 in float64), so it stays off;
# NVVM contracts multiply-adds into FMAs on its own. CUDA kernels are built
# by factories (dtype and tile sizes are compile-time constants), which
# Numba cannot cache on disk: they compile once per process.
CUDA_OPTIONS = {"fastmath": False}


def cuda_kernel(func):
    """Compile ``func`` as a CUDA kernel with fastbp's settings (imports
    ``numba.cuda`` on first use only)."""
    from .kernels.cuda.compat import numba_cuda

    return numba_cuda().jit(**CUDA_OPTIONS)(func)


def cuda_device(func):
    """Compile ``func`` as a CUDA device function with fastbp's settings."""
    from .kernels.cuda.compat import numba_cuda

    return numba_cuda().jit(device=True, **CUDA_OPTIONS)(func)
