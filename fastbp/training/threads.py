"""Fits that run at once in the threads of one process, and the BLAS pool
they share.

The kernels call BLAS (the OpenBLAS that NumPy links, see
:mod:`fastbp.kernels.blas`) for their matrix products, and BLAS keeps one
pool of threads for the process, by default one per core. Two fits in two threads (``GridSearchCV(n_jobs=2)``
under joblib's threading backend) then each ask that pool for every core;
its workers spin waiting for each other, and on 2 cores the search ran
slower than sequentially (up to 37 times slower on a loaded machine).

fastbp does not lower the pool's size for other fits: the size is a
process-wide setting, and OpenBLAS's rounding on large products depends on
it, so a fit's results would then depend on how many other fits were
running (fastbp guarantees they do not). The user sets it once for the
whole search, ``threadpoolctl.threadpool_limits(1)`` (what joblib's process
backend does for its workers), and fastbp says so, once per process, when
it sees overlapping fits oversubscribe the cores.

One fit may pin the pool to one thread while it runs a slice of an epoch
whose steps it splits between threads of its own
(:mod:`fastbp.training.split`), as scikit-learn's KMeans does around its
parallel loops. It does so inside :func:`blas_section`, which every other
compiled call that runs products (fits, predictions) takes too, so that no
other fit's or prediction's products run on a pinned pool, and their
results never depend on what else the process runs.
"""

import os
import threading
import warnings
from contextlib import contextmanager, nullcontext

from joblib import cpu_count
from threadpoolctl import threadpool_info

from .._cblas import NUMPY_BLAS, find_numpy_blas_threads
from ..exceptions import OversubscriptionWarning

# (get, set) of the kernels' BLAS pool size, where fastbp can control it.
_pool = find_numpy_blas_threads() if NUMPY_BLAS else None


class _PoolGate:
    """A readers-writer gate on the BLAS pool's size.

    Readers are compiled calls that run products on the pool as the user
    set it (fits, predictions, the validation score); they run together.
    A writer is a split epoch's slice, which pins the pool to one thread:
    it waits for the readers in flight, and new readers wait for it (a
    waiting writer goes first, so that a stream of predictions cannot
    starve a fit). A thread that already reads enters again without
    waiting, so that a call nested in another cannot deadlock behind a
    waiting writer.
    """

    def __init__(self, get, set_):
        self._get, self._set = get, set_
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._readers = 0
        self._writers_waiting = 0
        self._pinned_from = None  # the user's size while pinned
        # Per thread: ``depth``, the reader's nesting; ``pinning``, whether
        # it holds the pin.
        self._local = threading.local()

    def size(self):
        with self._lock:
            return self._get() if self._pinned_from is None else self._pinned_from

    def shared(self):
        """The context of a reader (reusable, and cheap: a prediction of a
        single row takes it)."""
        return self

    def __enter__(self):
        state = self._local.__dict__
        depth = state.get("depth", 0)
        # The pinning thread's own products between its slices (a split
        # fit's validation score) run on the pinned pool, as its slices do.
        if depth == 0 and not state.get("pinning"):
            with self._lock:
                while self._pinned_from is not None or self._writers_waiting:
                    self._cond.wait()
                self._readers += 1
        state["depth"] = depth + 1

    def __exit__(self, *exc):
        state = self._local.__dict__
        depth = state["depth"] = state["depth"] - 1
        if depth == 0 and not state.get("pinning"):
            with self._lock:
                self._readers -= 1
                if self._readers == 0 and self._writers_waiting:
                    self._cond.notify_all()

    @contextmanager
    def pinned(self):
        local = self._local
        if getattr(local, "depth", 0) or getattr(local, "pinning", False):
            raise RuntimeError("a thread inside a BLAS section cannot pin the pool")
        with self._lock:
            self._writers_waiting += 1
            try:
                while self._pinned_from is not None or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
                # Readers queued behind this writer (interrupted, or about
                # to pin) look again.
                self._cond.notify_all()
            self._pinned_from = self._get()
            self._set(1)
        local.pinning = True
        try:
            yield
        finally:
            local.pinning = False
            with self._lock:
                # Restored only where the pin still holds: a size set
                # meanwhile (threadpool_limits leaving its block in another
                # thread) is the newer setting, and putting back the one
                # read at the pin would leave the pool at that stale size.
                if self._get() == 1:
                    self._set(self._pinned_from)
                self._pinned_from = None
                self._cond.notify_all()

    @contextmanager
    def released(self):
        """Leave this thread's reader section for the block, and enter it
        again after (waiting as a new reader does). Nothing changes in a
        thread that holds the pin or is no reader."""
        local = self._local
        depth = getattr(local, "depth", 0)
        if not depth or getattr(local, "pinning", False):
            yield
            return
        with self._lock:
            local.depth = 0
            self._readers -= 1
            if self._readers == 0 and self._writers_waiting:
                self._cond.notify_all()
        try:
            yield
        finally:
            # Back in, interrupted or not: the section's exit will leave.
            interrupted = None
            with self._lock:
                while self._pinned_from is not None or self._writers_waiting:
                    try:
                        self._cond.wait()
                    except KeyboardInterrupt as exc:
                        interrupted = exc
                self._readers += 1
                local.depth = depth
            if interrupted is not None:
                raise interrupted

    def after_fork_in_child(self):
        """Make the gate of a child made by fork a fresh one.

        Only the forking thread lives in the child: the readers, the
        pinning writer and the waiting writers of the parent's other
        threads never leave their sections there, and a lock one of them
        held at the fork is never released, so that the child's first fit
        or prediction would wait for good. The forking thread keeps its own
        part (it leaves its sections in the child as in the parent); a pin
        it does not hold is undone, restoring the pool size the user set
        (the child inherits the parent's pinned size of one thread).
        """
        state = self._local.__dict__
        pinning = state.get("pinning", False)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._readers = 1 if state.get("depth", 0) and not pinning else 0
        self._writers_waiting = 0
        if self._pinned_from is not None and not pinning:
            self._set(self._pinned_from)
            self._pinned_from = None


