"""Datasets for examples, tests and benchmarks.

Three sources of data are provided, all returning NumPy arrays ready to be fed
to the fastbp estimators (C-contiguous floating-point ``X``, ``int64`` ``y``):

* :func:`load_digits` -- scikit-learn's bundled 8x8 digits (1797 samples),
  always available, no files needed.
* :func:`make_tabular` -- a seeded synthetic classification problem of any
  size, built with :func:`sklearn.datasets.make_classification`.
* :func:`load_mnist` -- the MNIST handwritten digits (70,000 28x28 images),
  read from the four original IDX files that the user supplies.

Nothing here ever downloads anything: MNIST has to be obtained by the user and
placed in a directory passed as ``data_dir`` or named by the environment
variable ``FASTBP_DATA_DIR`` (see :func:`load_mnist`).

This module depends only on NumPy, the standard library, scikit-learn and
:mod:`fastbp.files` (standard library only); it deliberately does not import
Numba, so that importing it is cheap.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import numbers
import os
import threading
import zlib
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .files import path_argument

__all__ = [
    "DatasetError",
    "DATA_DIR_ENV",
    "DatasetNotFoundError",
    "MNIST_FILES",
    "MNIST_SHA256",
    "clear_cache",
    "load_digits",
    "load_mnist",
    "make_tabular",
    "read_idx",
]

#: Name of the environment variable consulted when ``data_dir`` is None.
DATA_DIR_ENV = "FASTBP_DATA_DIR"

#: The four MNIST files, by role, under their original (uncompressed) names.
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

#: sha256 of each *uncompressed* MNIST file.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# Expected IDX magic number and shape of each file.
_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
_MNIST_LAYOUT = {
    "train-images-idx3-ubyte": (_IMAGES_MAGIC, (60000, 28, 28)),
    "train-labels-idx1-ubyte": (_LABELS_MAGIC, (60000,)),
    "t10k-images-idx3-ubyte": (_IMAGES_MAGIC, (10000, 28, 28)),
    "t10k-labels-idx1-ubyte": (_LABELS_MAGIC, (10000,)),
}

_GZIP_MAGIC = b"\x1f\x8b"

# IDX element type codes (third byte of the magic number) -> big-endian dtype.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_WHERE_TO_GET = (
    "MNIST is not shipped with fastbp and is never downloaded at run time. "
    "Get the four files (gzipped or not) from the original MNIST page by Yann "
    "LeCun, Corinna Cortes and Christopher J.C. Burges, "
    "http://yann.lecun.com/exdb/mnist/ , or one of its mirrors, e.g. "
    "https://ossci-datasets.s3.amazonaws.com/mnist/ (PyTorch/torchvision) or "
    "https://storage.googleapis.com/cvdf-datasets/mnist/ (TensorFlow). "
    "MNIST is licensed CC BY-SA 3.0 (Yann LeCun and Corinna Cortes)."
)


def _where_to_put(cli_option=None):
    # A command-line tool's user passes the directory with its option, not
    # as load_mnist's argument.
    how = f"with {cli_option}" if cli_option else "as load_mnist(data_dir=...)"
    return (
        "Put train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each optionally with "
        f"a .gz suffix) in one directory and pass it {how} or "
        f"set the environment variable {DATA_DIR_ENV} to it (or to a parent "
        "directory holding it as an 'mnist/' subfolder)."
    )


class DatasetError(ValueError):
    """A dataset file exists but its content is not what was expected.

    Raised for corrupt or truncated files, bad gzip streams, wrong IDX magic
    numbers, wrong shapes, out-of-range labels and checksum mismatches. The
    message names the file and says what was wrong.
    """


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's directory or files cannot be found.

    The message lists the missing files, where they were looked for, where to
    put them and where to obtain them.
    """


class _BadIdx(Exception):
    """Internal: what is wrong with an IDX file, without naming the file."""


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _invalid(message):
    """scikit-learn's error for a bad argument (a ValueError and a
    TypeError both), as its own data set functions raise."""
    from sklearn.utils._param_validation import InvalidParameterError

    return InvalidParameterError(message)


