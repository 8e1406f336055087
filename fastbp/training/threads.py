"""Thread limits for BLAS inside the kernels."""

import contextlib
import os

_LIMIT = None


def default_threads():
    """Threads available to this process (respects CPU affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def blas_threads(n_threads=None):
    """Limit BLAS threads while kernels run, if a limit is set.

    ``n_threads=None`` leaves the process's BLAS settings untouched, so a
    user's own ``threadpoolctl.threadpool_limits`` applies.
    """
    if n_threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n_threads, user_api="blas"):
        yield
