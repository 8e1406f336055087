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
- a compile that the cache cannot serve takes a lock file of its own
  (one per kernel and signature, under ``fastbp-locks`` in the cache
  directory), so that one process per machine compiles a kernel while the
  others wait and then load it, and processes that need different kernels
  compile them at once; a holder writes its process ID beside the lock
  file, and a process that has waited :data:`LOCK_NOTICE_AFTER` s says whom it
  waits for (``FASTBP_LOCK_TIMEOUT`` sets how long, :data:`LOCK_TIMEOUT`);
- a fit that would wait for another process's compile may spend the
  wait compiling what it needs next (:class:`while_waiting`);
- a kernel's index and data files are saved under a lock of its own, data
  first (Numba writes the index first, unlocked: two processes saving at
  once lost each other's entries, and a reader could meet an entry whose
  data was not written yet);
- :func:`cache_info` and :func:`clear_cache` report and empty the cache
  (``fastbp info`` and ``fastbp info --clear-cache`` on the command line);
- a save deletes the kernel's data files that its index no longer names
  (Numba forgets a kernel's entries when its source changes), and
  :func:`prune_cache` (``fastbp info --prune-cache``) the rest of what
  older sources left;
- loading a cached kernel skips the refresh of Numba's typing and lowering
  registries, which Numba runs before every load and which costs a fresh
  process (a loky, Dask or Ray worker, a script) 0.1-0.2 s of imports that
  only a compile uses.
"""

import contextlib
import glob
import hashlib
import itertools
import os
import pickle
import re
import tempfile
import threading
import time
import warnings

import numpy as np
from filelock import FileLock, Timeout
from numba.core import config, sigutils
from numba.core.caching import Cache, FunctionCache, IndexDataCacheFile, NullCache
from numba.core.compiler_lock import global_compiler_lock
from numba.core.runtime import rtsys

from .exceptions import warn_at_caller


class CacheWarning(UserWarning):
    """fastbp's compile cache could not be used as is (damaged or not
    writable); fastbp compiled in memory or rebuilt the entry."""


# Every cached fastbp dispatcher, for cache_info and clear_cache.
_dispatchers = []
# Every fastbp dispatcher that compiles in memory (no writable cache
# location), for warmup's count of what it compiled.
_uncached = []
_lock = threading.Lock()
_warned_no_location = False
# What each thread compiled, loaded and could not save (thread_counts).
# Per thread, not per process: Numba compiles and loads a kernel, and the
# kernels it calls, in the thread whose call needs it, so a warm-up that
# runs while other threads fit counts its own work only (rev-203: summing
# the dispatchers' counters claimed other threads' compiles as its own).
_per_thread = threading.local()
# Whether _check_cache_dir has run (for the first kernel: it decides for all).
_cache_dir_checked = False
# (NUMBA_CACHE_DIR, where the cache went instead, why) where Numba did not
# use NUMBA_CACHE_DIR (misplaced_cache), else None.
_misplaced = None
# (the package's own cache directory, where the cache went instead, why)
# where NUMBA_CACHE_DIR is unset and Numba passed over a cache built into
# the installed package (unused_package_cache), else None.
_unused_package = None


def _absolute_cache_dir():
    """Make a relative NUMBA_CACHE_DIR absolute, against the directory of
    the import: Numba joins it to each kernel's cache path as given, so the
    cache followed every ``os.chdir`` (the entries of a fit went under the
    directory of the moment, while the one of the import stayed empty).
    The environment too, so that child processes (compile-ahead helpers,
    loky workers) that start elsewhere use the same directory, and a reload
    of Numba's configuration does not put the relative path back."""
    wanted = config.CACHE_DIR
    if wanted and not os.path.isabs(wanted):
        config.CACHE_DIR = os.path.abspath(wanted)
        if os.environ.get("NUMBA_CACHE_DIR") == wanted:
            os.environ["NUMBA_CACHE_DIR"] = config.CACHE_DIR


_absolute_cache_dir()


def warn_outside_fastbp(message, category):
    """``warnings.warn``, attributed to the first frame outside fastbp and
    Python's import machinery (:func:`~fastbp.exceptions.warn_at_caller`):
    for a warning said while fastbp is imported (the kernels are made
    then), the line that imported it, where a fixed ``stacklevel`` named a
    line of fastbp's own (``_config.py``) and depended on which module was
    imported first (helper-123).

    Given at once, also within a fit or a warm-up that keeps its fits'
    warnings quiet: the cache's state is the caller's to know.

    Parameters
    ----------
    message : str
    category : type of Warning
    """
    warn_at_caller(message, category, at_once=True)


#: The subdirectory of a cache directory that holds the lock files: one
#: per kernel and signature, under which it compiles, and one per kernel,
#: under which its index file is rewritten.
LOCKS_DIR = "fastbp-locks"
#: The environment variable that sets :data:`LOCK_TIMEOUT` (seconds).
LOCK_TIMEOUT_ENV = "FASTBP_LOCK_TIMEOUT"
_DEFAULT_LOCK_TIMEOUT = 600.0


def _lock_timeout_from_env():
    """:data:`LOCK_TIMEOUT` from :data:`LOCK_TIMEOUT_ENV`, or the default
    (600 s) where unset; ``inf`` waits for as long as the holder holds the
    lock. A value that is not a number of seconds >= 0 nor ``inf`` gets a
    :class:`CacheWarning` and the default (a typo in a deployment's
    environment should not stop every fit of it)."""
    value = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not value:
        return _DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not seconds >= 0:  # NaN too
        warn_outside_fastbp(
            f"{LOCK_TIMEOUT_ENV}={value!r} is not a number of seconds >= 0, nor 'inf' "
            f"(wait for as long as the lock is held): fastbp waits the default "
            f"{_DEFAULT_LOCK_TIMEOUT:g} s for another process's compile.", CacheWarning)
        return _DEFAULT_LOCK_TIMEOUT
    return seconds


