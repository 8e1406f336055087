"""Matrix-product kernels compared by ``bench_kernels.py``.

* ``numpy``: ``np.matmul(a, b, out=c)`` (NumPy's bundled OpenBLAS);
* ``numba``: ``np.dot(a, b, c)`` inside an ``@njit`` function, which calls
  BLAS through SciPy's cython_blas -- what a Numba training loop pays per
  GEMM, call overhead and operand layout checks included.

Operands come from :func:`bench.gemm_peak.operands`, so transposed views
(``A.T @ D``, ``D @ W.T``) are measured with backprop's layout.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=False)
def numba_dot_into(a, b, out):
    np.dot(a, b, out)


def numpy_matmul_into(a, b, out):
    np.matmul(a, b, out=out)


KERNELS = {"numpy": numpy_matmul_into, "numba": numba_dot_into}
