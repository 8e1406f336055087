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

import numba

from ._cache import enable_cache

FASTMATH = {"nsz", "arcp", "contract", "reassoc"}

JIT_OPTIONS = {
    "nogil": True,
    "cache": True,
    "fastmath": FASTMATH,
    # Division by zero gives inf/nan as in NumPy instead of raising, which
    # keeps the branch (and its exception machinery) out of inner loops.
    "error_model": "numpy",
}


# Numba's own ``cache=True`` fails for good on a damaged cache file and at
# import where no cache directory is writable; fastbp._cache attaches a
# cache that repairs itself and falls back to compiling in memory.
_NJIT_OPTIONS = {key: value for key, value in JIT_OPTIONS.items() if key != "cache"}


def _compile(func, **options):
    dispatcher = numba.njit(**_NJIT_OPTIONS, **options)(func)
    return enable_cache(dispatcher) if JIT_OPTIONS["cache"] else dispatcher


def kernel(func):
    """Compile ``func`` lazily, in nopython mode, with fastbp's shared settings."""
    return _compile(func)


def inline_kernel(func):
    """Compile a helper that Numba inlines into each caller's IR, so that a
    constant argument at the call site (an activation code) is folded there."""
    return _compile(func, inline="always")


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
    from numba import cuda

    return cuda.jit(**CUDA_OPTIONS)(func)


def cuda_device(func):
    """Compile ``func`` as a CUDA device function with fastbp's settings."""
    from numba import cuda

    return cuda.jit(device=True, **CUDA_OPTIONS)(func)
