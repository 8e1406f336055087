"""What ``fastbp info`` reports of the compile cache and does to it:
:func:`cache_info`, :func:`clear_cache` and :func:`prune_cache`, which
deletes what older sources left (entries of other sources, kernels moved
to other lines, renamed or removed)."""

import contextlib
import glob
import os
import pickle
import re

from filelock import FileLock

# A module, not its names: tests rebind its list of dispatchers and its
# saves_to_disk, and what is reported here must follow.
from . import dispatchers
from .directory import unused_package_cache
from .index import _remove
from .key import _current_entries
from .locks import LOCKS_DIR, _file_lock, _forget_file_lock, _holding, _index_lock


def _cache_files():
    """``{directory: [file names]}`` of fastbp's cached kernels.

    Every ``.nbi``/``.nbc`` file of the directories fastbp's kernels cache
    into: those directories hold fastbp's kernels only (Numba keeps one per
    source directory), and entries of older versions of a kernel (other line
    numbers) are listed too.
    """
    directories = {disp._cache._cache_file._cache_path
                   for disp in list(dispatchers._dispatchers)}
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
        (int), ``writable`` (bool: False when kernels are compiled in
        memory only) and ``unused`` (str or None: a compile cache in the
        installed package's own directory that is not used because that
        directory is not writable, with the reason; see
        :func:`~.directory.unused_package_cache`).
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
            "n_bytes": n_bytes, "writable": dispatchers.saves_to_disk(), "unused": unused}


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
    holds, and the files naming their holders (:func:`~.locks._holder_path`).

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
        _forget_file_lock(path)
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
    for disp in list(dispatchers._dispatchers):
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
    kernel this fastbp has is in ``dispatchers._dispatchers``; whether that
    worked.

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
        from ..kernels import codes
        package = importlib.import_module("..kernels", __package__)
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
    for disp in list(dispatchers._dispatchers):
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