#: Seconds a process waits for another's compile before compiling itself,
#: or for another's index save before saving anyway: the environment
#: variable ``FASTBP_LOCK_TIMEOUT`` where set, else 600. A compile takes
#: seconds; only a stalled process holds a lock this long (a dead one
#: releases it at once: the operating system drops its lock).
LOCK_TIMEOUT = _lock_timeout_from_env()
#: Seconds of waiting for a lock after which the process says so (once
#: per lock file): a stalled holder (stopped, swapping, in a debugger)
#: otherwise left it silent for :data:`LOCK_TIMEOUT`.
LOCK_NOTICE_AFTER = 10.0
_noticed_locks = set()
_file_locks = {}
_warned_lock = False
# Until when (time.monotonic()) a process that has given up waiting for a
# lock tries the others without waiting (see _acquire).
_hurry_until = 0.0
# A child made by fork inherits the parent's lock objects, which filelock
# refuses to use there: the child makes its own (the locks themselves,
# held by the operating system per open file, stay the parent's).
os.register_at_fork(after_in_child=_file_locks.clear)


#: What compiled code depends on besides its source and the CPU, by name:
#: part of every cache key (see :func:`add_cache_key`).
_key_extras = {}


def add_cache_key(name, value):
    """Make ``value`` part of the cache key of every fastbp kernel.

    For what compiled code depends on that Numba's own key (source, closure,
    signature, CPU) does not see: which BLAS library the products call, for
    one. Call it at import, before any kernel compiles or loads.
    """
    _key_extras[name] = value


def sources_digest(package_dir=os.path.dirname(os.path.abspath(__file__))):
    """SHA-256 of the sources that compiled kernels are built from.

    Numba keys a cached kernel by its own function's bytecode and stamps
    the index with its own file, so editing only a callee's module (the
    products in ``blas.py``, a loss in ``losses.py``) would leave the
    callers' cached code, with the old callee inlined, loading as if
    current. Hashing every kernel module and the compile flags closes that
    for development installs; an installed release hashes the same on every
    machine, so a cache built for an image still serves.

    Parameters
    ----------
    package_dir : str
        The ``fastbp`` package directory.

    Returns
    -------
    str
        Hex digest over ``kernels/**/*.py``, ``_config.py`` and
        ``_link_only.py`` (how inner kernels are built and cached), by
        relative path, so that a renamed or added module counts too.
    """
    digest = hashlib.sha256()
    paths = sorted(glob.glob(os.path.join(package_dir, "kernels", "**", "*.py"),
                             recursive=True))
    for path in [*paths, *(os.path.join(package_dir, name)
                           for name in ("_config.py", "_link_only.py"))]:
        digest.update(os.path.relpath(path, package_dir).replace(os.sep, "/").encode())
        digest.update(b"\0")
        with open(path, "rb") as f:
            digest.update(f.read())
        digest.update(b"\0")
    return digest.hexdigest()


try:
    add_cache_key("sources", sources_digest())
except OSError:  # sources not readable as files (a zip or frozen install): the version
    from importlib.metadata import PackageNotFoundError, version

    try:
        add_cache_key("sources", "fastbp " + version("fastbp"))
    except PackageNotFoundError:
        add_cache_key("sources", "fastbp unknown")


# The pieces of Numba's Cache that RepairingCache.load_overload re-uses to
# load without Numba's registry refresh (tests/test_hardening.py pins the
# method they come from).
_LOADS_WITHOUT_REFRESH = all(
    hasattr(Cache, name) for name in ("_load_overload", "_index_key",
                                      "_guard_against_spurious_io_errors"))
# The pieces of Numba's IndexDataCacheFile that OrderedIndexDataCacheFile.save
# re-orders (tests/test_hardening.py pins Numba's save).
_SAVES_IN_ORDER = all(
    hasattr(IndexDataCacheFile, name) for name in ("_load_index", "_save_index", "_save_data",
                                                   "_data_name", "save"))


def mentions_runtime(library_data):
    """Whether serialised library data (object code, bitcode) names a
    symbol of Numba's runtime: ``NRT_*``, ``nrt_*``, ``_nrt_*``.

    Parameters
    ----------
    library_data : bytes, or nested tuples and lists holding bytes
        What Numba saves of a compiled library (``libdata``).

    Returns
    -------
    bool
    """
    if isinstance(library_data, (bytes, bytearray)):
        return b"NRT_" in library_data or b"nrt_" in library_data
    if isinstance(library_data, (tuple, list)):
        return any(mentions_runtime(part) for part in library_data)
    return False


