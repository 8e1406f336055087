"""Tests for fastbp.datasets.

Tests marked as needing the real MNIST read it from the directory named by the
environment variable FASTBP_DATA_DIR (the directory holding the four files, or
a parent with an ``mnist/`` subfolder). When it is unavailable they are
skipped, except under ``CI=true``, where they fail: CI must have the data.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastbp.datasets as ds
from fastbp.datasets import (
    DatasetError,
    DatasetNotFoundError,
    load_digits,
    load_mnist,
    make_tabular,
    read_idx,
)

MODULE_PATH = Path(ds.__file__)

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
MEAN_TRAIN_PIXEL = 33.318  # on the raw 0..255 scale

NAMES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def idx_bytes(arr, type_code=0x08):
    """Serialise ``arr`` as IDX (big-endian), like the MNIST files."""
    arr = np.asarray(arr)
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    header = bytes([0, 0, type_code, arr.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    return header + arr.astype(dtypes[type_code]).tobytes()


def write(path, data, gz=False):
    path = Path(path)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data, compresslevel=1))
    else:
        path.write_bytes(data)
    return path


def ci_strict():
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _real_mnist_dir():
    env = os.environ.get("FASTBP_DATA_DIR")
    if not env:
        return None, "FASTBP_DATA_DIR is not set"
    root = Path(env)
    for d in (root, root / "mnist"):
        if all((d / n).is_file() or (d / (n + ".gz")).is_file() for n in NAMES):
            return d, None
    return None, f"FASTBP_DATA_DIR={env!r} holds no complete MNIST set"


@pytest.fixture(scope="session")
def mnist_dir():
    d, why = _real_mnist_dir()
    if d is None:
        msg = (
            f"real MNIST not available ({why}); set FASTBP_DATA_DIR to the "
            "directory holding the four MNIST IDX files (see datasets/mnist/README.md)"
        )
        if ci_strict():
            pytest.fail("CI=true but " + msg)
        pytest.skip(msg)
    return d


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    ds.clear_cache()
    return load_mnist(mnist_dir, verify=True)


@pytest.fixture(scope="module")
def fake_mnist_arrays():
    """Structurally valid, full-size MNIST lookalike arrays (wrong checksums)."""
    rng = np.random.default_rng(0)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 60000, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (10000, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 10000, dtype=np.uint8),
    }


@pytest.fixture(scope="module")
def fake_mnist_blobs(fake_mnist_arrays):
    return {n: idx_bytes(a) for n, a in fake_mnist_arrays.items()}


def make_fake_dir(path, blobs, gz=(), override=None, skip=()):
    """Write the fake set into ``path``; ``override`` replaces some contents."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    override = override or {}
    for n in NAMES:
        if n in skip:
            continue
        write(path / n, override.get(n, blobs[n]), gz=n in gz)
    return path


@pytest.fixture(autouse=True)
def _fresh_cache():
    ds.clear_cache()
    yield
    ds.clear_cache()


# ---------------------------------------------------------------------------
# module hygiene
# ---------------------------------------------------------------------------


def test_module_does_not_import_numba():
    tree = ast.parse(MODULE_PATH.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            # fastbp's own modules as ".files": fastbp.files imports the
            # standard library only (test_file_path_checks checks it).
            imported.add("." * node.level + node.module.split(".")[0])
    assert "numba" not in imported
    assert imported <= {"__future__", "gzip", "hashlib", "math", "numbers", "os", "threading",
                        "zlib", "collections", "pathlib", "numpy", "sklearn", ".files"}, imported


def test_module_does_not_hard_code_shared_data_path():
    src = MODULE_PATH.read_text()
    assert "/work/shared" not in src
    assert "shared/datasets" not in src


def test_datasets_dir_is_not_a_package():
    root = MODULE_PATH.parent.parent
    assert not (root / "datasets" / "__init__.py").exists()


def test_public_api():
    for name in ds.__all__:
        assert hasattr(ds, name), name
    assert issubclass(DatasetError, ValueError)
    assert issubclass(DatasetNotFoundError, FileNotFoundError)
    assert set(ds.MNIST_SHA256) == set(NAMES)
    assert set(ds.MNIST_FILES.values()) == set(NAMES)


# ---------------------------------------------------------------------------
# IDX parser on small synthetic files
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_roundtrip_uint8(tmp_path, gz):
    arr = np.arange(5 * 3 * 4, dtype=np.uint8).reshape(5, 3, 4)
    p = write(tmp_path / "x-idx3-ubyte", idx_bytes(arr), gz=gz)
    out = read_idx(p)
    assert out.dtype == np.uint8
    assert out.shape == (5, 3, 4)
    np.testing.assert_array_equal(out, arr)
    assert out.flags.writeable and out.flags.c_contiguous


def test_read_idx_detects_gzip_by_content_not_name(tmp_path):
    arr = np.arange(7, dtype=np.uint8)
    p = tmp_path / "labels-without-gz-suffix"
    p.write_bytes(gzip.compress(idx_bytes(arr)))
    np.testing.assert_array_equal(read_idx(p), arr)


@settings(max_examples=40, deadline=None)
@given(
    shape=st.lists(st.integers(0, 6), min_size=1, max_size=4),
    type_code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]),
    gz=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_read_idx_roundtrip_property(tmp_path_factory, shape, type_code, gz, seed):
    rng = np.random.default_rng(seed)
    native = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32,
              0x0D: np.float32, 0x0E: np.float64}[type_code]
    if np.dtype(native).kind == "f":
        arr = rng.standard_normal(shape).astype(native)
    else:
        info = np.iinfo(native)
        arr = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=native)
    d = tmp_path_factory.mktemp("idx")
    p = write(d / "a.idx", idx_bytes(arr, type_code), gz=gz)
    out = read_idx(p)
    assert out.shape == tuple(shape)
    assert out.dtype == np.dtype(native)
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_truncated(tmp_path, gz):
    data = idx_bytes(np.zeros((4, 28, 28), np.uint8))
    p = write(tmp_path / "t", data[:-10], gz=gz)
    with pytest.raises(DatasetError, match="is truncated") as ei:
        read_idx(p)
    assert str(p) in str(ei.value)


