"""Where Numba puts fastbp's compile cache, checked: a relative
NUMBA_CACHE_DIR made absolute at import, and a warning where the cache is
not where the user meant it (:func:`misplaced_cache`) or where a cache
built into the installed package goes unused
(:func:`unused_package_cache`)."""

import glob
import os
import tempfile
import threading

from numba.core import config

from .warning import CacheWarning, warn_outside_fastbp

_lock = threading.Lock()
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


def _check_cache_dir(cache):
    """Warn where NUMBA_CACHE_DIR is set but ``cache`` (a
    :class:`~.index.RepairingCache`) is elsewhere: Numba falls back, without a word,
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
    :class:`~.index.RepairingCache`) is not in the package's own ``__pycache__``,
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
