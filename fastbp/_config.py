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

FASTMATH = {"nsz", "arcp", "contract", "reassoc"}

JIT_OPTIONS = {
    "nogil": True,
    "cache": True,
    "fastmath": FASTMATH,
    # Division by zero gives inf/nan as in NumPy instead of raising, which
    # keeps the branch (and its exception machinery) out of inner loops.
    "error_model": "numpy",
}


def kernel(func):
    """Compile ``func`` lazily, in nopython mode, with fastbp's shared settings."""
    return numba.njit(**JIT_OPTIONS)(func)


def inline_kernel(func):
    """Compile a helper that Numba inlines into each caller's IR, so that a
    constant argument at the call site (an activation code) is folded there."""
    return numba.njit(inline="always", **JIT_OPTIONS)(func)


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