class OrderedIndexDataCacheFile(IndexDataCacheFile):
    """Numba's index and data files of one kernel, saved under a lock, data
    first.

    Numba's ``save`` reads the index, adds the entry, writes the index, and
    only then the data file. Two processes saving two signatures of one
    kernel at once (float32 and float64) would each drop the other's entry
    and could pick the same data file name; and a process reading the
    index between the two writes would load the data file of that name
    that an older index left behind (Numba numbers them from 1 again when
    the kernel's source changes), machine code of another version or
    signature. Here the save holds the kernel's index lock, writes the data
    first under a name no file has, then the index. A reader needs no lock:
    both files are replaced whole (written apart, then renamed).
    """

    def save(self, key, data):
        with _holding(_index_lock(self), "saving a compiled kernel"):
            loaded = self._load_index()
            overloads = _current_entries(loaded)
            # Past every number on disk, the stale files' included: a
            # process that read the index before this save never meets
            # other code under a name it was given.
            after = max(self._remove_unreferenced(set(overloads.values())), default=0)
            data_name = overloads.get(key)
            if data_name is None:
                for i in itertools.count(after + 1):
                    data_name = self._data_name(i)
                    if not os.path.exists(os.path.join(self._cache_path, data_name)):
                        break
                self._save_data(data_name, data)
                overloads[key] = data_name
                self._save_index(overloads)
            else:
                self._save_data(data_name, data)
                if len(overloads) != len(loaded):
                    self._save_index(overloads)

    def _data_files(self):
        """``{number: file name}`` of this kernel's data files on disk."""
        stem = self._index_name[:-len(".nbi")]
        pattern = re.compile(re.escape(stem) + r"\.(\d+)\.nbc")
        found = {}
        for path in glob.glob(os.path.join(glob.escape(self._cache_path),
                                           glob.escape(stem) + ".*.nbc")):
            match = pattern.fullmatch(os.path.basename(path))
            if match:
                found[int(match.group(1))] = match.group(0)
        return found

    def _remove_unreferenced(self, referenced):
        """Delete this kernel's data files that its index does not name
        (call it under the index lock); return the numbers of every data
        file that was on disk.

        Numba's index forgets its entries when the kernel's source changes
        (its stamp), and :meth:`save` never reuses a file name, so without
        this every edit of a kernel module, and every upgrade installed in
        place, left a full set of data files behind for good.
        """
        found = self._data_files()
        for name in set(found.values()) - referenced:
            _remove(os.path.join(self._cache_path, name))
        return found


def _current_entries(overloads):
    """The entries of a kernel's index that this fastbp can load: those
    whose ``sources`` key part (:func:`sources_digest`) is the current one.

    An entry of other sources (a callee's module edited, or another release
    installed in place, where the kernel's own file kept its stamp) is
    never looked up again. Entries of other CPUs or BLAS libraries stay: a
    cache may serve several machines or environments.
    """
    sources = _key_extras.get("sources")
    kept = {}
    for key, name in overloads.items():
        try:
            current = dict(key[-1]).get("sources") == sources
        except (TypeError, ValueError):  # a key without fastbp's parts
            current = False
        if current:
            kept[key] = name
    return kept


class RepairingCache(FunctionCache):
    """Numba's function cache, which rebuilds an entry it cannot read
    instead of failing every later call, with fastbp's extra key parts.

    Parameters
    ----------
    py_func : function
    uses_runtime : bool, default=True
        Whether the kernel is compiled with Numba's reference-counting
        runtime (its ``_nrt`` option).
    """

    def __init__(self, py_func, uses_runtime=True):
        super().__init__(py_func)
        self.uses_runtime = uses_runtime
        if _SAVES_IN_ORDER:
            self._cache_file.__class__ = OrderedIndexDataCacheFile

    def _index_key(self, sig, codegen):
        return super()._index_key(sig, codegen) + (tuple(sorted(_key_extras.items())),)

    def load_overload(self, sig, target_context):
        # Numba's own load_overload first calls target_context.refresh(),
        # which imports and installs every typing and lowering registry
        # (0.1-0.2 s, most of a warm first fit in a fresh process). A load
        # uses none of them: it links machine code that was lowered when it
        # was saved. A compile still refreshes (Numba's compiler does so
        # itself). Where a Numba release no longer has the private pieces
        # this relies on, Numba's own load runs instead.
        try:
            if not _LOADS_WITHOUT_REFRESH:
                loaded = super().load_overload(sig, target_context)
            else:
                with self._guard_against_spurious_io_errors():
                    loaded = self._load_without_refresh(sig, target_context)
        except Exception as exc:  # any damage: unpickling, EOF, bad data
            self._discard(exc)
            loaded = None
        # Numba asks the cache only for a signature this process has not
        # compiled, and compiles it where the cache has none: the same
        # tally as its _cache_hits and _cache_misses, for this thread.
        _count("loaded" if loaded is not None else "compiled")
        return loaded

    def _load_without_refresh(self, sig, target_context):
        """Numba's ``Cache._load_overload``, which starts the runtime (NRT)
        first where the entry needs it."""
        if not self._enabled:
            return None
        data = self._cache_file.load(self._index_key(sig, target_context.codegen()))
        if data is None:
            return None
        # Code that references the runtime's symbols crashes the process
        # when linked without them (the toolkit's entry points that may
        # allocate). The others skip the runtime's own compile (about
        # 20 ms). The flag alone would do for fastbp's kernels; the scan
        # also covers an entry saved under other flags than the
        # dispatcher's.
        if self.uses_runtime or mentions_runtime(data[0]):
            rtsys.initialize(target_context)
        return self._impl.rebuild(target_context, data)

    def save_overload(self, sig, data):
        # The index and data files are written under the kernel's index
        # lock (OrderedIndexDataCacheFile).
        try:
            super().save_overload(sig, data)
        except OSError as exc:
            # A full, read-only or forbidden disk, not damage: Numba writes
            # each file beside its place and renames it in, so the entries
            # there are whole, and they stay (discarding them made the next
            # process compile what it could have loaded). This compile
            # stays in memory.
            _count_unsaved()
            _warn_unsaved(self._cache_file._cache_path, exc)
        except Exception as exc:
            if isinstance(exc, RuntimeError) and str(exc).startswith("no compiled object yet"):
                # Not damage (helper-150): LLVM's notice of the object code
                # (a ctypes callback) was cut short, by Ctrl-C during the
                # compile (llvmlite drops the KeyboardInterrupt), and Numba
                # has none to save. Nothing was written; the compile works
                # in memory, and the next process compiles it again.
                _count_unsaved()
                return
            self._discard(exc)  # a damaged index
            try:
                super().save_overload(sig, data)
            except Exception:  # still unwritable: keep the in-memory compile
                _count_unsaved()

    def _discard(self, exc):
        """Delete this function's index and data files, and say so."""
        cache_file = self._cache_file
        # Under the index lock: a save of another process is not cut short.
        with _holding(_index_lock(cache_file), "removing a damaged cache entry"):
            removed = self._remove_files()
        warnings.warn(
            f"fastbp's compile cache in {cache_file._cache_path} held a damaged entry for "
            f"{self._py_func.__qualname__!r} ({type(exc).__name__}: {exc}); removed "
            f"{removed or 'nothing'} and compiling it again. To empty the whole cache: "
            "fastbp info --clear-cache.",
            CacheWarning, stacklevel=2)

    def _remove_files(self):
        cache_file = self._cache_file
        removed = []
        stem = cache_file._index_name[:-len(".nbi")]
        for path in [cache_file._index_path,
                     *glob.glob(os.path.join(cache_file._cache_path, glob.escape(stem)
                                             + ".*.nbc"))]:
            if _remove(path):
                removed.append(os.path.basename(path))
        return removed


