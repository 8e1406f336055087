"""rev-237's findings in fit_layout (fastbp/training/data.py), fixed by
fix-242: a pandas Series X gets scikit-learn's 2-D error again, not a
TypeError, and a DataFrame whose columns share one integer dtype is copied
once on its way to the kernels, as a mixed one is since fix-231."""

import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn.neural_network as sk_nn

from fastbp import MLPClassifier, MLPRegressor


def _fit_error(est, method, X, y):
    kwargs = {"classes": [0, 1]} if (
        method == "partial_fit" and hasattr(est, "predict_proba")) else {}
    with pytest.raises(ValueError, match="2-dimensional|2D") as info:
        getattr(est, method)(X, y, **kwargs)
    return info


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("cls, sk_cls", [(MLPClassifier, sk_nn.MLPClassifier),
                                         (MLPRegressor, sk_nn.MLPRegressor)])
@pytest.mark.parametrize("values", [np.random.default_rng(0).random(40),
                                    np.arange(40), np.arange(40, dtype=np.uint8)])
def test_a_series_x_gets_scikit_learns_2d_error(method, cls, sk_cls, values):
    # The regression: _validated_dtype iterated Series.dtypes, one dtype.
    X, y = pd.Series(values), np.arange(40) % 2
    ours = _fit_error(cls(max_iter=1), method, X, y)
    theirs = _fit_error(sk_cls(max_iter=1), method, X, y)
    assert ours.type is theirs.type
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_a_fitted_models_partial_fit_on_a_series_gets_the_2d_error(cls):
    # partial_fit of a fitted model passes its dtype to fit_layout too.
    rng = np.random.default_rng(1)
    X, y = rng.random((40, 1)), np.arange(40) % 2
    est = cls(hidden_layer_sizes=(2,), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.partial_fit(X, y, **({"classes": [0, 1]} if cls is MLPClassifier else {}))
    coefs = [a.copy() for a in est.coefs_]
    info = _fit_error(est, "partial_fit", pd.Series(X[:, 0]), y)
    assert "Series" in str(info.value)
    for a, b in zip(est.coefs_, coefs):
        np.testing.assert_array_equal(a, b)


# Single-dtype integer frames: one copy (rev-237).

N, D = 20_000, 100


def _quiet_fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


def _model(cls):
    return cls(hidden_layer_sizes=(3,), max_iter=2, batch_size=5_000, random_state=0)


def _int_frame(dtype, n=N, d=D, seed=2):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    values = rng.integers(max(info.min, -1_000), min(info.max, 1_000), (n, d),
                          dtype=dtype, endpoint=True)
    return pd.DataFrame(values, columns=[f"c{j}" for j in range(d)])


def _targets(cls, n, seed=3):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 3, n) if cls is MLPClassifier else rng.random(n)


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.int32, np.int16, np.uint64])
def test_single_dtype_integer_frame_trains_as_its_float64_values(cls, dtype):
    from fastbp.training.data import fit_layout

    df, y = _int_frame(dtype, n=600, d=7), _targets(cls, 600)
    filled, order = fit_layout(df)
    values = np.asarray(filled)
    assert filled is not df and order == "C"
    assert values.dtype == np.float64 and values.flags.c_contiguous
    est = _quiet_fit(_model(cls), df, y)
    ref = _quiet_fit(_model(cls), df.to_numpy(np.float64), y)
    assert list(est.feature_names_in_) == list(df.columns)
    assert est.n_features_in_ == 7
    for a, b in zip(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_):
        assert a.dtype == b.dtype == np.float64
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))
    out = est.predict(df)
    np.testing.assert_array_equal(out, ref.predict(df.to_numpy(np.float64)))


