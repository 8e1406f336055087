"""fastbp's on-disk cache of compiled kernels, made robust.

Numba's ``cache=True`` has two failure modes that would stop fastbp for
good: a damaged cache file (truncated, emptied, garbage) makes every later
load fail with an unpickling error that never mentions the cache, in every
later process; and where no cache location is writable, decorating a
function raises at import time. Here:

- a cache entry that cannot be read is deleted with a
  :class:`CacheWarning` naming the directory, and the kernel is compiled
  again and saved afresh;
- where no location is writable, kernels are compiled in memory, with one
  warning that says why the first fit is slow and how to fix it;
- :func:`cache_info` and :func:`clear_cache` report and empty the cache
  (``fastbp info`` and ``fastbp info --clear-cache`` on the command line).
"""

import glob
import os
import threading
import warnings

import numpy as np
from numba.core.caching import FunctionCache


class CacheWarning(UserWarning):
    """fastbp's compile cache could not be used as is (damaged or not
    writable); fastbp compiled in memory or rebuilt the entry."""


# Every cached fastbp dispatcher, for cache_info and clear_cache.
_dispatchers = []
_lock = threading.Lock()
_warned_no_location = False


class RepairingCache(FunctionCache):
    """Numba's function cache, which rebuilds an entry it cannot read
    instead of failing every later call."""

    def load_overload(self, sig, target_context):
        try:
            return super().load_overload(sig, target_context)
        except Exception as exc:  # any damage: unpickling, EOF, bad data
            self._discard(exc)
            return None

    def save_overload(self, sig, data):
        try:
            super().save_overload(sig, data)
        except Exception as exc:  # a damaged index, or a full or read-only disk
            self._discard(exc)
            try:
                super().save_overload(sig, data)
            except Exception:  # still unwritable: keep the in-memory compile
                pass

    def _discard(self, exc):
        """Delete this function's index and data files, and say so."""
        cache_file = self._cache_file
        removed = []
        stem = cache_file._index_name[:-len(".nbi")]
        for path in [cache_file._index_path,
                     *glob.glob(os.path.join(cache_file._cache_path, glob.escape(stem)
                                             + ".*.nbc"))]:
            try:
                os.remove(path)
                removed.append(os.path.basename(path))
            except OSError:
                pass
        warnings.warn(
            f"fastbp's compile cache in {cache_file._cache_path} held a damaged entry for "
            f"{self._py_func.__qualname__!r} ({type(exc).__name__}: {exc}); removed "
            f"{removed or 'nothing'} and compiling it again. To empty the whole cache: "
            "fastbp info --clear-cache.",
            CacheWarning, stacklevel=2)


def enable_cache(dispatcher):
    """Give ``dispatcher`` a :class:`RepairingCache`, or compile it in
    memory (one warning per process) where no cache location is writable."""
    global _warned_no_location
    try:
        dispatcher._cache = RepairingCache(dispatcher.py_func)
    except RuntimeError as exc:  # Numba: "cannot cache function ...: no locator available"
        with _lock:
            first = not _warned_no_location
            _warned_no_location = True
        if first:
            warnings.warn(
                "fastbp found no writable directory for its compile cache ("
                f"{exc}), so every process compiles its kernels in memory: the first fit "
                "of each process waits 10-30 s. Set the environment variable "
                "NUMBA_CACHE_DIR to a writable directory to keep them.",
                CacheWarning, stacklevel=3)
        return dispatcher
    with _lock:
        _dispatchers.append(dispatcher)
    return dispatcher


def will_compile(dispatcher, dtype):
    """Whether the first call of ``dispatcher`` with arrays of ``dtype`` in
    this process will compile (no compiled or cached version of it), which
    on a cold cache takes seconds.

    Parameters
    ----------
    dispatcher : numba dispatcher
    dtype : numpy dtype

    Returns
    -------
    bool
    """
    name = str(np.dtype(dtype))
    # Array types only: a float32 signature has a float64 scalar (the loss sum).
    if any(f"array({name}," in str(sig) for sig in dispatcher.signatures):
        return False
    cache = getattr(dispatcher, "_cache", None)
    if not isinstance(cache, RepairingCache):
        return True
    try:
        overloads = cache._cache_file._load_index()
    except Exception:  # damaged: it will be rebuilt, which compiles
        return True
    return not any(f"array({name}," in str(key[0]) for key in overloads)


def _cache_files():
    """``{directory: [file names]}`` of fastbp's cached kernels.

    Every ``.nbi``/``.nbc`` file of the directories fastbp's kernels cache
    into: those directories hold fastbp's kernels only (Numba keeps one per
    source directory), and entries of older versions of a kernel (other line
    numbers) are listed too.
    """
    directories = {disp._cache._cache_file._cache_path for disp in list(_dispatchers)}
    found = {}
    for directory in directories:
        names = [os.path.basename(p) for pattern in ("*.nbi", "*.nbc")
                 for p in glob.glob(os.path.join(glob.escape(directory), pattern))]
        found[directory] = sorted(names)
    return found


def cache_info():
    """Where fastbp's compiled kernels are cached, and how much is there.

    Returns
    -------
    dict
        ``directories`` (list of str), ``n_files`` (int), ``n_bytes``
        (int) and ``writable`` (bool: False when kernels are compiled in
        memory only).
    """
    files = _cache_files()
    n_bytes = 0
    for directory, names in files.items():
        for name in names:
            try:
                n_bytes += os.path.getsize(os.path.join(directory, name))
            except OSError:
                pass
    return {"directories": sorted(files), "n_files": sum(len(v) for v in files.values()),
            "n_bytes": n_bytes, "writable": not _warned_no_location}


def clear_cache():
    """Delete every cached fastbp kernel; the next fit compiles afresh.

    Returns
    -------
    n_removed : int
        Files deleted.
    """
    removed = 0
    for directory, names in _cache_files().items():
        for name in names:
            try:
                os.remove(os.path.join(directory, name))
                removed += 1
            except OSError:
                pass
    return removed
