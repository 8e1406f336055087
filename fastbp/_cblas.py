"""Which BLAS the kernels' matrix products call, decided once per process.

NumPy's own OpenBLAS through its ILP64 CBLAS symbols where NumPy links
one (``fastbp.kernels.blas`` explains why and how), Numba's ``np.dot``
(SciPy's BLAS) otherwise or when ``FASTBP_BLAS=scipy`` asks for it. The
choice lives apart from the kernels because it also decides how they are
compiled (``fastbp._config``: Numba's ``np.dot`` needs the
reference-counting runtime, the CBLAS calls do not) and it is part of every
cache key.
"""

import ctypes
import os

import llvmlite.binding as llvm

from ._cache.key import add_cache_key
from ._cache.warning import warn_outside_fastbp

# (sgemm, dgemm): NumPy >= 2 wheels (scipy-openblas64), then NumPy 1.x
# wheels (openblas64_). Both take 64-bit integers.
_ILP64_NAMES = (("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_"),
                ("cblas_sgemm64_", "cblas_dgemm64_"))


def _numpy_extension_path():
    try:
        from numpy._core import _multiarray_umath
    except ImportError:  # NumPy 1.x
        from numpy.core import _multiarray_umath
    return _multiarray_umath.__file__


def _numpy_symbols(candidates):
    """The first pair of ``candidates`` that the library NumPy links
    exports, as ctypes functions with those names, or None."""
    try:
        # NumPy loaded its extension, and with it the BLAS, long ago: this
        # returns a handle to the same objects (nothing is loaded twice).
        lib = ctypes.CDLL(_numpy_extension_path())
    except OSError:
        return None
    for names in candidates:
        try:
            return [(name, getattr(lib, name)) for name in names]
        except AttributeError:
            continue
    return None


def find_numpy_cblas():
    """The addresses of the ILP64 CBLAS ``sgemm`` and ``dgemm`` that NumPy
    links, and their names.

    Returns
    -------
    tuple of (str, int, str, int), or None
        ``(sgemm_name, sgemm_address, dgemm_name, dgemm_address)``; None
        where NumPy links no BLAS with such symbols.
    """
    found = _numpy_symbols(_ILP64_NAMES)
    if found is None:
        return None
    (s_name, s_fn), (d_name, d_fn) = found
    return (s_name, ctypes.cast(s_fn, ctypes.c_void_p).value,
            d_name, ctypes.cast(d_fn, ctypes.c_void_p).value)


# (get, set) of the thread count of the same OpenBLAS, in the same order.
_THREAD_NAMES = (("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
                 ("openblas_get_num_threads64_", "openblas_set_num_threads64_"))


def find_numpy_blas_threads():
    """The thread-count getter and setter of the OpenBLAS that NumPy links.

    Returns
    -------
    tuple of (ctypes function, ctypes function), or None
        ``get()`` returns the pool size, ``set(n)`` sets it, for the whole
        process (as ``threadpoolctl`` would, without its library scan);
        None where NumPy links no such OpenBLAS.
    """
    found = _numpy_symbols(_THREAD_NAMES)
    if found is None:
        return None
    (_, get), (_, set_) = found
    get.restype = ctypes.c_int
    get.argtypes = []
    set_.restype = None
    set_.argtypes = [ctypes.c_int]
    return get, set_


def _choose():
    asked = os.environ.get("FASTBP_BLAS", "").strip().lower()
    if asked == "scipy":
        return "scipy", None
    if asked not in ("", "numpy"):
        # helper-123: a typo (FASTBP_BLAS=scpiy) took NumPy's BLAS without a
        # word, as FASTBP_SPLIT and FASTBP_COMPILE_AHEAD do not.
        warn_outside_fastbp(
            f"FASTBP_BLAS={asked!r} is not one of numpy, scipy: taken as numpy (the "
            "kernels call NumPy's BLAS where NumPy links one; set it to scipy for "
            "Numba's np.dot).", RuntimeWarning)
    found = find_numpy_cblas()
    if found is None:
        return "scipy", None
    s_name, s_addr, d_name, d_addr = found
    llvm.add_symbol("fastbp_sgemm", s_addr)
    llvm.add_symbol("fastbp_dgemm", d_addr)
    return f"numpy:{s_name}", found


#: Which BLAS the kernels' products call: ``"numpy:<symbol>"`` or
#: ``"scipy"`` (Numba's ``np.dot``).
BACKEND, _FOUND = _choose()
add_cache_key("blas", BACKEND)
#: Whether the products call NumPy's CBLAS (a compile-time constant: the
#: other branch is pruned before typing).
NUMPY_BLAS = _FOUND is not None
