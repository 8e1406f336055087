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


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


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
def limit_threads(n: int):
    """Run the body with BLAS, Numba and PyTorch limited to ``n`` threads."""
    import numba
    from threadpoolctl import threadpool_limits

    torch = None
    if torch_available():
        import torch  # imported here so torch's own pools exist before we set them

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
