"""How many BLAS threads the kernels' matrix products may use.

The kernels call BLAS (through Numba's ``np.dot``) for every matrix
product. Two things oversubscribe a small machine: BLAS threading a product
too small to amortise its synchronisation (mini-batches of tens of rows),
and several fits running at once in threads (``GridSearchCV(n_jobs=2)``
with joblib's threading backend), each asking BLAS for every core. So every
training or prediction call runs inside :func:`blas_threads`, which counts
the calls in flight and gives each ``cores // in_flight`` threads, and one
thread to products below ``MIN_WORK_PER_THREAD``. A user's explicit
``threadpoolctl.threadpool_limits`` still caps the total.
"""

import contextlib
import os
import threading

from threadpoolctl import ThreadpoolController

# Multiply-adds of one layer's product below which a second thread costs
# more in synchronisation than it saves (measured on 2-core x86 machines:
# see the closing note of the benchmark issue).
MIN_WORK_PER_THREAD = 4_000_000

_lock = threading.Lock()
_in_flight = 0
# BLAS threads before the first call in flight, restored after the last.
_baseline = 1
_controller = None
# Nested calls (a fit's validation predictions) reuse the outer grant.
_local = threading.local()


def available_cores():
    """Cores this process may run on (CPU affinity aware)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _blas_controller():
    global _controller
    if _controller is None:
        # Make sure the BLAS that Numba's np.dot calls is loaded and seen.
        import scipy.linalg.cython_blas  # noqa: F401

        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


@contextlib.contextmanager
def blas_threads(work):
    """Run the enclosed kernel calls with a fair number of BLAS threads.

    Parameters
    ----------
    work : int
        Multiply-adds of the largest single matrix product in the calls.

    Yields
    ------
    n_threads : int
        The BLAS threads granted.
    """
    global _in_flight, _baseline
    if getattr(_local, "granted", None) is not None:
        yield _local.granted
        return
    controller = _blas_controller()
    with _lock:
        if _in_flight == 0:
            _baseline = max((lib["num_threads"] for lib in controller.info()), default=1)
        _in_flight += 1
        share = max(1, min(_baseline, available_cores() // _in_flight))
        wanted = 1 if work < MIN_WORK_PER_THREAD else share
        controller.limit(limits=wanted)
    _local.granted = wanted
    try:
        yield wanted
    finally:
        _local.granted = None
        with _lock:
            _in_flight -= 1
            if _in_flight == 0:
                controller.limit(limits=_baseline)