class InMemoryCache(NullCache):
    """Numba's no-op cache, for a kernel that compiles in memory (no
    writable cache location), which counts each compile for
    :func:`thread_counts`: Numba asks its cache before every compile."""

    def load_overload(self, sig, target_context):
        _count("compiled")


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
        writable at all (:func:`saves_to_disk` says that).
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


def _file_lock(path):
    """The machine-wide lock of the file ``path``, or None where its
    directory cannot be made (the cache is then read-only, and nothing is
    saved to race over).

    One lock object per path and process (a forked child makes its own),
    reentrant across the process's threads (``thread_local=False``):
    Numba's compiler lock already serialises a process's compiles, and a
    process holds each lock for one of them at a time.

    Returns
    -------
    filelock.FileLock or None
    """
    with _lock:
        if path not in _file_locks:
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
            except OSError:
                return None
            _file_locks[path] = FileLock(path, thread_local=False)
        return _file_locks[path]


def _lock_path(cache_file, suffix):
    # cache_file: Numba's IndexDataCacheFile of a kernel.
    stem = cache_file._index_name[:-len(".nbi")]
    return os.path.join(cache_file._cache_path, LOCKS_DIR, f"{stem}.{suffix}.lock")


def _index_lock(cache_file):
    """The lock under which a kernel's index and data files are written."""
    return _file_lock(_lock_path(cache_file, "index"))


def _compile_lock_path(dispatcher, args, role=""):
    # Numba's type names are the same in every process.
    digest = hashlib.sha1(str(tuple(args)).encode()).hexdigest()[:16]
    return _lock_path(dispatcher._cache._cache_file, digest + role)


def compile_lock(dispatcher, args):
    """The machine-wide lock under which ``dispatcher`` compiles for the
    argument types ``args``.

    One per kernel and signature: processes that need the same kernel
    compile it once (the others wait, then load it), and processes that
    need different kernels, or another dtype of the same one, compile at
    once. A process takes them holding Numba's compiler lock, along the
    call tree (caller before callee), which has no cycles: no two processes
    can wait for each other, nor two threads of one process, which take
    the compiler lock first.

    Parameters
    ----------
    dispatcher : numba dispatcher
        With a :class:`RepairingCache`.
    args : tuple of numba types

    Returns
    -------
    filelock.FileLock or None
    """
    return _file_lock(_compile_lock_path(dispatcher, args))


def ahead_claim_path(dispatcher, dtype):
    """The lock file that a helper process compiling ``dispatcher`` for
    ``dtype`` ahead of a fit holds (:mod:`fastbp.training.ahead`): one
    helper per kernel and dtype on a machine."""
    return _compile_lock_path(dispatcher, (str(np.dtype(dtype)),), ".ahead")


def compile_lock_name(dispatcher, args):
    """The file name, under ``LOCKS_DIR`` of the cache directory, of the
    lock that :func:`compile_lock` takes (for tests and tools that hold a
    compile back)."""
    return os.path.basename(_compile_lock_path(dispatcher, args))


def _acquire(lock, what):
    """Take ``lock``; after :data:`LOCK_TIMEOUT` s, or where the file
    cannot be locked, go on without it (False), with one warning per
    process.

    After :data:`LOCK_NOTICE_AFTER` s of waiting, a :class:`CacheWarning`
    (once per lock file and process) says what it waits for, the lock
    file, the holder's process ID (which the holder writes into it) and
    how much longer it will wait.

    Once a wait has timed out, the process tries the locks it meets in the
    next :data:`LOCK_TIMEOUT` s once each, without waiting: a stalled
    process holds the lock of a kernel and those of the kernels it calls,
    and waiting the full timeout again for each of them would stall this
    one for as many times as long. Later on it waits again (a long-lived
    worker keeps sharing compiles with the others).
    """
    global _warned_lock, _hurry_until
    hurry = time.monotonic() < _hurry_until
    timeout = 0 if hurry else LOCK_TIMEOUT
    try:
        try:
            lock.acquire(timeout=min(timeout, LOCK_NOTICE_AFTER))
        except Timeout:
            if timeout <= LOCK_NOTICE_AFTER:
                raise
            _notice_wait(lock, what, timeout - LOCK_NOTICE_AFTER)
            # filelock waits for ever on -1; not every version it may be
            # (>=3.12) is known to take inf for that.
            forever = timeout == float("inf")
            lock.acquire(timeout=-1 if forever else timeout - LOCK_NOTICE_AFTER)
        return True
    except Exception as exc:  # Timeout, OSError (permissions), filelock's own
        with _lock:
            first = not _warned_lock
            _warned_lock = True
            if isinstance(exc, Timeout) and not hurry:
                _hurry_until = time.monotonic() + LOCK_TIMEOUT
        if first:
            # Where a wait can time out, the next LOCK_TIMEOUT s hurry;
            # with inf only a lock that cannot be taken ends here.
            later = ("for one that fails the same way" if LOCK_TIMEOUT == float("inf")
                     else f"for a lock held in the next {LOCK_TIMEOUT:g} s, or for one "
                          "that fails the same way")
            # Attributed past Numba's dispatcher and contextlib (a fixed
            # stacklevel named contextlib's line) to the line that fitted.
            warn_outside_fastbp(
                f"fastbp waited for the lock {lock.lock_file} and gave up ({exc}); {what} "
                f"without it (and without waiting {later}, without saying so again).",
                CacheWarning)
        return False


