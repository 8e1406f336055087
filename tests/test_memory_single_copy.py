"""fit and partial_fit copy X at most once on its way to the kernels'
C-order array (fix-231, after rev-224's peaks): validation is asked for C
order where it converts X anyway, and a DataFrame of integer and float
columns is filled into one C-order array column by column. The numbers
that reach the kernels are the ones they were."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.utils import check_array

from fastbp import MLPClassifier, MLPRegressor

try:
    from .support import peak
except ImportError:  # run as a plain module
    from support import peak

N, D = 20_000, 50


def _model(cls, **kw):
    return cls(hidden_layer_sizes=(2,), max_iter=1, batch_size=5_000, random_state=0, **kw)


def _quiet_fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


def _fit_peak(cls, X, y):
    """The fitted model and the tracemalloc peak of its fit on ``X``, after
    a fit on a few rows of the same kind (compilation not counted)."""
    est = _model(cls)
    _quiet_fit(est, X.iloc[:50] if isinstance(X, pd.DataFrame) else X[:50], y[:50])
    est, used = peak(lambda: _quiet_fit(est, X, y))
    return est, used


def _targets(cls, rng):
    return rng.integers(0, 3, N) if cls is MLPClassifier else rng.random(N)


def _mixed_frame(rng):
    """float32 columns and one int32 column: float64 to validation."""
    df = pd.DataFrame(rng.random((N, D - 1), dtype=np.float32),
                      columns=[f"f{i}" for i in range(D - 1)])
    df["count"] = rng.integers(-1_000, 1_000, N, dtype=np.int32)
    return df


def _same_weights(a, b):
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert u.dtype == v.dtype
        assert_array_equal(u, v)


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_fit_copies_an_f_order_integer_array_once(cls):
    # rev-224: validation's float64 F-order copy, then KernelInput's C-order
    # one: two float64 copies (4 times the int32 bytes), now one (2 times).
    rng = np.random.default_rng(0)
    X = np.asfortranarray(rng.integers(-1_000, 1_000, (N, D), dtype=np.int32))
    y = _targets(cls, rng)
    est, used = _fit_peak(cls, X, y)
    assert used < 3.25 * X.nbytes, used / X.nbytes
    _same_weights(est, _quiet_fit(_model(cls), np.ascontiguousarray(X, np.float64), y))


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_fit_copies_a_mixed_dataframe_once(cls):
    # pandas interleaves the columns into one float64 F-order array, which
    # was then copied into C order: 4 times the float32 values' bytes.
    rng = np.random.default_rng(1)
    df = _mixed_frame(rng)
    y = _targets(cls, rng)
    est, used = _fit_peak(cls, df, y)
    nbytes = N * D * 4
    assert used < 3.25 * nbytes, used / nbytes
    assert list(est.feature_names_in_) == list(df.columns)
    _same_weights(est, _quiet_fit(_model(cls), np.asarray(df, dtype=np.float64), y))


@pytest.mark.parametrize("kind", ["C32", "C64", "memmap", "csr"])
def test_inputs_used_as_they_are_stay_uncopied(kind, tmp_path):
    rng = np.random.default_rng(2)
    # Wider than the others: the fit's own buffers go with the rows.
    X = rng.random((N, 4 * D), dtype=np.float32)
    if kind == "C64":
        X = X.astype(np.float64)
    elif kind == "memmap":
        path = tmp_path / "X.bin"
        X.tofile(path)
        X = np.memmap(path, dtype=np.float32, mode="r", shape=(N, 4 * D))
    elif kind == "csr":
        X[X < 0.5] = 0
        X = sp.csr_matrix(X.astype(np.float64))
        X.indices, X.indptr = X.indices.astype(np.int64), X.indptr.astype(np.int64)
    y = _targets(MLPClassifier, rng)
    _, used = _fit_peak(MLPClassifier, X, y)
    nbytes = X.data.nbytes + X.indices.nbytes if kind == "csr" else X.nbytes
    assert used < 0.5 * nbytes, (kind, used / nbytes)


def test_a_float_f_order_array_is_still_copied_once():
    rng = np.random.default_rng(3)
    X = np.asfortranarray(rng.random((N, D)))
    y = _targets(MLPRegressor, rng)
    est, used = _fit_peak(MLPRegressor, X, y)
    assert used < 1.5 * X.nbytes, used / X.nbytes
    _same_weights(est, _quiet_fit(_model(MLPRegressor), np.ascontiguousarray(X), y))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_partial_fit_of_a_float32_model_converts_a_mixed_frame_as_before():
    # Validation's dtype (float64) is not the model's: no float64 C-order
    # copy is added before the cast to float32.
    rng = np.random.default_rng(4)
    df, y = _mixed_frame(rng), rng.integers(0, 3, N)
    X32 = np.asarray(df, dtype=np.float64).astype(np.float32)
    est, ref = (MLPClassifier(hidden_layer_sizes=(2,), random_state=0, batch_size=5_000)
                for _ in range(2))
    est.partial_fit(X32[:50], y[:50], classes=[0, 1, 2])
    ref.partial_fit(X32[:50], y[:50], classes=[0, 1, 2])
    est.partial_fit(df.iloc[:50], y[:50])
    ref.partial_fit(X32[:50], y[:50])
    _, used = peak(lambda: est.partial_fit(df, y))
    ref.partial_fit(X32, y)
    _same_weights(est, ref)
    # The interleaved float64 values and their float32 cast, no more.
    assert used < 3.5 * X32.nbytes, used / X32.nbytes


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_partial_fit_fills_a_frame_in_the_model_dtype():
    # float32 and int16 columns: float32 to validation, the model's dtype.
    rng = np.random.default_rng(5)
    df = pd.DataFrame(rng.random((300, 4), dtype=np.float32), columns=list("abcd"))
    df["e"] = rng.integers(-300, 300, 300, dtype=np.int16)
    y = rng.random(300)
    X32 = np.asarray(df)
    assert X32.dtype == np.float32
    est, ref = _model(MLPRegressor), _model(MLPRegressor)
    for _ in range(2):
        est.partial_fit(df, y)
        ref.partial_fit(np.ascontiguousarray(X32), y)
    _same_weights(est, ref)
    assert list(est.feature_names_in_) == list("abcde")


@pytest.mark.parametrize("a, b", [(np.float32, np.int32), (np.float32, np.int16),
                                  (np.float64, np.uint64), (np.int8, np.int64),
                                  (np.uint32, np.int32), (np.float32, np.float64)])
def test_column_fill_gives_validations_values(a, b):
    from fastbp.training.data import fit_layout

    rng = np.random.default_rng(6)

    def column(dt):
        dt = np.dtype(dt)
        if dt.kind == "f":
            return (rng.standard_normal(100) * 1e9).astype(dt)
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, 100, dtype=dt, endpoint=True)

    df = pd.DataFrame({"x": column(a), "y": column(b), "z": column(a)})
    X, order = fit_layout(df)
    assert X is not df and order == "C"
    got = check_array(X, dtype=(np.float64, np.float32), order=order)
    want = check_array(df, dtype=(np.float64, np.float32))
    assert got.dtype == want.dtype and got.flags.c_contiguous
    assert_array_equal(got.view(np.uint8), np.ascontiguousarray(want).view(np.uint8))
    # Validation takes the filled array as it is: the one copy.
    assert np.shares_memory(got, np.asarray(X))


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_mixed_frame_keeps_validations_errors(cls):
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"a": rng.random(60), "b": rng.integers(0, 9, 60, dtype=np.int32)})
    y = _targets(cls, rng)[:60]
    bad = df.copy()
    bad.loc[3, "a"] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        cls().fit(bad, y)
    est = _quiet_fit(_model(cls), df, y)
    est.set_params(warm_start=True)
    with pytest.raises(ValueError, match="feature names"):
        est.fit(df.rename(columns={"b": "c"}), y)
    with pytest.raises(ValueError, match="could not convert|not supported|string"):
        cls().fit(df.assign(c=["x"] * 60), y)
