"""Fits that run at once in the threads of one process, and the BLAS pool
they share.

The kernels call BLAS (the OpenBLAS that NumPy links, see
:mod:`fastbp.kernels.blas`) for their matrix products, and BLAS keeps one
pool of threads for the process, by default one per core. Two fits in two threads (``GridSearchCV(n_jobs=2)``
under joblib's threading backend) then each ask that pool for every core;
its workers spin waiting for each other, and on 2 cores the search ran
slower than sequentially (up to 37 times slower on a loaded machine).

fastbp does not lower the pool's size itself: the size is a process-wide
setting, and OpenBLAS's rounding on large products depends on it, so a
fit's results would then depend on how many other fits were running
(fastbp guarantees they do not). The user sets it once for the whole
search, ``threadpoolctl.threadpool_limits(1)`` (what joblib's process
backend does for its workers), and fastbp says so, once per process, when
it sees overlapping fits oversubscribe the cores.
"""

import threading
import warnings
from contextlib import contextmanager

from joblib import cpu_count
from threadpoolctl import threadpool_info

from ..exceptions import OversubscriptionWarning

_lock = threading.Lock()
_active = 0
_checked = False


def active_fits():
    """Fits running in this process now."""
    return _active


@contextmanager
def fit_slot():
    """Count one running fit; the first time two overlap, check that their
    BLAS threads fit the machine's cores."""
    global _active, _checked
    with _lock:
        _active += 1
        check = _active >= 2 and not _checked
        _checked = _checked or check
        active = _active
    if check:
        _warn_if_oversubscribed(active)
    try:
        yield
    finally:
        with _lock:
            _active -= 1


def _warn_if_oversubscribed(active):
    cores = cpu_count()
    pools = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    threads = max((lib["num_threads"] for lib in pools), default=1)
    if threads * active > cores:
        warnings.warn(
            f"{active} fastbp fits are running at once in threads of this process, and "
            f"each may use {threads} BLAS threads on {cores} cores: the BLAS pool "
            "oversubscribes the cores, and a parallel search can run slower than a "
            "sequential one. Run the search inside threadpoolctl.threadpool_limits(1) "
            "(for example `with threadpool_limits(1), parallel_backend('threading'): "
            "search.fit(X, y)`), or use joblib's default process backend. See "
            "'Scaling a search' in fastbp's README.",
            OversubscriptionWarning, stacklevel=4)
