"""The compile cache of an installed fastbp, as an image or ``pip`` sees it.

Checks that a compile cache built into the installed package's own
``__pycache__`` (``fastbp compile`` without NUMBA_CACHE_DIR) that Numba
passes over, because the directory is not writable where fastbp runs, gets
a :class:`~fastbp.CacheWarning` and a line in :func:`fastbp.compile_cache_info`
(Numba fell back to ``~/.cache/numba`` without a word).
"""

import importlib.util
import os
import tempfile
import warnings

import pytest
from numba.core import config

from fastbp import CacheWarning, _cache


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
    monkeypatch.setattr(_cache, "_cache_dir_checked", False)
    monkeypatch.setattr(_cache, "_unused_package", None)


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
    cache = _cache.RepairingCache(module.double)
    # What Numba did without a word: the user-wide cache.
    assert str(cache._cache_path).startswith(str(tmp_path / "home-cache"))
    with pytest.warns(CacheWarning) as caught:
        _cache._check_cache_dir(cache)
    (message,) = [str(w.message) for w in caught]
    assert str(pycache) in message and "not writable" in message, message
    assert "Permission denied" in message and cache._cache_path in message, message
    assert "NUMBA_CACHE_DIR" in message, message
    unused = _cache.cache_info()["unused"]
    assert unused is not None and str(pycache) in unused and "not writable" in unused
    # Once per process: the other kernels say nothing more.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _cache._check_cache_dir(_cache.RepairingCache(module.double))


def test_no_warning_without_a_package_cache(fresh_check, monkeypatch, tmp_path):
    # Nothing was built into the package: nothing is lost.
    module, pycache = _kernel_module(tmp_path)
    pycache.mkdir()
    (pycache / "kern.cpython-311.pyc").write_bytes(b"")
    _unwritable(monkeypatch, pycache)
    cache = _cache.RepairingCache(module.double)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _cache._check_cache_dir(cache)
    assert _cache.cache_info()["unused"] is None


def test_no_warning_where_the_package_cache_is_used(fresh_check, tmp_path):
    module, pycache = _kernel_module(tmp_path)
    pycache.mkdir()
    (pycache / "kern.double-1.py311.nbi").write_bytes(b"")
    cache = _cache.RepairingCache(module.double)
    assert os.path.realpath(cache._cache_path) == os.path.realpath(pycache)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _cache._check_cache_dir(cache)
    assert _cache.cache_info()["unused"] is None
