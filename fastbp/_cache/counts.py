"""What fastbp's kernels compiled, loaded from the on-disk cache and could
not save, per thread and per process (:func:`thread_counts`,
:func:`process_counts`, :func:`n_unsaved`)."""

import threading
import warnings

from .warning import CacheWarning

_lock = threading.Lock()
# What each thread compiled, loaded and could not save (thread_counts).
# Per thread, not per process: Numba compiles and loads a kernel, and the
# kernels it calls, in the thread whose call needs it, so a warm-up that
# runs while other threads fit counts its own work only (rev-203: summing
# the dispatchers' counters claimed other threads' compiles as its own).
_per_thread = threading.local()


#: What the process's threads compiled, loaded and could not save,
#: together (process_counts).
_totals = {"compiled": 0, "loaded": 0, "unsaved": 0}


def _count(kind):
    setattr(_per_thread, kind, getattr(_per_thread, kind, 0) + 1)
    with _lock:
        _totals[kind] += 1


def thread_counts():
    """Kernel specialisations that the calling thread has compiled, loaded
    from the on-disk cache, and compiled but could not save, so far.

    Numba compiles (or loads) a kernel, and the kernels it calls, in the
    thread whose call first needs it, holding its compiler lock: a thread
    that meanwhile needs the same kernel waits, then finds it in memory,
    which counts as neither. Take the difference of two calls to count
    what the code between them did in this thread.

    Returns
    -------
    (compiled, loaded, unsaved) : tuple of int
        ``compiled`` counts every compile of a fastbp kernel, saved to the
        cache or not (where no cache location is writable, all of them).
    """
    return (getattr(_per_thread, "compiled", 0), getattr(_per_thread, "loaded", 0),
            getattr(_per_thread, "unsaved", 0))


def process_counts():
    """:func:`thread_counts` summed over every thread of the process.

    Returns
    -------
    (compiled, loaded, unsaved) : tuple of int
    """
    with _lock:
        return _totals["compiled"], _totals["loaded"], _totals["unsaved"]


_unsaved_warned = set()
# Compiled specialisations that could not be saved: the warning above is
# said once, and a warm-up needs the count (a full disk saves a few
# kernels, then none).
_n_unsaved = 0


def _count_unsaved():
    global _n_unsaved
    with _lock:
        _n_unsaved += 1
    _count("unsaved")  # Numba saves in the thread that compiled


def n_unsaved():
    """Kernel specialisations compiled in this process that could not be
    saved to the on-disk cache (a full or read-only disk), so far.

    Returns
    -------
    int
        0 where every compile was saved, or where no cache location is
        writable at all (:func:`~.dispatchers.saves_to_disk` says that).
    """
    return _n_unsaved


def _warn_unsaved(directory, exc):
    """Say, once per directory and error, that compiled kernels could not
    be saved to the cache in ``directory`` (``exc``, an ``OSError``)."""
    key = (directory, exc.errno)
    if key in _unsaved_warned:
        return
    _unsaved_warned.add(key)
    warnings.warn(
        f"fastbp could not save compiled kernels to its compile cache in {directory} "
        f"({exc.strerror or exc}): this process keeps them in memory, and the next one "
        "compiles them again. The entries already there are kept. Free space on that disk, "
        "or set NUMBA_CACHE_DIR to a writable directory.", CacheWarning, stacklevel=3)
