"""fastbp's on-disk cache of compiled kernels, made robust.

Numba's ``cache=True`` has two failure modes that would stop fastbp for
good: a damaged cache file (truncated, emptied, garbage) makes every later
load fail with an unpickling error that never mentions the cache, in every
later process; and where no cache location is writable, decorating a
function raises at import time. Here:

- a cache entry that cannot be read is deleted with a
  :class:`~.warning.CacheWarning` naming the directory, and the kernel is compiled
  again and saved afresh;
- where no location is writable, kernels are compiled in memory, with one
  warning that says why the first fit is slow and how to fix it;
- a compile that the cache cannot serve takes a lock file of its own
  (one per kernel and signature, under ``fastbp-locks`` in the cache
  directory), so that one process per machine compiles a kernel while the
  others wait and then load it, and processes that need different kernels
  compile them at once; a holder writes its process ID beside the lock
  file, and a process that has waited :data:`~.locks.LOCK_NOTICE_AFTER` s says whom it
  waits for (``FASTBP_LOCK_TIMEOUT`` sets how long, :data:`~.locks.LOCK_TIMEOUT`);
- a fit that would wait for another process's compile may spend the
  wait compiling what it needs next (:class:`~.compile_locks.while_waiting`);
- a kernel's index and data files are saved under a lock of its own, data
  first (Numba writes the index first, unlocked: two processes saving at
  once lost each other's entries, and a reader could meet an entry whose
  data was not written yet);
- :func:`~.maintenance.cache_info` and :func:`~.maintenance.clear_cache` report and empty the cache
  (``fastbp info`` and ``fastbp info --clear-cache`` on the command line);
- a save deletes the kernel's data files that its index no longer names
  (Numba forgets a kernel's entries when its source changes), and
  :func:`~.maintenance.prune_cache` (``fastbp info --prune-cache``) the rest of what
  older sources left;
- loading a cached kernel skips the refresh of Numba's typing and lowering
  registries, which Numba runs before every load and which costs a fresh
  process (a loky, Dask or Ray worker, a script) 0.1-0.2 s of imports that
  only a compile uses.

The modules, each importing only those before it:

- :mod:`.warning`: :class:`~.warning.CacheWarning` and how it is given;
- :mod:`.key`: the cache key beyond Numba's own, the sources digest in it;
- :mod:`.counts`: what each thread and the process compiled, loaded and
  could not save;
- :mod:`.locks`: lock files, their holders, timeouts and notices;
- :mod:`.index`: the Numba cache classes (repairing, saving in order, in
  memory);
- :mod:`.compile_locks`: the lock of each kernel's compile and
  :class:`~.compile_locks.while_waiting`;
- :mod:`.directory`: where the cache is, checked at the first kernel;
- :mod:`.dispatchers`: :func:`~.dispatchers.enable_cache`, the kernels
  cached, and :func:`~.dispatchers.will_compile`;
- :mod:`.maintenance`: :func:`~.maintenance.cache_info`,
  :func:`~.maintenance.clear_cache` and :func:`~.maintenance.prune_cache`.

Import a name from the module that holds it, and monkeypatch it there:
this package re-exports nothing.
"""