def _check_bool(value, name, function):
    """``value`` as a bool (NumPy's too), or ``_invalid`` naming ``name``
    and ``function``: "no" is truthy."""
    # fastbp.warmup's _check_flag, with its message, written out here: this
    # module imports nothing of fastbp's (its tests hold it to that), and
    # warmup's import would bring in the compiled kernels.
    if not isinstance(value, (bool, np.bool_)):
        raise _invalid(f"{function}: {name} must be True or False, got {value!r}.")
    return bool(value)


def _float_dtype(dtype, default):
    # np.dtype(None) is float64, whatever the function's documented default.
    try:
        dt = np.dtype(default if dtype is None else dtype)
    except TypeError:  # NumPy's "data type 'flot32' not understood" names no argument
        dt = dtype
    if not isinstance(dt, np.dtype) or dt.kind != "f":
        raise _invalid(
            f"dtype must be a floating-point type (e.g. np.float32 or "
            f"np.float64), got {dt!r}"
        )
    return dt


def _corrupt(path, what, *, hint=True, cli_option=None):
    msg = f"MNIST file {os.fspath(path)!r}: {what}."
    if hint:
        msg += (
            " The file is not a valid copy of the original; replace it. "
            + _where_to_put(cli_option)
            + " "
            + _WHERE_TO_GET
        )
    return DatasetError(msg)


def _read_bytes(path):
    """Return the uncompressed content of ``path`` (gzip detected by magic).

    Raises ``_BadIdx`` for an invalid gzip stream.
    """
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise _BadIdx(
                f"cannot decompress gzip data (corrupt or truncated file: {exc})"
            ) from None
    return data


