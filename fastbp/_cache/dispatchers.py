"""fastbp's kernels as the compile cache knows them: :func:`enable_cache`
gives a dispatcher its cache and compile locks (or compiles it in memory
where no cache location is writable) and records it, and
:func:`will_compile` and :func:`compiles_in_memory` say what its first
call costs."""

import threading

import numpy as np

from .compile_locks import _has_data, _lock_compiles
from .directory import _check_cache_dir
from .index import InMemoryCache, RepairingCache
from .warning import CacheWarning, warn_outside_fastbp

# Every cached fastbp dispatcher, for cache_info and clear_cache.
_dispatchers = []
# Every fastbp dispatcher that compiles in memory (no writable cache
# location), for warmup's count of what it compiled.
_uncached = []
_lock = threading.Lock()
_warned_no_location = False


def enable_cache(dispatcher):
    """Give ``dispatcher`` a :class:`~.index.RepairingCache` whose compiles take the
    locks (:func:`~.compile_locks.compile_lock`), or compile it in memory (one warning per
    process) where no cache location is writable."""
    global _warned_no_location
    try:
        dispatcher._cache = RepairingCache(
            dispatcher.py_func, uses_runtime=dispatcher.targetoptions.get("_nrt", True))
    except RuntimeError as exc:  # Numba: "cannot cache function ...: no locator available"
        with _lock:
            first = not _warned_no_location
            _warned_no_location = True
        if first:
            warn_outside_fastbp(
                "fastbp found no writable directory for its compile cache ("
                f"{exc}), so every process compiles its kernels in memory: the first fit "
                "of each dtype in each process waits for them (about 4-6 s on 2 cores, 6-10 "
                "with the toolkit's options, as the compile announcement says). Point the "
                "environment variable NUMBA_CACHE_DIR at a writable directory to keep them.",
                CacheWarning)
        dispatcher._cache = InMemoryCache()
        with _lock:
            _uncached.append(dispatcher)
        return dispatcher
    _check_cache_dir(dispatcher._cache)
    _lock_compiles(dispatcher)
    with _lock:
        _dispatchers.append(dispatcher)
    return dispatcher


def compiles_in_memory(dispatcher):
    """Whether ``dispatcher`` compiles in memory only, for want of a
    writable cache location: what it compiles is lost with the process.

    Parameters
    ----------
    dispatcher : numba dispatcher

    Returns
    -------
    bool
    """
    with _lock:
        return any(d is dispatcher for d in _uncached)


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
    try:
        # Everything in an index key but the signature: this machine's CPU
        # name and features, the kernel's bytecode hash, fastbp's extras
        # (the BLAS). An entry compiled with any other (an image built on
        # another CPU, an older fastbp) does not serve.
        rest = cache._index_key(None, dispatcher.targetctx.codegen())[1:]
    except Exception:
        return True
    # An entry whose data file is gone or empty compiles (_has_data).
    return not any(f"array({name}," in str(key[0]) and tuple(key[1:]) == rest
                   and _has_data(cache, data_name)
                   for key, data_name in overloads.items())


def saves_to_disk():
    """Whether compiled kernels are saved to an on-disk cache (False where
    no cache location was writable: they compile in memory, in every
    process)."""
    return not _warned_no_location