def _notice_wait(lock, what, remaining):
    """Say, once per lock file and process, that this process has waited
    :data:`LOCK_NOTICE_AFTER` s for ``lock`` and waits ``remaining`` s more."""
    with _lock:
        if lock.lock_file in _noticed_locks:
            return
        _noticed_locks.add(lock.lock_file)
    holder = _read_holder(lock.lock_file)
    by = f"process {holder}" if holder is not None else "another process"
    more = ("until the lock is freed" if remaining == float("inf")
            else f"up to {remaining:g} s more, then goes on without it")
    warn_outside_fastbp(
        f"fastbp has waited {LOCK_NOTICE_AFTER:g} s for {by}, which holds the lock "
        f"{lock.lock_file} (it is compiling or saving the same kernel), before {what}; "
        f"it waits {more} (the environment variable {LOCK_TIMEOUT_ENV} sets the whole "
        f"wait, now {LOCK_TIMEOUT:g} s). A holder that is stopped or stuck can be ended: "
        "the lock is freed with it.", CacheWarning)


def _holder_path(path):
    """The file beside the lock file ``path`` that names its holder: not
    the lock file itself, which filelock 3.x (``filelock>=3.12`` is allowed)
    truncates at every try to take it, so that a waiter's poll erased the
    holder's ID (rev-233)."""
    return f"{path}.pid"


def _read_holder(path):
    """The process ID that the last holder of the lock file ``path`` wrote
    (:func:`_holding`), or None where there is none to read (a holder of an
    older fastbp writes none)."""
    try:
        with open(_holder_path(path), "rb") as f:
            text = f.read(32)
        return int(text.strip()) if text.strip() else None
    except (OSError, ValueError):
        return None


def _write_holder(path):
    """Write this process's ID beside the lock file ``path``, which it
    holds, for the processes that wait to name (:func:`_notice_wait`)."""
    try:
        with open(_holder_path(path), "w") as f:
            f.write(str(os.getpid()))
    except OSError:  # a directory this process cannot write: no ID to tell
        pass


@contextlib.contextmanager
def _holding(lock, what):
    """Hold ``lock`` (a :func:`_file_lock`, or None) for the block where it
    can be taken (:func:`_acquire`); run the block without it otherwise.
    While held, the lock names this process (:func:`_write_holder`)."""
    held = lock is not None and _acquire(lock, what)
    if held:
        _write_holder(lock.lock_file)
    try:
        yield
    finally:
        if held:
            lock.release()


def _on_disk(dispatcher, sig):
    """Whether the cache index of ``dispatcher`` holds ``sig`` for this
    machine (then a call only loads it, and needs no lock)."""
    cache = dispatcher._cache
    try:
        key = cache._index_key(sig, dispatcher.targetctx.codegen())
        data_name = cache._cache_file._load_index().get(key)
    except Exception:  # missing or damaged index: a compile is coming
        return False
    # An index entry whose data file is gone or empty loads nothing: the
    # call compiles, and must take the lock as any compile.
    return data_name is not None and _has_data(cache, data_name)


def _has_data(cache, data_name):
    """Whether the data file ``data_name`` of ``cache`` (a
    :class:`RepairingCache`) is there and not empty (a stat: a damaged one
    that is not empty is found when loaded, and rebuilt)."""
    try:
        return os.path.getsize(os.path.join(cache._cache_path, data_name)) > 0
    except OSError:
        return False


_waiting = threading.local()


class while_waiting:
    """Spend a wait for another process's compile on ``task``.

    In this block, the first time this thread calls a kernel that another
    process is compiling (its :func:`compile_lock` is held elsewhere),
    ``task()`` runs before the wait: typically compiling what the caller
    will need next, which would otherwise wait in turn once the lock is
    free. It runs once, outside Numba's compiler lock, never from within
    another task, and in one process per kernel and signature: a third
    process waits as before. An exception it raises is dropped (the fit it
    serves runs whatever the task did), except an interrupt.

    A class, not a generator: every fit enters one (under a microsecond).

    Parameters
    ----------
    task : callable
        Called without arguments.
    """

    __slots__ = ("task", "saved")

    def __init__(self, task):
        self.task = task

    def __enter__(self):
        self.saved = getattr(_waiting, "task", None)
        _waiting.task = self.task
        return self

    def __exit__(self, *exc):
        _waiting.task = self.saved


def _busy(lock):
    """Whether another process holds ``lock`` (a :func:`_file_lock`) now."""
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    except Exception:  # a file that cannot be locked: compiles go on without it
        return False
    lock.release()
    return False


def _spend_the_wait(dispatcher, args, lock):
    """Run this thread's :func:`while_waiting` task if ``lock`` is held by
    another process and no compile is under way in this thread (the task
    compiles and runs kernels of its own; inside a compile, Numba's
    compiler lock would stop the other threads of a split step)."""
    task = getattr(_waiting, "task", None)
    # Not from within a task: its fits arm tasks of their own.
    if (task is None or lock is None or getattr(_waiting, "spending", False)
            or global_compiler_lock.is_locked() or not _busy(lock)):
        return
    _waiting.task = None  # once
    # One process per kernel and signature spends its wait: the task's
    # kernels are the same for all of them, and a third would wait for
    # the second's compiles instead of the first's.
    claim = _file_lock(_compile_lock_path(dispatcher, args, ".idle"))
    if claim is None:
        return
    try:
        claim.acquire(timeout=0)
    except Exception:  # another process spends its wait (or no lock file)
        return
    _waiting.spending = True
    try:
        task()
    except Exception:  # noqa: BLE001 - see while_waiting
        pass
    finally:
        _waiting.spending = False
        claim.release()


