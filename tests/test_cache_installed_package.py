"""The compile cache of an installed fastbp, as an image or ``pip`` sees it.

Checks that a compile cache built into the installed package's own
``__pycache__`` (``fastbp compile`` without NUMBA_CACHE_DIR) that Numba
passes over, because the directory is not writable where fastbp runs, gets
a :class:`~fastbp.CacheWarning` and a line in :func:`fastbp.compile_cache_info`
(Numba fell back to ``~/.cache/numba`` without a word); and that
:func:`fastbp.clear_compile_cache` removes the idle lock files and their
holders' files and the directories it empties, so that ``pip uninstall``
afterwards leaves nothing behind, while a lock that a process holds stays.
"""

import importlib.util
import os
import subprocess
import sys
import tempfile
import warnings

import pytest
from numba.core import config

from fastbp import CacheWarning
from fastbp._cache import directory as checks
from fastbp._cache import index, maintenance
from fastbp._cache.locks import LOCKS_DIR, _file_lock, _holding


def _kernel_module(tmp_path):
    """A module with one function, standing for fastbp's kernels, and its
    ``__pycache__``."""
    package = tmp_path / "site-packages" / "kernels"
    package.mkdir(parents=True)
    (package / "kern.py").write_text("def double(x):\n    return 2 * x\n")
    spec = importlib.util.spec_from_file_location("fastbp_test_kern", package / "kern.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, package / "__pycache__"


@pytest.fixture
def fresh_check(monkeypatch, tmp_path):
    """NUMBA_CACHE_DIR unset, ~/.cache in tmp_path, and the once-per-process
    check not yet made."""
    monkeypatch.setattr(config, "CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    monkeypatch.setattr(checks, "_cache_dir_checked", False)
    monkeypatch.setattr(checks, "_unused_package", None)


def _unwritable(monkeypatch, directory):
    """Make ``directory`` unwritable to Numba's locator and to fastbp: both
    test a location by making a temporary file there (a chmod would not
    stop a test that runs as root)."""
    real = tempfile.TemporaryFile

    def temporary_file(*args, **kwargs):
        if os.path.realpath(str(kwargs.get("dir", ""))) == os.path.realpath(directory):
            raise PermissionError(13, "Permission denied", str(directory))
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", temporary_file)


def test_an_unwritable_package_cache_is_named(fresh_check, monkeypatch, tmp_path):
    module, pycache = _kernel_module(tmp_path)
    pycache.mkdir()
    (pycache / "kern.double-1.py311.nbi").write_bytes(b"built by fastbp compile")
    _unwritable(monkeypatch, pycache)
    cache = index.RepairingCache(module.double)
    # What Numba did without a word: the user-wide cache.
    assert str(cache._cache_path).startswith(str(tmp_path / "home-cache"))
    with pytest.warns(CacheWarning) as caught:
        checks._check_cache_dir(cache)
    (message,) = [str(w.message) for w in caught]
    assert str(pycache) in message and "not writable" in message, message
    assert "Permission denied" in message and cache._cache_path in message, message
    assert "NUMBA_CACHE_DIR" in message, message
    unused = maintenance.cache_info()["unused"]
    assert unused is not None and str(pycache) in unused and "not writable" in unused
    # Once per process: the other kernels say nothing more.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checks._check_cache_dir(index.RepairingCache(module.double))


def test_no_warning_without_a_package_cache(fresh_check, monkeypatch, tmp_path):
    # Nothing was built into the package: nothing is lost.
    module, pycache = _kernel_module(tmp_path)
    pycache.mkdir()
    (pycache / "kern.cpython-311.pyc").write_bytes(b"")
    _unwritable(monkeypatch, pycache)
    cache = index.RepairingCache(module.double)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checks._check_cache_dir(cache)
    assert maintenance.cache_info()["unused"] is None


def test_no_warning_where_the_package_cache_is_used(fresh_check, tmp_path):
    module, pycache = _kernel_module(tmp_path)
    pycache.mkdir()
    (pycache / "kern.double-1.py311.nbi").write_bytes(b"")
    cache = index.RepairingCache(module.double)
    assert os.path.realpath(cache._cache_path) == os.path.realpath(pycache)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checks._check_cache_dir(cache)
    assert maintenance.cache_info()["unused"] is None


_HOLD = """
import sys
from filelock import FileLock
lock = FileLock(sys.argv[1], thread_local=False)
lock.acquire()
print("held", flush=True)
sys.stdin.read()
"""


def _cache_dir_with_locks(tmp_path, monkeypatch):
    directory = tmp_path / "kernels" / "__pycache__"
    locks = directory / LOCKS_DIR
    locks.mkdir(parents=True)
    names = ["lean.train_epoch-10.py311.nbi", "lean.train_epoch-10.py311.1.nbc"]
    for name in names:
        (directory / name).write_bytes(b"x")
    for stem in ("lean.train_epoch-10.py311.0123456789abcdef",
                 "lean.train_epoch-10.py311.index",
                 "lean.train_epoch-10.py311.0123456789abcdef.ahead"):
        (locks / f"{stem}.lock").write_bytes(b"")
        (locks / f"{stem}.lock.pid").write_text("4242")
    # A holder's file whose lock is gone already.
    (locks / "lean.predict-20.py311.index.lock.pid").write_text("4343")
    monkeypatch.setattr(maintenance, "_cache_files", lambda: {str(directory): names})
    return directory, locks


def test_clear_cache_removes_idle_locks_and_emptied_directories(tmp_path, monkeypatch):
    directory, locks = _cache_dir_with_locks(tmp_path, monkeypatch)
    assert maintenance.clear_cache() == 2
    assert not locks.exists()
    assert not directory.exists()
    assert (tmp_path / "kernels").exists()  # not the cache's to remove
    # This process takes a lock there again, the directory made anew.
    lock = _file_lock(str(locks / "lean.train_epoch-10.py311.index.lock"))
    with _holding(lock, "testing"):
        assert locks.is_dir()


def test_clear_cache_leaves_a_held_lock_and_other_files(tmp_path, monkeypatch):
    directory, locks = _cache_dir_with_locks(tmp_path, monkeypatch)
    (directory / "lean.cpython-311.pyc").write_bytes(b"")
    held = locks / "lean.train_epoch-10.py311.0123456789abcdef.lock"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(held)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert maintenance.clear_cache() == 2
        assert sorted(os.listdir(locks)) == sorted([held.name, held.name + ".pid"])
        assert sorted(os.listdir(directory)) == [LOCKS_DIR, "lean.cpython-311.pyc"]
    finally:
        holder.communicate("", timeout=60)
    # Freed: the next clear removes it, and the .pyc keeps the directory.
    maintenance.clear_cache()
    assert os.listdir(directory) == ["lean.cpython-311.pyc"]


def test_fastbp_info_names_an_unused_package_cache(monkeypatch, capsys):
    from fastbp.cli import main

    real = maintenance.cache_info

    def info_with_unused():
        # Not writable: info then skips the (slow) warm-role report.
        return {**real(), "writable": False,
                "unused": "/site/fastbp/kernels/__pycache__ is not used: the directory is not "
                          "writable (PermissionError)"}

    monkeypatch.setattr(maintenance, "cache_info", info_with_unused)
    main(["info"])
    out = capsys.readouterr().out
    assert ("compile cache not used: /site/fastbp/kernels/__pycache__ is not used: the "
            "directory is not writable (PermissionError)") in out, out
