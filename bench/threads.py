"""One switch for every thread pool a benchmark touches.

Inside :func:`limit_threads` BLAS/OpenMP pools (threadpoolctl), Numba's
parallel layer (``numba.set_num_threads``) and PyTorch's intra-op pool
(``torch.set_num_threads``, when torch is installed) all use ``n`` threads,
so every system is measured at the same thread count.

:func:`thread_env` gives the same limit as environment variables, for a
worker process (``bench.worker``) that must start with it before any library
loads its pool.
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


#: Environment variables read by the thread pools at load time.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                   "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS",
                   "NUMEXPR_NUM_THREADS")


def thread_env(n: int) -> dict[str, str]:
    """Environment limiting every pool to ``n`` threads from process start."""
    return {k: str(int(n)) for k in THREAD_ENV_VARS}


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
def limit_threads(n: int, torch: bool | None = None, numba: bool | None = True):
    """Run the body with BLAS, Numba and PyTorch limited to ``n`` threads.

    PyTorch is limited when it is already imported, or imported first when
    ``torch=True`` (pass it when the body will use torch); ``torch=None``
    never imports it, so torch-free measurements stay torch-free. ``numba``
    works alike, except that ``True`` is the default (Numba, and the SciPy
    OpenBLAS its ``np.dot`` calls, are loaded and limited); a worker process
    for a Numba-free system passes ``numba=None``.
    """
    from threadpoolctl import threadpool_limits

    # threadpoolctl limits only the BLAS libraries loaded when it is entered.
    # Numba's np.dot (bench.matmul, and fastbp's kernels where NumPy's own
    # CBLAS is missing, see fastbp.kernels.blas) calls SciPy's OpenBLAS
    # through scipy.linalg.cython_blas, which is otherwise loaded lazily at
    # the first compilation -- inside the block, unlimited. Load it first.
    want_numba = numba
    numba = sys.modules.get("numba")
    if want_numba:
        import numba
        import scipy.linalg.cython_blas  # noqa: F401 - see above
    want_torch = torch
    torch = sys.modules.get("torch")
    if torch is None and want_torch and torch_available():
        import torch  # before the limits, so torch's own pools get them

    old_numba = numba.get_num_threads() if numba is not None else None
    old_torch = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=n):
        if numba is not None:
            numba.set_num_threads(n)
        if torch is not None:
            torch.set_num_threads(n)
        try:
            yield n
        finally:
            if numba is not None:
                numba.set_num_threads(old_numba)
            if torch is not None:
                torch.set_num_threads(old_torch)