def _lock_compiles(dispatcher):
    """Make ``dispatcher`` compile under the lock of each signature.

    Numba calls ``dispatcher.compile(sig)`` whenever a call or a caller's
    type inference meets a signature it has not compiled in this process.
    A signature compiled in memory or present on disk goes straight
    through; any other waits for its lock (:func:`compile_lock`), then
    compiles, or loads what a process that held the lock meanwhile saved.
    """
    compile_unlocked = dispatcher.compile

    def compile(sig):
        args = tuple(sigutils.normalize_signature(sig)[0])
        if args in dispatcher.overloads or _on_disk(dispatcher, sig):
            return compile_unlocked(sig)
        lock = compile_lock(dispatcher, args)
        _spend_the_wait(dispatcher, args, lock)
        # Numba's compiler lock first (reentrant; the compile takes it
        # anyway): a thread holding a file lock never waits for it while
        # another thread of this process, holding it, waits for a file lock.
        with global_compiler_lock, _holding(lock, f"compiling {dispatcher.py_func.__qualname__!r}"):
            return compile_unlocked(sig)

    dispatcher.compile = compile


def enable_cache(dispatcher):
    """Give ``dispatcher`` a :class:`RepairingCache` whose compiles take the
    locks (:func:`compile_lock`), or compile it in memory (one warning per
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


def _check_cache_dir(cache):
    """Warn where NUMBA_CACHE_DIR is set but ``cache`` (a
    :class:`RepairingCache`) is elsewhere: Numba falls back, without a word,
    to the package's ``__pycache__`` or ``~/.cache/numba`` when that
    directory cannot be made or written (a read-only image layer, a path
    under a file), and a cache built there is not the one the user meant to
    fill or to ship. Where it is unset, warn where Numba passed over a cache
    built into the package itself (:func:`_check_package_cache`).

    Once per process, for the first kernel: Numba's locator decides alike
    for every kernel of the package (the same directory, made and written
    or not), and the import of the others need not ask again.
    """
    global _cache_dir_checked, _misplaced
    with _lock:
        checked, _cache_dir_checked = _cache_dir_checked, True
    wanted = config.CACHE_DIR
    if checked:
        return
    if not wanted:
        _check_package_cache(cache)
        return
    here = os.path.realpath(cache._cache_path)
    root = os.path.realpath(wanted)
    try:
        if os.path.commonpath([here, root]) == root:
            return
    except ValueError:  # on two Windows drives: elsewhere indeed
        pass
    try:  # what Numba's locator tried
        os.makedirs(wanted, exist_ok=True)
        tempfile.TemporaryFile(dir=wanted).close()
        why = "Numba did not use it"
    except OSError as exc:
        why = f"{type(exc).__name__}: {exc}"
    _misplaced = (wanted, cache._cache_path, why)
    warn_outside_fastbp(
        f"fastbp's compile cache is not in NUMBA_CACHE_DIR={wanted} ({why}): Numba put it "
        f"in {cache._cache_path} instead. Point NUMBA_CACHE_DIR at a writable directory "
        "to cache there.", CacheWarning)


def _in_tree_cache_dir(cache):
    """The ``__pycache__`` beside the module of ``cache``'s kernel: where
    Numba caches by default (its in-tree locator), and so where ``fastbp
    compile`` run without NUMBA_CACHE_DIR fills the cache of an install."""
    source = os.path.abspath(cache._py_func.__code__.co_filename)
    return os.path.join(os.path.dirname(source), "__pycache__")


def _write_error(directory):
    """Why a file cannot be made in ``directory`` (Numba's own test of a
    cache location), or None where one can."""
    try:
        tempfile.TemporaryFile(dir=directory).close()
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _check_package_cache(cache):
    """Warn where NUMBA_CACHE_DIR is unset, ``cache`` (a
    :class:`RepairingCache`) is not in the package's own ``__pycache__``,
    and that directory holds cache index files: Numba passes over an
    in-tree cache it cannot write (a package installed by root and run by
    another user, a read-only image layer) and goes on in ``~/.cache/numba``
    without a word, so the cache that ``fastbp compile`` built into an image
    is never used and every first fit compiles."""
    global _unused_package
    package = _in_tree_cache_dir(cache)
    if os.path.realpath(cache._cache_path) == os.path.realpath(package):
        return
    if not glob.glob(os.path.join(glob.escape(package), "*.nbi")):
        return  # nothing was built there: nothing is lost
    why = _write_error(package) or "Numba did not use it"
    _unused_package = (package, cache._cache_path, why)
    warn_outside_fastbp(
        f"fastbp's installed package holds a compile cache in {package}, which is not used "
        f"because that directory is not writable ({why}): Numba neither loads from nor "
        f"saves to a cache it cannot write, and caches in {cache._cache_path} instead, so "
        "the first fit compiles again. Set NUMBA_CACHE_DIR to a writable directory when "
        "building the image (and where it runs), or make the package directory writable.",
        CacheWarning)


def unused_package_cache():
    """Where NUMBA_CACHE_DIR is unset and the installed package's own
    ``__pycache__`` holds a compile cache that Numba does not use (it cannot
    write that directory): ``(package, actual, why)``, that directory, the
    one used instead and the reason; None otherwise.

    Returns
    -------
    tuple of str, or None
    """
    return _unused_package


def misplaced_cache():
    """Where NUMBA_CACHE_DIR is set but Numba caches fastbp's kernels
    elsewhere (it could not make or write that directory): ``(wanted,
    actual, why)``, the directory asked for, the one used instead and the
    reason; None otherwise (unset, or used).

    Returns
    -------
    tuple of str, or None
    """
    return _misplaced


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


def saves_to_disk():
    """Whether compiled kernels are saved to an on-disk cache (False where
    no cache location was writable: they compile in memory, in every
    process)."""
    return not _warned_no_location


def cache_info():
    """Where fastbp's compiled kernels are cached, and how much is there.

    Returns
    -------
    dict
        ``directories`` (list of str), ``n_files`` (int), ``n_bytes``
        (int), ``writable`` (bool: False when kernels are compiled in
        memory only) and ``unused`` (str or None: a compile cache in the
        installed package's own directory that is not used because that
        directory is not writable, with the reason; see
        :func:`unused_package_cache`).
    """
    files = _cache_files()
    n_bytes = 0
    for directory, names in files.items():
        for name in names:
            try:
                n_bytes += os.path.getsize(os.path.join(directory, name))
            except OSError:
                pass
    unused = unused_package_cache()
    if unused is not None:
        unused = (f"{unused[0]} is not used: the directory is not writable ({unused[2]}); "
                  "set NUMBA_CACHE_DIR to a writable directory when building the image, or "
                  "make the package directory writable")
    return {"directories": sorted(files), "n_files": sum(len(v) for v in files.values()),
            "n_bytes": n_bytes, "writable": saves_to_disk(), "unused": unused}


def clear_cache():
    """Delete every cached fastbp kernel; the next fit compiles afresh.

    The lock files of the cache directories go too, with the files that
    name their holders, except a lock that a process holds now; so do the
    directories that this leaves empty (the lock directory, and the cache
    directory itself, such as the package's ``kernels/__pycache__``), so
    that ``pip uninstall`` afterwards leaves nothing of fastbp behind.

    Returns
    -------
    n_removed : int
        Cached kernel files deleted (the lock files are not counted).
    """
    removed = 0
    for directory, names in _cache_files().items():
        for name in names:
            removed += _remove(os.path.join(directory, name))
        _remove_idle_locks(os.path.join(directory, LOCKS_DIR))
        for emptied in (os.path.join(directory, LOCKS_DIR), directory):
            with contextlib.suppress(OSError):  # not empty (a lock held, .pyc files)
                os.rmdir(emptied)
    return removed


def _remove_idle_locks(locks):
    """Delete the lock files in the directory ``locks`` that no process
    holds, and the files naming their holders (:func:`_holder_path`).

    A lock file that another process holds stays, and so does the file
    naming its holder: deleting it would let a third process lock a new
    file of the same name while the holder compiles. Each lock is taken
    without waiting and deleted while held, so no process takes it in
    between; one that this process holds (another thread's compile) is
    left alone too. A waiter that opened the file just before its deletion
    may still lock the deleted file and work beside a process that locks
    the new one: at worst a kernel compiled twice, or an index entry lost
    (compiled again later).
    """
    kept = set()
    for path in glob.glob(os.path.join(glob.escape(locks), "*.lock")):
        # A lock object of its own, not the process's (_file_lock), which
        # is reentrant: a lock that another thread of this process holds
        # then counts as held too.
        lock = FileLock(path, thread_local=False)
        try:
            lock.acquire(timeout=0)
        except Exception:  # held by another process (Timeout), or not ours to take
            kept.add(path)
            continue
        try:
            _remove(path)
        finally:
            lock.release()
        if os.path.exists(path):  # not ours to delete, or taken anew since
            kept.add(path)
        with _lock:
            # The next use makes a new lock object, which remakes the
            # directory (_file_lock) that the caller may now remove.
            _file_locks.pop(path, None)
    for holder in glob.glob(os.path.join(glob.escape(locks), "*.lock.pid")):
        if holder[:-len(".pid")] not in kept:
            _remove(holder)


def prune_cache():
    """Delete the cached kernels that this fastbp can no longer load.

    What an edit of a kernel module or an upgrade installed in place left
    behind: index entries and data files of other sources, and the files of
    kernels that have since moved to other lines of their module, been
    renamed or removed (:func:`_remove_gone`). Entries that may still serve
    stay: those of other CPUs, BLAS libraries, Python versions or Numba
    releases, and every file outside fastbp's own cache directories (a
    NUMBA_CACHE_DIR may hold other projects' caches too). A damaged index
    is deleted with its data files, as a load that meets it would. Each
    kernel's files are rewritten under its index lock, so a process saving
    a compile meanwhile loses nothing.

    Returns
    -------
    n_removed : int
        Files deleted.
    """
    # Every kernel first, those that a fit makes on demand included: their
    # stale entries go too, and no file of theirs is judged gone.
    registered = _register_every_kernel()
    removed = 0
    seen = set()
    for disp in list(_dispatchers):
        cache_file = disp._cache._cache_file
        if cache_file._index_path in seen:
            continue
        seen.add(cache_file._index_path)
        with _holding(_index_lock(cache_file), "pruning the compile cache"):
            try:
                loaded = _index_to_prune(cache_file)
            except Exception:  # damaged: nothing in it loads (as RepairingCache._discard)
                removed += len(disp._cache._remove_files())
                removed += _remove_moved(cache_file)
                continue
            if loaded is None:
                continue
            overloads = _current_entries(loaded)
            on_disk = cache_file._data_files()
            cache_file._remove_unreferenced(set(overloads.values()))
            removed += len(set(on_disk.values()) - set(overloads.values()))
            if overloads != loaded or not overloads:
                if overloads:
                    cache_file._save_index(overloads)
                elif _remove(cache_file._index_path):
                    removed += 1
        removed += _remove_moved(cache_file)
    return removed + (_remove_gone() if registered else 0)


def _register_every_kernel():
    """Import every kernel module of fastbp and make its kernels made on
    demand (``for_output``, one set per output function), so that every
    kernel this fastbp has is in ``_dispatchers``; whether that worked.

    :func:`_remove_gone` deletes the files of every name missing there
    (call it only where this worked), and a prune may run in a fresh
    process (``fastbp info --prune-cache``) that has imported some modules
    only, or made one set or none. Making a dispatcher compiles nothing. The CUDA kernels are left out: Numba
    cannot cache them on disk (they are built by factories), so no file
    in the cache is theirs.
    """
    import importlib
    import pkgutil

    try:
        from .kernels import codes
        package = importlib.import_module(".kernels", __package__)
        for module_info in pkgutil.iter_modules(package.__path__):
            if module_info.ispkg:
                continue
            module = importlib.import_module(f"{package.__name__}.{module_info.name}")
            for_output = getattr(module, "for_output", None)
            if callable(for_output):
                for code in codes.OUTPUT_NAMES:
                    for_output(code)
    except Exception:  # a name must not be judged gone on a partial count
        return False
    return True


#: A cache file's name as Numba makes it: ``<module stem>.<qualname>-<first
#: line>.py<major><minor><abiflags>``, then ``.nbi`` (the index) or
#: ``.<n>.nbc`` (a data file).
_CACHE_FILE = re.compile(r"(?P<stem>(?P<fullname>[^-]+)-\d+\.(?P<python>py\d+[a-z]*))"
                         r"(?:\.nbi|\.\d+\.nbc)")


def _remove_gone():
    """Delete the index and data files, in fastbp's own cache directories,
    of kernels that the current fastbp no longer has (removed or renamed);
    return how many.

    A name is gone where no kernel of fastbp makes it, once every kernel is
    made (call it only after :func:`_register_every_kernel` worked). The
    names come from fastbp's sources alone, the same in every environment
    that shares them (and so this directory: Numba keeps one per source
    directory), but only this Python version's files are deleted, as the
    rest of the prune leaves other Python versions' alone; theirs go too
    where their module itself is gone from the sources, as no environment
    with these sources can import it. Only the directories
    Numba's locator gives fastbp's kernels are looked at, and only names of
    Numba's pattern there: another project's cache, beside fastbp's in a
    shared NUMBA_CACHE_DIR, is never touched.
    """
    python = None  # this Python's tag, as Numba writes it (py311)
    current, sources = {}, {}
    for disp in list(_dispatchers):
        cache_file = disp._cache._cache_file
        match = _CACHE_FILE.fullmatch(cache_file._index_name)
        if match is None:  # not Numba's usual name: judge nothing there
            return 0
        python = match.group("python")
        current.setdefault(cache_file._cache_path, set()).add(match.group("fullname"))
        sources[cache_file._cache_path] = os.path.dirname(
            os.path.abspath(disp.py_func.__code__.co_filename))
    removed = 0
    for directory, names in current.items():
        gone = {}
        for path in glob.glob(os.path.join(glob.escape(directory), "*.nb[ci]")):
            match = _CACHE_FILE.fullmatch(os.path.basename(path))
            if match is None or match.group("fullname") in names:
                continue
            module = match.group("fullname").partition(".")[0]
            if (match.group("python") == python
                    or not os.path.exists(os.path.join(sources[directory], module + ".py"))):
                gone.setdefault(match.group("stem"), []).append(path)
        locks = os.path.join(directory, LOCKS_DIR)
        for stem, paths in sorted(gone.items()):
            lock = _file_lock(os.path.join(locks, f"{stem}.index.lock"))
            with _holding(lock, "pruning the compile cache"):
                removed += sum(_remove(path) for path in sorted(paths))
            # Its lock files and their holders' IDs too, the index lock just
            # taken included: no kernel of these sources takes them again
            # (rev-270: a prune left them, and made the one it took).
            for path in glob.glob(os.path.join(glob.escape(locks), glob.escape(stem) + ".*")):
                _remove(path)
    return removed


def _index_to_prune(cache_file):
    """The entries of ``cache_file``'s index, as :func:`prune_cache` judges
    them, or None where the index is another Numba release's.

    Numba's own ``_load_index`` reads both another release's index and a
    stale one (its kernel's source has changed since) as empty; prune
    deletes what a stale index names, which nothing loads, but leaves
    another release's alone: an environment with that release, sharing
    these sources, loads it. Raises where the index cannot be read.
    """
    try:
        with open(cache_file._index_path, "rb") as f:
            version = pickle.load(f)
            data = f.read()
    except FileNotFoundError:
        return {}
    if version != cache_file._version:
        return None
    stamp, overloads = pickle.loads(data)
    return overloads if stamp == cache_file._source_stamp else {}


def _remove(path):
    """Delete the file ``path``; whether it was there to delete (another
    process may have deleted it first, or it may not be ours to delete)."""
    try:
        os.remove(path)
    except OSError:
        return False
    return True


def _remove_moved(cache_file):
    """Delete the index and data files of ``cache_file``'s kernel saved
    when it stood on other lines of its module (Numba names the files by
    module, name, first line and Python version); return how many."""
    stem = cache_file._index_name[:-len(".nbi")]
    fullname, _, rest = stem.rpartition("-")
    python = rest.partition(".")[2]
    pattern = re.compile(re.escape(fullname) + r"-(\d+)\." + re.escape(python)
                         + r"(?:\.\d+\.nbc|\.nbi)")
    removed = 0
    for path in glob.glob(os.path.join(glob.escape(cache_file._cache_path),
                                       glob.escape(fullname) + "-*")):
        name = os.path.basename(path)
        if (pattern.fullmatch(name) and not name.startswith(stem + ".")
                and _remove(path)):
            removed += 1
    return removed
