"""The machine-wide lock under which each kernel compiles for each
signature (:func:`compile_lock`, taken by :func:`_lock_compiles`), and
what a fit does with a wait for another process's compile
(:class:`while_waiting`)."""

import hashlib
import os
import threading

import numpy as np
from numba.core import sigutils
from numba.core.compiler_lock import global_compiler_lock

from .locks import _busy, _file_lock, _holding, _lock_path


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
        With a :class:`~.index.RepairingCache`.
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
    :class:`~.index.RepairingCache`) is there and not empty (a stat: a damaged one
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
