"""One switch for every thread pool a benchmark touches.

Inside :func:`limit_threads` BLAS/OpenMP pools (threadpoolctl), Numba's
parallel layer (``numba.set_num_threads``) and PyTorch's intra-op pool
(``torch.set_num_threads``, when torch is installed) all use ``n`` threads,
so every system is measured at the same thread count.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys


def torch_available() -> bool:
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def max_threads() -> int:
    """Most threads every pool can be given (Numba's launch-time cap)."""
    try:
        import numba

        return int(numba.config.NUMBA_NUM_THREADS)
    except ImportError:  # pragma: no cover - numba is a hard dependency
        return os.cpu_count() or 1


def unavailable_reason(n: int) -> str | None:
    cap = max_threads()
    if n > cap:
        return f"{n} threads requested but only {cap} available (NUMBA_NUM_THREADS/cores)"
    return None


@contextlib.contextmanager
def limit_threads(n: int, torch: bool | None = None):
    """Run the body with BLAS, Numba and PyTorch limited to ``n`` threads.

    PyTorch is limited when it is already imported, or imported first when
    ``torch=True`` (pass it when the body will use torch); ``torch=None``
    never imports it, so torch-free measurements stay torch-free.
    """
    import numba
    import scipy.linalg.cython_blas  # noqa: F401 - see below
    from threadpoolctl import threadpool_limits

    # threadpoolctl limits only the BLAS libraries loaded when it is entered.
    # Numba's np.dot (fastbp's kernels, bench.matmul) calls SciPy's OpenBLAS
    # through scipy.linalg.cython_blas, which is otherwise loaded lazily at
    # the first compilation -- inside the block, unlimited. Load it first.
    want_torch = torch
    torch = sys.modules.get("torch")
    if torch is None and want_torch and torch_available():
        import torch  # before the limits, so torch's own pools get them

    old_numba = numba.get_num_threads()
    old_torch = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=n):
        numba.set_num_threads(n)
        if torch is not None:
            torch.set_num_threads(n)
        try:
            yield n
        finally:
            numba.set_num_threads(old_numba)
            if torch is not None:
                torch.set_num_threads(old_torch)
