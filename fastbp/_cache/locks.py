"""The lock files of fastbp's compile cache: one machine-wide lock per
path and process (:func:`_file_lock`), taken with a timeout and a notice
that names the holder (:func:`_acquire`, :func:`_holding`), and the lock
under which a kernel's index and data files are written
(:func:`_index_lock`)."""

import contextlib
import os
import threading
import time

from filelock import FileLock, Timeout

from .warning import CacheWarning, warn_outside_fastbp

_lock = threading.Lock()


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
    :class:`~.warning.CacheWarning` and the default (a typo in a deployment's
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


def _acquire(lock, what):
    """Take ``lock``; after :data:`LOCK_TIMEOUT` s, or where the file
    cannot be locked, go on without it (False), with one warning per
    process.

    After :data:`LOCK_NOTICE_AFTER` s of waiting, a :class:`~.warning.CacheWarning`
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


def _forget_file_lock(path):
    """Drop this process's lock object of ``path`` (:func:`_file_lock`),
    whose file has been deleted: the next use makes a new one, which
    remakes the directory that the caller may now remove."""
    with _lock:
        _file_locks.pop(path, None)
