"""The Numba cache classes of fastbp's kernels: :class:`RepairingCache`,
which rebuilds an entry it cannot read and loads without Numba's registry
refresh, :class:`OrderedIndexDataCacheFile`, which saves a kernel's index
and data files under a lock, data first, and :class:`InMemoryCache`, for a
kernel that no cache location can hold."""

import glob
import itertools
import os
import re
import warnings

from numba.core.caching import Cache, FunctionCache, IndexDataCacheFile, NullCache
from numba.core.runtime import rtsys

from .counts import _count, _count_unsaved, _warn_unsaved
from .key import _current_entries, _key_extras
from .locks import _holding, _index_lock
from .warning import CacheWarning


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
    :func:`~.counts.thread_counts`: Numba asks its cache before every compile."""

    def load_overload(self, sig, target_context):
        _count("compiled")


def _remove(path):
    """Delete the file ``path``; whether it was there to delete (another
    process may have deleted it first, or it may not be ours to delete)."""
    try:
        os.remove(path)
    except OSError:
        return False
    return True