@pytest.mark.parametrize("dtype", [np.uint8, np.int64])
def test_fit_copies_a_single_dtype_integer_frame_once(dtype):
    try:
        from .support import peak
    except ImportError:  # run as a plain module
        from support import peak
    df, y = _int_frame(dtype), _targets(MLPRegressor, N)
    est = _model(MLPRegressor)
    # The whole fit once first: at two BLAS threads its 5,000-row steps are
    # split between threads (50 rows are not), and the split kernels'
    # compile, on a cold cache, is Python allocation too (CI: 1.87 copies).
    _quiet_fit(est, df, y)
    _, used = peak(lambda: _quiet_fit(est, df, y))
    copies = used / (N * D * 8)
    # Before fix-242: 2.0 (pandas' float64 F-order array, then C order).
    assert copies < 1.5, f"peak {copies:.2f} float64 copies of X (2.0 before fix-242)"


# pandas' nullable number columns: one copy, validation's values and errors.

def _nullable_frame(dtype, n=600, d=5, seed=4):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 250, (n, d))
    if dtype.startswith("F"):
        values = values + rng.random((n, d))
    return pd.DataFrame(values, columns=[f"c{j}" for j in range(d)]).astype(dtype)


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("dtype", ["Int64", "UInt8", "Float64", "Float32", "mixed"])
def test_nullable_frame_trains_as_scikit_learns_cast(cls, dtype):
    from fastbp.training.data import fit_layout

    if dtype == "mixed":
        df = _nullable_frame("Float32").assign(i=np.arange(600, dtype=np.int16),
                                               f=np.linspace(0, 1, 600))
    else:
        df = _nullable_frame(dtype)
    y = _targets(cls, 600)
    filled, order = fit_layout(df)
    values = np.asarray(filled)
    assert filled is not df and order == "C"
    assert values.dtype == np.float64 and values.flags.c_contiguous
    want = np.ascontiguousarray(df.astype(np.float64))  # scikit-learn's cast
    np.testing.assert_array_equal(values.view(np.uint8), want.view(np.uint8))
    est = _quiet_fit(_model(cls), df, y)
    ref = _quiet_fit(_model(cls), want, y)
    assert list(est.feature_names_in_) == list(df.columns)
    for a, b in zip(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_):
        assert a.dtype == b.dtype == np.float64
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("dtype, missing", [("Int64", pd.NA), ("Float64", pd.NA),
                                            ("Float32", pd.NA), ("Float64", np.inf),
                                            ("Float32", np.inf)])
def test_nullable_frame_keeps_validations_errors(cls, dtype, missing):
    df = _nullable_frame(dtype, n=60)
    df.loc[7, "c2"] = missing
    y = _targets(cls, 60)
    with pytest.raises(ValueError) as ours:
        cls(max_iter=1).fit(df, y)
    # What validation says of scikit-learn's own cast of the frame.
    with pytest.raises(ValueError) as want:
        cls(max_iter=1).fit(df.astype(np.float64), y)
    assert str(ours.value) == str(want.value)
    assert ("NaN" if missing is pd.NA else "infinity") in str(ours.value)
    est = _quiet_fit(_model(cls), df.fillna(0).replace(np.inf, 0), y)
    coefs = [a.copy() for a in est.coefs_]
    est.set_params(warm_start=True)
    with pytest.raises(ValueError, match="NaN|infinity"):
        est.fit(df, y)
    for a, b in zip(est.coefs_, coefs):  # the fitted model left as it was
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", ["Int64", "Float64"])
def test_fit_copies_a_nullable_frame_once(dtype):
    try:
        from .support import peak
    except ImportError:  # run as a plain module
        from support import peak
    df = _nullable_frame(dtype, n=N, d=D)
    y = _targets(MLPRegressor, N)
    est = _model(MLPRegressor)
    # The whole fit once first: at two BLAS threads its 5,000-row steps are
    # split between threads (50 rows are not), and the split kernels'
    # compile, on a cold cache, is Python allocation too (CI: 1.87 copies).
    _quiet_fit(est, df, y)
    _, used = peak(lambda: _quiet_fit(est, df, y))
    copies = used / (N * D * 8)
    # Before fix-242: 3.0 (Int64) and 2.0 (Float64): pandas' cast, its
    # F-order array, validation's C-order copy.
    assert copies < 1.5, f"peak {copies:.2f} float64 copies of X (2 or 3 before fix-242)"