_gate = _PoolGate(*_pool) if _pool is not None else None


def blas_pool_size():
    """Threads in the kernels' BLAS pool (NumPy's OpenBLAS), as the user
    set it (never a pinned size); None where fastbp cannot set it (another
    BLAS)."""
    return None if _gate is None else _gate.size()


def outside_blas_section():
    """A block of a thread inside :func:`blas_section` that runs none of
    the section's products (it waits for another process's compile) and
    may run fits of its own, split ones included: the thread leaves the
    section for the block."""
    return nullcontext() if _gate is None else _gate.released()


def blas_section(pin=False):
    """The context in which a compiled call that runs BLAS products runs.

    Parameters
    ----------
    pin : bool
        False: the call's products run on the pool as the user set it,
        which no split epoch may pin meanwhile (calls of this kind run
        together). True: the call is a split epoch's slice, whose threads
        each call one-thread products: the pool is pinned to one thread
        while it runs, after the calls in flight, and restored after.
    """
    if _gate is None:
        return nullcontext()
    return _gate.pinned() if pin else _gate.shared()


def host_blas_section(backend):
    """:func:`blas_section` for a compiled call of ``backend``'s kernels:
    a reader's where they run products on the host's BLAS pool."""
    return blas_section() if backend.name == "cpu" else nullcontext()


_lock = threading.Lock()
_active = 0
# The BLAS pool size at the last oversubscription check, or _WARNED once
# it has warned: overlapping fits are checked again where the size changed
# (the first overlap may run inside threadpool_limits(1), a later one not).
_WARNED, _UNCHECKED = object(), object()
_checked_at = _UNCHECKED
# Whether this thread is running a fit: one inside another (the warm-up a
# fit runs while another process compiles its kernels) does not run at
# once with it, so it is not counted.
_running = threading.local()


def _after_fork_in_child():
    # The child runs none of the parent's other threads' fits (a count
    # that included them would warn of oversubscription for nothing), and
    # a lock one of them held at the fork would never be released in it.
    global _lock, _active
    _lock = threading.Lock()
    _active = 1 if getattr(_running, "fit", False) else 0
    if _gate is not None:
        _gate.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def active_fits():
    """Fits running in this process now."""
    return _active


@contextmanager
def fit_slot():
    """Count one running fit (one that runs inside another, in its thread,
    counts as that one); where two overlap under a BLAS pool size not yet
    checked, check that their BLAS threads fit the machine's cores (a
    warning is given once per process)."""
    global _active, _checked_at
    if getattr(_running, "fit", False):
        yield
        return
    with _lock:
        _active += 1
        check = False
        if _active >= 2 and _checked_at is not _WARNED:
            # (Read only where fits overlap: a lone partial_fit asks here.)
            size = blas_pool_size()
            check = _checked_at != size
            if check:
                _checked_at = size
        active = _active
    try:
        _running.fit = True
        if check and _warn_if_oversubscribed(active):
            _checked_at = _WARNED
        yield
    finally:
        _running.fit = False
        with _lock:
            _active -= 1


def _warn_if_oversubscribed(active):
    """Warn where ``active`` fits' BLAS threads exceed the cores; return
    whether it warned."""
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
        return True
    return False