def _parse_idx(data):
    """Parse IDX bytes into ``(magic, array)``; the array may be read-only.

    Raises ``_BadIdx`` describing the problem.
    """
    if len(data) < 4:
        raise _BadIdx(
            f"file is truncated ({len(data)} bytes), too short for "
            "an IDX header"
        )
    magic = int.from_bytes(data[:4], "big")
    type_code, ndim = data[2], data[3]
    if data[0] != 0 or data[1] != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        raise _BadIdx(
            f"not an IDX file, bad magic number {magic} "
            f"(0x{magic:08x}); IDX files start with two zero bytes, a type "
            "code (0x08, 0x09, 0x0B-0x0E) and the number of dimensions"
        )
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise _BadIdx(
            f"file is truncated ({len(data)} bytes), too short for "
            f"the {header_len}-byte IDX header of a {ndim}-d array"
        )
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    dtype = _IDX_DTYPES[type_code]
    expected = header_len + math.prod(shape) * dtype.itemsize
    if len(data) < expected:
        raise _BadIdx(
            f"file is truncated: the header declares shape {shape} "
            f"({expected} bytes with header) but the file has only "
            f"{len(data)} bytes"
        )
    if len(data) > expected:
        raise _BadIdx(
            f"file has {len(data) - expected} unexpected trailing "
            f"bytes after the data of shape {shape}"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    if not dtype.isnative and dtype.itemsize > 1:
        arr = arr.astype(dtype.newbyteorder("="))
    return magic, arr


def read_idx(path):
    """Read one IDX file (as used by MNIST), gzipped or not.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Gzip compression is detected from the content, not from the
        file name.

    Returns
    -------
    array : ndarray of shape ``dims``
        A new, writable array whose shape is the one declared in the header
        (e.g. ``(60000, 28, 28)`` for MNIST's training images) and whose
        dtype is the IDX element type in native byte order (``uint8`` for
        MNIST).

    Raises
    ------
    TypeError
        If ``path`` is not a str, bytes or path-like (None among them).
    ValueError
        If ``path`` is empty.
    FileNotFoundError
        If ``path`` does not exist.
    DatasetError
        If the file is not valid gzip, has a bad IDX magic number, or is
        truncated or longer than its header declares.
    """
    # fix-324: open's own message ("expected str, bytes or os.PathLike
    # object, not NoneType") named no argument.
    path = path_argument("read_idx(path)", path, "the path of an IDX file")
    try:
        _, arr = _parse_idx(_read_bytes(path))
    except _BadIdx as exc:
        raise DatasetError(f"IDX file {path!r}: {exc}") from None
    return np.array(arr, copy=True, order="C")


# ---------------------------------------------------------------------------
# MNIST
# ---------------------------------------------------------------------------


def _find_file(directory, name):
    for candidate in (name, name + ".gz"):
        p = directory / candidate
        if p.is_file():
            return p
    return None


def _resolve_mnist_files(data_dir, cli_option=None):
    """Map each MNIST file name to an existing path, or raise.

    ``cli_option`` names ``data_dir`` in the messages as a command-line
    tool's option (see :func:`load_mnist`).
    """
    where_to_put = _where_to_put(cli_option) + " " + _WHERE_TO_GET
    if data_dir is None:
        env = os.environ.get(DATA_DIR_ENV)
        if not env:
            given = f"no {cli_option}" if cli_option else "data_dir is None"
            raise DatasetNotFoundError(
                f"MNIST: no data directory given: {given} and the "
                f"environment variable {DATA_DIR_ENV} is not set (or empty). "
                + where_to_put
            )
        data_dir, origin = env, f"{DATA_DIR_ENV}={env!r}"
    else:
        # fix-324: os.fspath's own message ("expected str, bytes or
        # os.PathLike object, not int") named no argument. An empty one is
        # explained below.
        data_dir = path_argument(cli_option or "load_mnist(data_dir)", data_dir,
                                 "the path of the directory holding the MNIST files",
                                 empty_ok=True)
        origin = (f"{cli_option} {os.fspath(data_dir)!r}" if cli_option
                  else f"data_dir={os.fspath(data_dir)!r}")
        # As an empty FASTBP_DATA_DIR: an unset variable expanded in a
        # script (--data-dir "$DIR"), not the current directory, which
        # Path("") would be.
        if not os.fspath(data_dir):
            name, unset = ((cli_option, f"leave {cli_option} out") if cli_option
                           else ("data_dir", "None"))
            raise DatasetNotFoundError(
                f"MNIST: {name} is an empty string; pass the directory "
                f"holding the files, or {unset} to use {DATA_DIR_ENV}. "
                + where_to_put
            )
    root = Path(os.path.expanduser(os.fspath(data_dir)))
    if not root.is_dir():
        raise DatasetNotFoundError(
            f"MNIST: the data directory {str(root)!r} (from {origin}) does not "
            "exist or is not a directory. " + where_to_put
        )
    names = list(MNIST_SHA256)
    candidates = [root]
    if (root / "mnist").is_dir():
        candidates.append(root / "mnist")
    # The first directory holding all four files; where none does, the one
    # holding the most is reported (the first of those tied), as the set
    # the user meant: a stray file beside a complete mnist/ is no reason
    # to fail.
    chosen = found = None
    for d in candidates:
        here = {n: _find_file(d, n) for n in names}
        if found is None or sum(p is not None for p in here.values()) > sum(
            p is not None for p in found.values()
        ):
            chosen, found = d, here
    missing = [n for n, p in found.items() if p is None]
    if missing:
        looked = " and ".join(repr(str(d)) for d in candidates)
        raise DatasetNotFoundError(
            "MNIST: missing file(s) "
            + ", ".join(f"{n} (or {n}.gz)" for n in missing)
            + f" in {str(chosen)!r} (from {origin}; looked in {looked}). "
            + where_to_put
        )
    return found


def _load_mnist_file(path, name, cli_option=None):
    """Read and structurally check one MNIST file; return ``(bytes, array)``."""
    try:
        data = _read_bytes(path)
    except _BadIdx as exc:
        raise _corrupt(path, str(exc), cli_option=cli_option) from None
    magic_expected, shape_expected = _MNIST_LAYOUT[name]
    if len(data) >= 4:
        magic = int.from_bytes(data[:4], "big")
        if magic != magic_expected:
            kind = "images" if magic_expected == _IMAGES_MAGIC else "labels"
            raise _corrupt(
                path,
                f"wrong IDX magic number {magic} (0x{magic:08x}), expected "
                f"{magic_expected} (0x{magic_expected:08x}) for an MNIST "
                f"{kind} file; is it misnamed or swapped with another file?",
                cli_option=cli_option,
            )
    try:
        _, arr = _parse_idx(data)
    except _BadIdx as exc:
        raise _corrupt(path, str(exc), cli_option=cli_option) from None
    if arr.shape != shape_expected:
        raise _corrupt(
            path, f"wrong shape {arr.shape}, expected {shape_expected}",
            cli_option=cli_option,
        )
    if magic_expected == _LABELS_MAGIC:
        top = int(arr.max()) if arr.size else 0
        if top > 9:
            raise _corrupt(path, f"label value {top} is outside 0..9",
                           cli_option=cli_option)
    return data, arr


def _verify_mnist_file(path, name, data, cli_option=None):
    digest = hashlib.sha256(data).hexdigest()
    if digest != MNIST_SHA256[name]:
        # The command line always verifies; its way to other data in the
        # same format is a CSV file, not an argument it does not have.
        other = ("convert them to CSV and pass them with --data" if cli_option
                 else "read those with fastbp.datasets.read_idx or pass "
                 "verify=False")
        raise _corrupt(
            path,
            f"wrong sha256 checksum of the uncompressed content: got "
            f"{digest}, expected {MNIST_SHA256[name]} (a corrupt copy, or "
            "a different dataset in the same format such as "
            f"Fashion-MNIST; {other})",
            cli_option=cli_option,
        )


# Cache of decoded uint8 arrays: key -> (verified, (Xtr, ytr, Xte, yte)).
_CACHE_MAXSIZE = 2
_cache: "OrderedDict[tuple, tuple]" = OrderedDict()
_cache_lock = threading.Lock()


def clear_cache():
    """Empty the in-process cache used by :func:`load_mnist`.

    Returns
    -------
    None
    """
    with _cache_lock:
        _cache.clear()


def _cache_key(files):
    key = []
    for name in MNIST_SHA256:
        p = files[name].resolve()
        st = p.stat()
        key.append((str(p), st.st_size, st.st_mtime_ns))
    return tuple(key)


def _load_mnist_raw(files, verify, cache, cli_option=None):
    key = _cache_key(files) if cache else None
    if cache:
        with _cache_lock:
            hit = _cache.get(key)
            if hit is not None and (hit[0] or not verify):
                _cache.move_to_end(key)
                return hit[1]
    # Structural checks of all four files first (cheap, and more telling than
    # a checksum mismatch), then the checksums.
    loaded = {n: _load_mnist_file(files[n], n, cli_option) for n in MNIST_SHA256}
    if verify:
        for n, (data, _) in loaded.items():
            _verify_mnist_file(files[n], n, data, cli_option)
    raw = {n: arr for n, (_, arr) in loaded.items()}
    del loaded
    xtr, ytr = raw["train-images-idx3-ubyte"], raw["train-labels-idx1-ubyte"]
    xte, yte = raw["t10k-images-idx3-ubyte"], raw["t10k-labels-idx1-ubyte"]
    for a in (xtr, ytr, xte, yte):
        a.flags.writeable = False
    result = (xtr, ytr, xte, yte)
    if cache:
        with _cache_lock:
            _cache[key] = (verify, result)
            _cache.move_to_end(key)
            while len(_cache) > _CACHE_MAXSIZE:
                _cache.popitem(last=False)
    return result


def load_mnist(data_dir=None, dtype=np.float32, *, verify=True, cache=True,
               cli_option=None):
    """Load MNIST, the standard 60,000/10,000 train/test split.

    Reads the four original IDX files ``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
    ``t10k-labels-idx1-ubyte``, each either gzipped (with a ``.gz`` suffix)
    or not. Nothing is ever downloaded.

    Parameters
    ----------
    data_dir : str, os.PathLike or None, default=None
        Directory holding the four files, or a parent directory with an
        ``mnist/`` subfolder holding them (the directory itself is read
        where it holds all four). When None, the environment variable
        ``FASTBP_DATA_DIR`` is used instead; an empty string is refused, as
        an empty ``FASTBP_DATA_DIR`` counts as not set.
    dtype : floating dtype or None, default=np.float32
        dtype of the returned images; None takes the default (not NumPy's
        float64).
    verify : bool, default=True
        Check the sha256 of each uncompressed file against the published
        checksums (:data:`MNIST_SHA256`). Magic numbers, shapes and label range
        are always checked. Hashing the 55 MB of uncompressed data costs
        about 0.035 s on a CPU with SHA instructions (up to ~0.15 s without):
        measured 0.26 s vs 0.22 s for an uncached load of the gzipped files
        (dominated by decompression) and 0.10 s vs 0.07 s for uncompressed
        files. With the cache it is paid once per process; skip it only for
        files already verified.
    cache : bool, default=True
        Keep the decoded (and, if ``verify``, verified) ``uint8`` arrays in an
        in-process cache keyed on the resolved paths, sizes and modification
        times of the four files, so that repeated loads (e.g. in a benchmark
        session) skip reading, decompressing and hashing (a cached call
        takes about 0.04 s, the conversion to ``dtype``). At most two file
        sets (about 55 MB each) are kept; :func:`clear_cache` empties it. The
        returned arrays are always fresh and writable: the cache holds only
        the raw bytes, and each call converts them to ``dtype`` anew, so
        modifying a returned array never affects later calls.
    cli_option : str or None, default=None
        The command-line option that sets ``data_dir`` (``fastbp train``
        passes ``"--data-dir"``): the error messages then tell the user
        to pass the directory with it, rather than as
        ``load_mnist(data_dir=...)``.

    Returns
    -------
    X_train : ndarray of shape (60000, 784), dtype ``dtype``
        Training images, flattened row by row, C-contiguous, scaled to
        [0, 1] (raw pixel / 255).
    y_train : ndarray of shape (60000,), dtype int64
        Training labels in 0..9.
    X_test : ndarray of shape (10000, 784), dtype ``dtype``
        Test images, as ``X_train``.
    y_test : ndarray of shape (10000,), dtype int64
        Test labels in 0..9.

    Raises
    ------
    DatasetNotFoundError
        (a :class:`FileNotFoundError`) if no directory is given (or an
        empty string), it does not exist, or any of the four files is
        missing. The message says where
        the files were looked for, where to put them and where to get them.
    DatasetError
        (a :class:`ValueError`) if a file is corrupt: invalid gzip, truncated,
        wrong magic number, wrong shape, labels out of range, or (with
        ``verify=True``) wrong checksum. The message names the file.
    sklearn.utils._param_validation.InvalidParameterError
        (a :class:`ValueError` and a :class:`TypeError`) if ``dtype`` is not
        a floating-point dtype, or ``verify`` or ``cache`` is not True or
        False (NumPy's bools included).
    TypeError
        If ``data_dir`` is neither None nor a str, bytes or path-like.

    Notes
    -----
    MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges,
    http://yann.lecun.com/exdb/mnist/ , licensed CC BY-SA 3.0; credit it
    where results on it are published. See ``datasets/mnist/README.md`` in
    the fastbp repository for mirrors and checksums.

    Examples
    --------
    >>> from fastbp.datasets import load_mnist
    >>> X_train, y_train, X_test, y_test = load_mnist("~/data/mnist")  # doctest: +SKIP
    >>> X_train.shape, X_train.dtype, y_train.dtype  # doctest: +SKIP
    ((60000, 784), dtype('float32'), dtype('int64'))
    """
    dt = _float_dtype(dtype, np.float32)
    verify = _check_bool(verify, "verify", "load_mnist")
    cache = _check_bool(cache, "cache", "load_mnist")
    files = _resolve_mnist_files(data_dir, cli_option)
    xtr, ytr, xte, yte = _load_mnist_raw(files, verify, cache, cli_option)

    def _scale(images):
        flat = images.reshape(images.shape[0], -1)
        return np.ascontiguousarray(np.divide(flat, 255, dtype=dt))

    return (
        _scale(xtr),
        ytr.astype(np.int64),
        _scale(xte),
        yte.astype(np.int64),
    )


# ---------------------------------------------------------------------------
# scikit-learn digits and synthetic tabular data
# ---------------------------------------------------------------------------


def load_digits(dtype=np.float64, *, scale=False):
    """Load scikit-learn's 8x8 handwritten digits (1797 samples, 10 classes).

    The data ship with scikit-learn (a copy of the UCI "Optical Recognition
    of Handwritten Digits" test set), so no files or network are needed.

    Parameters
    ----------
    dtype : floating dtype or None, default=np.float64
        dtype of ``X``; None takes the default.
    scale : bool, default=False
        By default the pixels are left raw, integers 0..16 (counts of set
        pixels in 4x4 blocks of the original 32x32 bitmaps). With
        ``scale=True`` they are divided by 16, giving values in [0, 1].

    Returns
    -------
    X : ndarray of shape (1797, 64), dtype ``dtype``
        C-contiguous, one flattened 8x8 image per row.
    y : ndarray of shape (1797,), dtype int64
        Labels in 0..9.

    Raises
    ------
    sklearn.utils._param_validation.InvalidParameterError
        (a :class:`ValueError` and a :class:`TypeError`) if ``dtype`` is not
        a floating-point dtype, or ``scale`` is not True or False (NumPy's
        bools included).
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    dt = _float_dtype(dtype, np.float64)
    scale = _check_bool(scale, "scale", "load_digits")
    X, y = _sk_load_digits(return_X_y=True)
    X = np.asarray(X, dtype=np.float64)
    if scale:
        X = X / 16.0
    return np.ascontiguousarray(X, dtype=dt), np.ascontiguousarray(y, dtype=np.int64)


def make_tabular(
    n_samples=10000,
    n_features=20,
    n_classes=4,
    n_informative=None,
    random_state=0,
    dtype=np.float32,
):
    """Make a seeded, standardised synthetic classification problem.

    A thin wrapper around :func:`sklearn.datasets.make_classification` with
    two Gaussian clusters per class (one where the informative features are
    too few for two, see ``n_informative``) placed on the vertices of a
    hypercube in the informative subspace, ``class_sep=1.0`` and 1 % of labels flipped at
    random (``flip_y=0.01``), so that a good model reaches high but not
    perfect accuracy. The features are then standardised to zero mean and
    unit variance (statistics taken over all ``n_samples`` rows).

    Parameters
    ----------
    n_samples : int, default=10000
        Number of rows.
    n_features : int, default=20
        Total number of features: informative, redundant (random linear
        combinations of the informative ones) and pure noise, shuffled.
    n_classes : int, default=4
        Number of classes (at least 2); labels are 0..n_classes-1 and
        roughly balanced.
    n_informative : int or None, default=None
        Number of informative features. When None,
        ``max(n_features // 2, ceil(log2(2 * n_classes)))``, the minimum
        being what ``make_classification`` needs to place two clusters per
        class on distinct hypercube vertices, or all ``n_features`` where
        they are fewer. With fewer informative features than that minimum
        (given or by default), each class is one cluster, which needs
        ``2**n_informative >= n_classes``. Of the remaining features, half
        (rounded down) are redundant and the rest noise.
    random_state : int, numpy.random.RandomState or None, default=0
        Seed (an integer in 0..2**32 - 1); the same integer gives the same
        data on every call.
    dtype : floating dtype or None, default=np.float32
        dtype of ``X``; None takes the default (not NumPy's float64).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype ``dtype``
        C-contiguous, each column standardised.
    y : ndarray of shape (n_samples,), dtype int64
        Labels in 0..n_classes-1.

    Raises
    ------
    sklearn.utils._param_validation.InvalidParameterError
        (a :class:`ValueError` and a :class:`TypeError`, as
        ``make_classification`` raises) if ``dtype`` is not floating point,
        a size is not an integer,
        ``n_samples < 1``, ``n_features < 1``, ``n_classes < 2``,
        ``random_state`` is not one of the kinds above (a
        ``numpy.random.Generator`` among them, which
        ``make_classification`` does not take), or the numbers of
        features are inconsistent
        (e.g. ``n_informative > n_features``, or too few features for
        ``n_classes``).
    """
    from sklearn.datasets import make_classification

    dt = _float_dtype(dtype, np.float32)
    sizes = {"n_samples": n_samples, "n_features": n_features, "n_classes": n_classes}
    if n_informative is not None:
        sizes["n_informative"] = n_informative
    for name, value in sizes.items():
        # Not int(): it truncates 2.7 rows to 2 without a word.
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise _invalid(f"{name} must be an integer, got {value!r}")
    n_samples, n_features, n_classes = int(n_samples), int(n_features), int(n_classes)
    # make_classification would refuse these too, but in its own name
    # (helper-127: make_tabular(0) blamed make_classification's n_samples).
    if n_samples < 1:
        raise _invalid(f"n_samples must be at least 1, got {n_samples}")
    if n_features < 1:
        raise _invalid(f"n_features must be at least 1, got {n_features}")
    if n_classes < 2:
        raise _invalid(f"n_classes must be at least 2, got {n_classes}")
    if not (random_state is None or isinstance(random_state, np.random.RandomState)
            or (isinstance(random_state, numbers.Integral) and 0 <= random_state < 2**32)):
        raise _invalid(
            "random_state must be None, a numpy.random.RandomState or an integer in "
            f"0..2**32 - 1, got {random_state!r}"
        )
    n_clusters_per_class = 2
    need = int(np.ceil(np.log2(n_classes * n_clusters_per_class)))
    if n_informative is None:
        # Every feature, one cluster per class (below), where two per class
        # need more.
        n_informative = min(max(n_features // 2, need), n_features)
        if 2**n_informative < n_classes:
            fewest = need - 1  # ceil(log2(n_classes)): one cluster per class
            raise _invalid(
                f"n_features={n_features} is too small for n_classes="
                f"{n_classes}: at least {fewest} feature"
                f"{'s are' if fewest > 1 else ' is'} needed"
            )
    n_informative = int(n_informative)
    if not 1 <= n_informative <= n_features:
        raise _invalid(
            f"n_informative must be in 1..n_features={n_features}, got "
            f"{n_informative}"
        )
    if n_informative < need:
        # make_classification's own requirement, with a clearer message.
        if 2**n_informative >= n_classes:
            n_clusters_per_class = 1
        else:
            raise _invalid(
                f"n_informative={n_informative} is too small for n_classes="
                f"{n_classes}: need 2**n_informative >= n_classes"
            )
    n_redundant = (n_features - n_informative) // 2
    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=n_informative,
        n_redundant=n_redundant,
        n_repeated=0,
        n_classes=n_classes,
        n_clusters_per_class=n_clusters_per_class,
        flip_y=0.01,
        class_sep=1.0,
        shuffle=True,
        random_state=random_state,
    )
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std[std == 0] = 1.0
    X = (X - mean) / std
    return np.ascontiguousarray(X, dtype=dt), np.ascontiguousarray(y, dtype=np.int64)