def test_read_idx_truncated_header(tmp_path):
    data = idx_bytes(np.zeros((4, 28, 28), np.uint8))
    for cut in (0, 2, 7):
        p = write(tmp_path / f"t{cut}", data[:cut])
        with pytest.raises(DatasetError, match="is truncated"):
            read_idx(p)


def test_read_idx_trailing_bytes(tmp_path):
    p = write(tmp_path / "t", idx_bytes(np.zeros(3, np.uint8)) + b"\x00")
    with pytest.raises(DatasetError, match="unexpected trailing bytes"):
        read_idx(p)


@pytest.mark.parametrize("head", [b"\x01\x00\x08\x01", b"\x00\x00\x07\x01",
                                  b"\x00\x00\x08\x00", b"PK\x03\x04"])
def test_read_idx_bad_magic(tmp_path, head):
    p = write(tmp_path / "m", head + (3).to_bytes(4, "big") + b"\x00\x00\x00")
    with pytest.raises(DatasetError, match="magic number") as ei:
        read_idx(p)
    assert str(p) in str(ei.value)


def test_read_idx_corrupt_gzip(tmp_path):
    good = gzip.compress(idx_bytes((np.arange(1000) % 256).astype(np.uint8)))
    p = tmp_path / "bad.gz"
    p.write_bytes(good[:20] + b"\xff" * 30 + good[50:])
    with pytest.raises(DatasetError, match="cannot decompress gzip"):
        read_idx(p)
    p.write_bytes(good[: len(good) // 2])  # truncated gzip stream
    with pytest.raises(DatasetError, match="cannot decompress gzip"):
        read_idx(p)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


# ---------------------------------------------------------------------------
# load_mnist on synthetic full-size files
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [(), ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte")])
def test_load_mnist_synthetic_without_verification(tmp_path, fake_mnist_blobs,
                                                   fake_mnist_arrays, gz):
    d = make_fake_dir(tmp_path / "m", fake_mnist_blobs, gz=gz)
    Xtr, ytr, Xte, yte = load_mnist(d, verify=False, cache=False)
    assert Xtr.shape == (60000, 784) and Xte.shape == (10000, 784)
    assert ytr.shape == (60000,) and yte.shape == (10000,)
    assert Xtr.dtype == np.float32 and ytr.dtype == np.int64
    for a in (Xtr, ytr, Xte, yte):
        assert a.flags.c_contiguous and a.flags.writeable
    raw = fake_mnist_arrays["train-images-idx3-ubyte"]
    np.testing.assert_array_equal(Xtr, raw.reshape(60000, 784) / np.float32(255))
    np.testing.assert_array_equal(Xte * 255, fake_mnist_arrays["t10k-images-idx3-ubyte"].reshape(10000, 784))
    np.testing.assert_array_equal(ytr, fake_mnist_arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(yte, fake_mnist_arrays["t10k-labels-idx1-ubyte"])
    # first image, pixel (row 1, col 0) lands at flat index 28
    assert Xtr[0, 28] == np.float32(raw[0, 1, 0]) / np.float32(255)


def test_load_mnist_synthetic_fails_checksum(tmp_path, fake_mnist_blobs):
    d = make_fake_dir(tmp_path / "m", fake_mnist_blobs)
    with pytest.raises(DatasetError, match="wrong sha256") as ei:
        load_mnist(d, verify=True)
    msg = str(ei.value)
    assert f"MNIST file {str(d / 'train-images-idx3-ubyte')!r}: wrong sha256" in msg
    assert ds.MNIST_SHA256["train-images-idx3-ubyte"] in msg
    assert hashlib.sha256(fake_mnist_blobs["train-images-idx3-ubyte"]).hexdigest() in msg
    assert "FASTBP_DATA_DIR" in msg and "data_dir" in msg
    assert "yann.lecun.com/exdb/mnist" in msg


def test_load_mnist_verify_is_default(tmp_path, fake_mnist_blobs):
    d = make_fake_dir(tmp_path / "m", fake_mnist_blobs)
    with pytest.raises(DatasetError, match="wrong sha256"):
        load_mnist(d)


def test_load_mnist_cache_does_not_bypass_verification(tmp_path, fake_mnist_blobs):
    d = make_fake_dir(tmp_path / "m", fake_mnist_blobs)
    load_mnist(d, verify=False)  # cached as unverified
    with pytest.raises(DatasetError, match="wrong sha256"):
        load_mnist(d, verify=True)


def test_load_mnist_cache_sees_replaced_files(tmp_path, fake_mnist_blobs, fake_mnist_arrays):
    d = make_fake_dir(tmp_path / "m", fake_mnist_blobs)
    _, ytr, _, _ = load_mnist(d, verify=False)
    new_labels = (fake_mnist_arrays["train-labels-idx1-ubyte"] + 1) % 10
    p = d / "train-labels-idx1-ubyte"
    p.write_bytes(idx_bytes(new_labels))
    st_ = p.stat()
    os.utime(p, ns=(st_.st_atime_ns, st_.st_mtime_ns + 10**9))
    _, ytr2, _, _ = load_mnist(d, verify=False)
    np.testing.assert_array_equal(ytr2, new_labels)


def test_load_mnist_returns_independent_arrays(tmp_path, fake_mnist_blobs):
    d = make_fake_dir(tmp_path / "m", fake_mnist_blobs)
    Xtr, ytr, _, _ = load_mnist(d, verify=False)
    expected = Xtr.copy()
    Xtr[:] = -1.0
    ytr[:] = -1
    Xtr2, ytr2, _, _ = load_mnist(d, verify=False)
    np.testing.assert_array_equal(Xtr2, expected)
    assert ytr2.min() >= 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_load_mnist_dtype(tmp_path, fake_mnist_blobs, dtype):
    d = make_fake_dir(tmp_path / "m", fake_mnist_blobs)
    Xtr, ytr, Xte, yte = load_mnist(d, dtype=dtype, verify=False)
    assert Xtr.dtype == dtype and Xte.dtype == dtype
    assert ytr.dtype == np.int64 and yte.dtype == np.int64
    assert Xtr.min() == 0.0 and Xtr.max() == 1.0


def test_dtype_none_takes_the_documented_default(tmp_path, fake_mnist_blobs):
    # helper-106: np.dtype(None) is float64, which dtype=None gave where
    # float32 is the default.
    d = make_fake_dir(tmp_path / "m", fake_mnist_blobs)
    Xtr, _, Xte, _ = load_mnist(d, dtype=None, verify=False)
    assert Xtr.dtype == Xte.dtype == np.float32
    assert make_tabular(100, dtype=None)[0].dtype == np.float32
    assert load_digits(dtype=None)[0].dtype == np.float64


@pytest.mark.parametrize("dtype", [np.int64, np.uint8, "U3"])
def test_load_mnist_rejects_non_float_dtype(tmp_path, fake_mnist_blobs, dtype):
    d = make_fake_dir(tmp_path / "m", fake_mnist_blobs)
    with pytest.raises(ValueError, match="dtype"):
        load_mnist(d, dtype=dtype, verify=False)


def test_load_mnist_swapped_files_wrong_magic(tmp_path, fake_mnist_blobs):
    d = make_fake_dir(
        tmp_path / "m", fake_mnist_blobs,
        override={"t10k-labels-idx1-ubyte": fake_mnist_blobs["t10k-images-idx3-ubyte"]},
    )
    with pytest.raises(DatasetError, match="magic number") as ei:
        load_mnist(d, verify=False)
    msg = str(ei.value)
    assert f"MNIST file {str(d / 't10k-labels-idx1-ubyte')!r}: wrong IDX magic" in msg
    assert "2049" in msg and "2051" in msg
    assert "FASTBP_DATA_DIR" in msg and "yann.lecun.com" in msg


@pytest.mark.parametrize("verify", [False, True])
def test_load_mnist_wrong_shape(tmp_path, fake_mnist_blobs, verify):
    small = idx_bytes(np.zeros((100, 28, 28), np.uint8))
    d = make_fake_dir(tmp_path / "m", fake_mnist_blobs,
                      override={"t10k-images-idx3-ubyte": small})
    with pytest.raises(DatasetError, match="wrong shape") as ei:
        load_mnist(d, verify=verify)
    msg = str(ei.value)
    assert f"MNIST file {str(d / 't10k-images-idx3-ubyte')!r}: wrong shape (100, 28, 28)" in msg
    assert "expected (10000, 28, 28)" in msg


def test_load_mnist_wrong_image_size(tmp_path, fake_mnist_blobs):
    odd = idx_bytes(np.zeros((10000, 28, 27), np.uint8))
    d = make_fake_dir(tmp_path / "m", fake_mnist_blobs,
                      override={"t10k-images-idx3-ubyte": odd})
    with pytest.raises(DatasetError, match="wrong shape"):
        load_mnist(d, verify=False)


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_truncated(tmp_path, fake_mnist_blobs, gz):
    name = "train-images-idx3-ubyte"
    cut = fake_mnist_blobs[name][: 16 + 784 * 1000]
    d = make_fake_dir(tmp_path / "m", fake_mnist_blobs, skip=(name,))
    write(d / name, cut, gz=gz)
    with pytest.raises(DatasetError, match="is truncated") as ei:
        load_mnist(d, verify=False)
    suffix = ".gz" if gz else ""
    assert f"MNIST file {str(d / (name + suffix))!r}: file is truncated" in str(ei.value)


def test_load_mnist_corrupt_gzip(tmp_path, fake_mnist_blobs):
    name = "train-labels-idx1-ubyte"
    d = make_fake_dir(tmp_path / "m", fake_mnist_blobs, skip=(name,))
    good = gzip.compress(fake_mnist_blobs[name])
    (d / (name + ".gz")).write_bytes(good[: len(good) - 40])
    with pytest.raises(DatasetError, match="cannot decompress gzip") as ei:
        load_mnist(d, verify=False)
    msg = str(ei.value)
    assert f"MNIST file {str(d / (name + '.gz'))!r}: cannot decompress gzip" in msg
    assert "FASTBP_DATA_DIR" in msg


def test_load_mnist_labels_out_of_range(tmp_path, fake_mnist_blobs):
    bad = np.zeros(10000, np.uint8)
    bad[5] = 10
    d = make_fake_dir(tmp_path / "m", fake_mnist_blobs,
                      override={"t10k-labels-idx1-ubyte": idx_bytes(bad)})
    with pytest.raises(DatasetError, match="label value 10 is outside"):
        load_mnist(d, verify=False)


# ---------------------------------------------------------------------------
# load_mnist: finding the files
# ---------------------------------------------------------------------------


def test_load_mnist_missing_all_files(tmp_path):
    with pytest.raises(DatasetNotFoundError) as ei:
        load_mnist(tmp_path)
    assert isinstance(ei.value, FileNotFoundError)
    msg = str(ei.value)
    assert "missing file(s) " + ", ".join(f"{n} (or {n}.gz)" for n in NAMES) in msg
    assert repr(str(tmp_path)) in msg
    assert "FASTBP_DATA_DIR" in msg and "data_dir" in msg
    assert "yann.lecun.com/exdb/mnist" in msg
    assert "mirror" in msg
    assert "never downloaded" in msg


def test_load_mnist_missing_one_file_names_only_that_one(tmp_path, fake_mnist_blobs):
    d = make_fake_dir(tmp_path / "m", fake_mnist_blobs, skip=("t10k-labels-idx1-ubyte",))
    with pytest.raises(DatasetNotFoundError) as ei:
        load_mnist(d, verify=False)
    msg = str(ei.value)
    assert "t10k-labels-idx1-ubyte" in msg
    assert "missing file(s) t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz) in" in msg


def test_load_mnist_nonexistent_dir(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not exist or is not a directory"):
        load_mnist(tmp_path / "no" / "such" / "dir")


def test_load_mnist_no_dir_and_no_env(monkeypatch):
    monkeypatch.delenv("FASTBP_DATA_DIR", raising=False)
    with pytest.raises(DatasetNotFoundError) as ei:
        load_mnist()
    msg = str(ei.value)
    assert "FASTBP_DATA_DIR" in msg and "not set" in msg
    assert "yann.lecun.com" in msg


def test_load_mnist_env_var_is_used(monkeypatch, tmp_path, fake_mnist_blobs):
    d = make_fake_dir(tmp_path / "m", fake_mnist_blobs)
    monkeypatch.setenv("FASTBP_DATA_DIR", str(d))
    Xtr, *_ = load_mnist(verify=False)
    assert Xtr.shape == (60000, 784)
    monkeypatch.setenv("FASTBP_DATA_DIR", str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError) as ei:
        load_mnist(verify=False)
    assert "FASTBP_DATA_DIR=" in str(ei.value)


def test_load_mnist_parent_with_mnist_subfolder(monkeypatch, tmp_path, fake_mnist_blobs):
    make_fake_dir(tmp_path / "data" / "mnist", fake_mnist_blobs,
                  gz=("train-labels-idx1-ubyte",))
    _, ytr, _, _ = load_mnist(tmp_path / "data", verify=False)
    assert ytr.shape == (60000,)
    monkeypatch.setenv("FASTBP_DATA_DIR", str(tmp_path / "data"))
    _, ytr, _, _ = load_mnist(verify=False)
    assert ytr.shape == (60000,)


def test_load_mnist_prefers_files_over_subfolder(tmp_path, fake_mnist_blobs,
                                                  fake_mnist_arrays):
    # A complete set directly in the directory is read, not the subfolder's.
    make_fake_dir(tmp_path / "mnist", fake_mnist_blobs)
    labels = (fake_mnist_arrays["t10k-labels-idx1-ubyte"] + 1) % 10
    make_fake_dir(tmp_path, fake_mnist_blobs,
                  override={"t10k-labels-idx1-ubyte": idx_bytes(labels)})
    *_, yte = load_mnist(tmp_path, verify=False)
    np.testing.assert_array_equal(yte, labels)


def test_load_mnist_a_stray_file_beside_a_complete_subfolder(tmp_path, fake_mnist_blobs,
                                                             fake_mnist_arrays):
    # helper-68: one MNIST file in the directory made it the one read, and
    # the complete set in its mnist/ subfolder was reported missing.
    make_fake_dir(tmp_path / "mnist", fake_mnist_blobs)
    make_fake_dir(tmp_path, fake_mnist_blobs, skip=NAMES[1:])
    *_, yte = load_mnist(tmp_path, verify=False)
    np.testing.assert_array_equal(yte, fake_mnist_arrays["t10k-labels-idx1-ubyte"])
    # Where neither is complete, the fuller set's missing files are named.
    (tmp_path / "mnist" / NAMES[3]).unlink()
    with pytest.raises(DatasetNotFoundError) as ei:
        load_mnist(tmp_path, verify=False)
    msg = str(ei.value)
    assert f"missing file(s) {NAMES[3]} (or {NAMES[3]}.gz) in {str(tmp_path / 'mnist')!r}" in msg


def test_load_mnist_refuses_an_empty_data_dir(monkeypatch, tmp_path, fake_mnist_blobs):
    # helper-68: data_dir="" (--data-dir "$UNSET") read the current
    # directory, where an empty FASTBP_DATA_DIR counts as not set.
    make_fake_dir(tmp_path, fake_mnist_blobs)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FASTBP_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetNotFoundError, match="data_dir is an empty string"):
        load_mnist("", verify=False)
    monkeypatch.setenv("FASTBP_DATA_DIR", "")
    with pytest.raises(DatasetNotFoundError, match="FASTBP_DATA_DIR is not set"):
        load_mnist(verify=False)


def test_load_mnist_errors_name_a_command_line_option(monkeypatch, tmp_path):
    # helper-106: fastbp train's errors described the Python API
    # ("from data_dir=...", "load_mnist(data_dir=...)", "or None"), the
    # CLI then told the user to pass --data-dir, which they had.
    monkeypatch.delenv("FASTBP_DATA_DIR", raising=False)
    missing = tmp_path / "nowhere"
    for data_dir, expected in ((missing, f"(from --data-dir {str(missing)!r})"),
                               ("", "--data-dir is an empty string; pass the directory "
                                    "holding the files, or leave --data-dir out"),
                               (None, "no --data-dir and the environment variable "
                                      "FASTBP_DATA_DIR is not set"),
                               (tmp_path, f"(from --data-dir {str(tmp_path)!r}; looked in")):
        with pytest.raises(DatasetNotFoundError) as ei:
            load_mnist(data_dir, cli_option="--data-dir")
        msg = str(ei.value)
        assert expected in msg
        assert "pass it with --data-dir or set the environment variable FASTBP_DATA_DIR" in msg
        assert not any(api in msg for api in ("load_mnist(", "data_dir", "None"))
    # The Python API's own wording stays.
    for data_dir, expected in ((missing, f"(from data_dir={str(missing)!r})"),
                               ("", "or None to use FASTBP_DATA_DIR"),
                               (None, "data_dir is None")):
        with pytest.raises(DatasetNotFoundError) as ei:
            load_mnist(data_dir)
        assert expected in str(ei.value)
        assert "pass it as load_mnist(data_dir=...)" in str(ei.value)


def test_corrupt_mnist_file_errors_name_a_command_line_option(tmp_path, fake_mnist_blobs):
    # A corrupt or foreign file reached from fastbp train told the user to
    # pass load_mnist(data_dir=...) or verify=False, which the CLI does not
    # have; helper-106's fix had covered only the missing-file messages.
    good = make_fake_dir(tmp_path / "good", fake_mnist_blobs)
    bad = make_fake_dir(tmp_path / "bad", fake_mnist_blobs,
                        override={NAMES[1]: fake_mnist_blobs[NAMES[1]][:-3]})
    for data_dir, verify, what in ((good, True, "wrong sha256"), (bad, False, "truncated")):
        with pytest.raises(DatasetError, match=what) as ei:
            load_mnist(data_dir, verify=verify, cache=False, cli_option="--data-dir")
        msg = str(ei.value)
        assert "pass it with --data-dir or set the environment variable" in msg
        assert not any(api in msg for api in ("load_mnist(", "data_dir", "verify=False"))
        with pytest.raises(DatasetError, match=what) as ei:
            load_mnist(data_dir, verify=verify, cache=False)
        assert "pass it as load_mnist(data_dir=...)" in str(ei.value)
    assert "pass them with --data" in str(
        pytest.raises(DatasetError, load_mnist, good, cache=False, cli_option="--data-dir").value)
    assert "read_idx or pass verify=False" in str(
        pytest.raises(DatasetError, load_mnist, good, cache=False).value)


def test_load_mnist_never_touches_network(monkeypatch, tmp_path):
    def no_network(*args, **kwargs):
        raise AssertionError("load_mnist attempted a network connection")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(DatasetNotFoundError):
        load_mnist(tmp_path)


def test_load_mnist_expands_user(monkeypatch, tmp_path, fake_mnist_blobs):
    make_fake_dir(tmp_path / "mn", fake_mnist_blobs)
    monkeypatch.setenv("HOME", str(tmp_path))
    _, ytr, _, _ = load_mnist("~/mn", verify=False)
    assert ytr.shape == (60000,)


# ---------------------------------------------------------------------------
# load_mnist on the real MNIST (FASTBP_DATA_DIR)
# ---------------------------------------------------------------------------


def test_real_mnist_shapes_dtypes(mnist):
    Xtr, ytr, Xte, yte = mnist
    assert Xtr.shape == (60000, 784) and Xte.shape == (10000, 784)
    assert ytr.shape == (60000,) and yte.shape == (10000,)
    assert Xtr.dtype == np.float32 and Xte.dtype == np.float32
    assert ytr.dtype == np.int64 and yte.dtype == np.int64
    for a in mnist:
        assert a.flags.c_contiguous


def test_real_mnist_ranges(mnist):
    Xtr, ytr, Xte, yte = mnist
    for X in (Xtr, Xte):
        assert X.min() == 0.0 and X.max() == 1.0
        # values are k/255 for integer k
        k = X[:1000] * 255
        np.testing.assert_allclose(k, np.round(k), atol=1e-4)
    assert set(np.unique(ytr)) == set(range(10))
    assert set(np.unique(yte)) == set(range(10))


def test_real_mnist_label_counts(mnist):
    _, ytr, _, yte = mnist
    assert np.bincount(ytr, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(yte, minlength=10).tolist() == TEST_COUNTS


def test_real_mnist_mean_pixel(mnist):
    Xtr = mnist[0]
    assert Xtr.mean(dtype=np.float64) * 255 == pytest.approx(MEAN_TRAIN_PIXEL, abs=5e-4)


def test_real_mnist_known_first_labels(mnist):
    # The first training digits of MNIST are 5 0 4 1 9 2 1 3 1 4; the first
    # test digits 7 2 1 0 4 1 4 9 5 9.
    assert mnist[1][:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist[3][:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def _raw_file_bytes(mnist_dir, name):
    p = mnist_dir / name
    if p.is_file():
        return p.read_bytes()
    with gzip.open(mnist_dir / (name + ".gz"), "rb") as f:
        return f.read()


def test_real_mnist_matches_raw_bytes_row_major(mnist_dir, mnist):
    # Independent reference: the IDX payload after the 16-byte header is the
    # images one after another, each 28 rows of 28 bytes. Catches offset,
    # transposition and scaling errors.
    for name, X in (("train-images-idx3-ubyte", mnist[0]), ("t10k-images-idx3-ubyte", mnist[2])):
        raw = _raw_file_bytes(mnist_dir, name)
        n = X.shape[0]
        for i in (0, 1, n // 2, n - 1):
            ref = np.frombuffer(raw, np.uint8, count=784, offset=16 + 784 * i)
            np.testing.assert_array_equal(np.rint(X[i] * 255).astype(np.uint8), ref)
            np.testing.assert_array_equal(X[i], ref.astype(np.float32) / np.float32(255))
    for name, y in (("train-labels-idx1-ubyte", mnist[1]), ("t10k-labels-idx1-ubyte", mnist[3])):
        raw = _raw_file_bytes(mnist_dir, name)
        np.testing.assert_array_equal(y, np.frombuffer(raw, np.uint8, offset=8))


def test_real_mnist_float64_and_cache(mnist_dir, mnist):
    X64, y64, Xt64, yt64 = load_mnist(mnist_dir, dtype=np.float64)
    assert X64.dtype == np.float64 and X64.flags.c_contiguous
    # k/255 rounded to float64 then to float32 equals k/255 rounded to float32
    np.testing.assert_array_equal(X64.astype(np.float32), mnist[0])
    np.testing.assert_array_equal(y64, mnist[1])
    # a second load is served from the cache and still gives fresh arrays
    Xa, *_ = load_mnist(mnist_dir)
    Xb, *_ = load_mnist(mnist_dir)
    assert not np.shares_memory(Xa, Xb)
    np.testing.assert_array_equal(Xa, mnist[0])


def test_real_mnist_uncompressed_copy(mnist_dir, mnist, tmp_path):
    """The same data read from uncompressed files, checksums verified."""
    out = tmp_path / "raw"
    out.mkdir()
    for n in NAMES:
        src = mnist_dir / n
        if src.is_file():
            shutil.copyfile(src, out / n)
        else:
            with gzip.open(mnist_dir / (n + ".gz"), "rb") as f:
                (out / n).write_bytes(f.read())
    got = load_mnist(out, verify=True, cache=False)
    for a, b in zip(got, mnist):
        np.testing.assert_array_equal(a, b)


def test_real_mnist_via_env_and_parent(monkeypatch, mnist_dir, mnist, tmp_path):
    parent = tmp_path / "parent"
    parent.mkdir()
    (parent / "mnist").symlink_to(mnist_dir.resolve(), target_is_directory=True)
    monkeypatch.setenv("FASTBP_DATA_DIR", str(parent))
    _, ytr, _, yte = load_mnist()
    np.testing.assert_array_equal(ytr, mnist[1])
    np.testing.assert_array_equal(yte, mnist[3])


def test_real_mnist_one_corrupted_byte_fails_checksum(mnist_dir, tmp_path):
    out = tmp_path / "bad"
    out.mkdir()
    for n in NAMES:
        for cand in (n, n + ".gz"):
            if (mnist_dir / cand).is_file():
                shutil.copyfile(mnist_dir / cand, out / cand)
                break
    name = "t10k-labels-idx1-ubyte"
    src = out / name if (out / name).exists() else out / (name + ".gz")
    labels = read_idx(src)
    src.unlink()
    labels[0] = (labels[0] + 1) % 10  # still a valid label
    (out / name).write_bytes(idx_bytes(labels))
    with pytest.raises(DatasetError, match="wrong sha256") as ei:
        load_mnist(out, verify=True, cache=False)
    assert f"MNIST file {str(out / name)!r}: wrong sha256" in str(ei.value)
    # without verification the (subtly wrong) data load
    _, _, _, yte = load_mnist(out, verify=False, cache=False)
    assert yte[0] == labels[0]


# ---------------------------------------------------------------------------
# load_digits
# ---------------------------------------------------------------------------


def test_load_digits_default():
    X, y = load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.dtype == np.float64 and y.dtype == np.int64
    assert X.flags.c_contiguous
    assert X.min() == 0.0 and X.max() == 16.0
    np.testing.assert_array_equal(X, np.round(X))
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_load_digits_scaled_float32():
    X, y = load_digits(np.float32, scale=True)
    Xr, yr = load_digits()
    assert X.dtype == np.float32 and X.flags.c_contiguous
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_allclose(X, Xr / 16, rtol=1e-7)
    np.testing.assert_array_equal(y, yr)


def test_load_digits_rejects_int_dtype():
    with pytest.raises(ValueError, match="dtype"):
        load_digits(np.int32)


# ---------------------------------------------------------------------------
# make_tabular
# ---------------------------------------------------------------------------


def test_make_tabular_defaults():
    X, y = make_tabular()
    assert X.shape == (10000, 20) and y.shape == (10000,)
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert X.flags.c_contiguous and y.flags.c_contiguous
    assert set(np.unique(y)) == {0, 1, 2, 3}
    counts = np.bincount(y)
    assert counts.min() > 0.2 * 10000  # roughly balanced
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(X.std(axis=0, dtype=np.float64), 1, atol=1e-4)


def test_make_tabular_deterministic():
    X1, y1 = make_tabular(n_samples=500, random_state=3)
    X2, y2 = make_tabular(n_samples=500, random_state=3)
    X3, y3 = make_tabular(n_samples=500, random_state=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_make_tabular_dtype(dtype):
    X, y = make_tabular(n_samples=300, n_features=7, n_classes=3, dtype=dtype)
    assert X.dtype == dtype and X.shape == (300, 7) and X.flags.c_contiguous
    assert y.dtype == np.int64 and set(np.unique(y)) == {0, 1, 2}
    X64, y64 = make_tabular(n_samples=300, n_features=7, n_classes=3, dtype=np.float64)
    np.testing.assert_allclose(X, X64, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y, y64)


@pytest.mark.parametrize(
    "n_features,n_classes,n_informative",
    [(2, 2, None), (3, 4, None), (2, 4, 2), (50, 10, None), (5, 2, 5), (4, 2, 1)],
)
def test_make_tabular_feature_configurations(n_features, n_classes, n_informative):
    X, y = make_tabular(n_samples=400, n_features=n_features, n_classes=n_classes,
                        n_informative=n_informative)
    assert X.shape == (400, n_features)
    assert set(np.unique(y)) == set(range(n_classes))


def test_make_tabular_is_learnable():
    from sklearn.linear_model import LogisticRegression

    X, y = make_tabular(n_samples=3000, random_state=0)
    acc = LogisticRegression(max_iter=500).fit(X[:2000], y[:2000]).score(X[2000:], y[2000:])
    assert 0.5 < acc < 0.99  # informative, but not trivially separable


def test_make_tabular_few_features_take_one_cluster_per_class_by_default():
    # helper-68: n_informative=2 worked, but its default asked for the
    # three features of two clusters per class and raised.
    X, y = make_tabular(100, n_features=2, n_classes=4)
    X2, y2 = make_tabular(100, n_features=2, n_classes=4, n_informative=2)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert X.shape == (100, 2) and set(np.unique(y)) == {0, 1, 2, 3}
    with pytest.raises(ValueError, match="n_features=2 is too small for n_classes=5: "
                                         "at least 3 features are needed"):
        make_tabular(100, n_features=2, n_classes=5)


@pytest.mark.parametrize("name", ["n_samples", "n_features", "n_classes", "n_informative"])
@pytest.mark.parametrize("value", [2.7, 3.0, True, "3"])
def test_make_tabular_refuses_sizes_that_are_not_integers(name, value):
    # helper-68: int() truncated them without a word (n_samples=2.7 gave
    # 2 rows).
    with pytest.raises(ValueError, match=f"{name} must be an integer, got {value!r}"):
        make_tabular(**{"n_samples": 100, "n_features": 4, "n_classes": 2, name: value})
    X, y = make_tabular(**{"n_samples": 100, "n_features": 4, "n_classes": 2,
                           name: np.int64(3)})
    assert X.shape == (3 if name == "n_samples" else 100, 3 if name == "n_features" else 4)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(n_classes=1), "n_classes"),
        (dict(n_features=1, n_classes=4), "n_features"),
        (dict(n_features=5, n_informative=6), "n_informative"),
        (dict(n_features=5, n_classes=8, n_informative=2), "n_informative"),
        (dict(dtype=np.int64), "dtype"),
    ],
)
def test_make_tabular_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_tabular(n_samples=100, **kwargs)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(n_samples=0), "n_samples must be at least 1, got 0"),
        (dict(n_samples=-3), "n_samples must be at least 1, got -3"),
        (dict(n_samples=np.int64(0)), "n_samples must be at least 1, got 0"),
        (dict(n_features=0), "n_features must be at least 1, got 0"),
        (dict(n_features=-1, n_informative=1), "n_features must be at least 1, got -1"),
        (dict(random_state=-1), "random_state must be None, a numpy.random.RandomState or "
                                "an integer in 0..2\\*\\*32 - 1, got -1"),
        (dict(random_state=2**32), "random_state must be .*, got 4294967296"),
        (dict(random_state="x"), "random_state must be .*, got 'x'"),
        (dict(random_state=np.random.default_rng(0)), "random_state must be .*, got Generator"),
    ],
)
def test_make_tabular_refuses_out_of_range_arguments_in_its_own_name(kwargs, match):
    # helper-127: these reached make_classification, whose
    # InvalidParameterError named make_classification, not make_tabular.
    kwargs = {"n_samples": 100, **kwargs}
    with pytest.raises(ValueError, match=match) as info:
        make_tabular(**kwargs)
    assert "make_classification" not in str(info.value)


def test_make_tabular_takes_the_extreme_sizes_and_seeds():
    # The checks above stop at the bounds make_classification accepts.
    X, y = make_tabular(n_samples=1, n_features=1, n_classes=2)
    assert X.shape == (1, 1) and y.shape == (1,)
    for seed in (0, 2**32 - 1, np.random.RandomState(0), None):
        assert make_tabular(n_samples=5, n_features=2, n_classes=2, random_state=seed)[0].shape == (5, 2)
