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
