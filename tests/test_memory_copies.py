"""Whole copies of the input that fit, partial_fit and predict no longer make
(helper-162's review of peak memory), with results unchanged."""

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.metrics import accuracy_score

from fastbp import MLPClassifier, MLPRegressor


try:
    from .support import peak
except ImportError:  # run as a plain module
    from support import peak


@pytest.fixture(scope="module")
def model32():
    rng = np.random.default_rng(0)
    X, y = rng.random((300, 100), dtype=np.float32), rng.integers(0, 3, 300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def model64():
    rng = np.random.default_rng(1)
    X, y = rng.random((300, 100)), rng.random(300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MLPRegressor(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)


def _inputs(rng, n):
    return {
        "uint8": rng.integers(0, 256, (n, 100), dtype=np.uint8),
        "int16": rng.integers(-2**15, 2**15, (n, 100), dtype=np.int16),
        "bool": rng.random((n, 100)) > 0.5,
        "float16": (rng.standard_normal((n, 100)) * 4).astype(np.float16),
        # Beyond 2**24, where float32 rounds: through float64 as before.
        "int64": rng.integers(-2**62, 2**62, (n, 100), dtype=np.int64) >> rng.integers(
            0, 60, (n, 100)),
        "uint64": rng.integers(0, 2**63, (n, 100), dtype=np.uint64) << np.uint64(1),
    }


@pytest.mark.parametrize("kind", ["uint8", "int16", "bool", "float16", "int64", "uint64"])
def test_predict_converts_integer_bool_float16_blocks_not_whole(model32, model64, kind):
    # helper-162: validation converted all of X to float64 before
    # predict_rows (uint8: 8 times X's size), for a float32 model too.
    rng = np.random.default_rng(2)
    X = _inputs(rng, 40_000)[kind]
    for model in (model32, model64):
        model.predict(X[:5])  # compiled, plans built
        out, used = peak(lambda: model.predict(X))
        # The old path's values: all of X as float64, then the model's dtype.
        assert_array_equal(out, model.predict(X.astype(np.float64)))
        if hasattr(model, "predict_proba"):
            assert_array_equal(model.predict_proba(X), model.predict_proba(X.astype(np.float64)))
        # A block of 4,096 rows in float64 (64-bit integers' way) and the
        # model's dtype, and the outputs; not all of X in float64.
        limit = 0.2 * X.shape[0] * X.shape[1] * 8 + 2**20
        assert used < limit, (kind, model.coefs_[0].dtype, used, X.nbytes)


def test_predict_on_int64_beyond_float32_rounds_as_before(model32):
    # 2**24 + 1 and its neighbours: float64 holds them, float32 rounds; a
    # direct int64 -> float32 cast can round otherwise than through float64.
    X = np.full((6, 100), 2**24 + 1, dtype=np.int64)
    X[:, 0] = [2**53 + 2**29 + 1, 2**53 + 2**29, -(2**53 + 2**29 + 1), 2**62 + 2**38 + 1,
               2**25 + 3, 7]
    assert_array_equal(model32.predict_proba(X), model32.predict_proba(X.astype(np.float64)))


def test_predict_float16_not_finite_still_refused(model32):
    X = np.ones((10, 100), dtype=np.float16)
    X[3, 4] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        model32.predict(X)
    X[3, 4] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        model32.predict(X)


@pytest.mark.parametrize("layout", ["C", "F", "DataFrame"])
def test_partial_fit_converts_to_the_model_dtype_once(layout):
    # helper-162: _in_dtype's astype kept F order (a DataFrame's values) and
    # KernelInput then copied all of X again into C order.
    rng = np.random.default_rng(3)
    X64, y = rng.random((6_000, 200)), rng.integers(0, 3, 6_000)
    X = {"C": X64, "F": np.asfortranarray(X64), "DataFrame": pd.DataFrame(X64)}[layout]
    ref = MLPClassifier(hidden_layer_sizes=(4,), random_state=0, batch_size=500)
    ref.partial_fit(X64[:50].astype(np.float32), y[:50], classes=[0, 1, 2])
    est = MLPClassifier(hidden_layer_sizes=(4,), random_state=0, batch_size=500)
    est.partial_fit(X64[:50].astype(np.float32), y[:50], classes=[0, 1, 2])
    est.partial_fit(X[:50] if layout != "DataFrame" else X.iloc[:50], y[:50])  # compiled
    ref.partial_fit(X64[:50].astype(np.float32), y[:50])
    _, used = peak(lambda: est.partial_fit(X, y))
    ref.partial_fit(X64.astype(np.float32), y)
    # One float32 copy (half of X's float64), not two.
    assert used < 0.75 * X64.nbytes, (layout, used, X64.nbytes)
    for a, b in zip(est.coefs_, ref.coefs_):
        assert_array_equal(a, b)


def test_early_stopping_scorer_reuses_the_validation_rows():
    # helper-162: the scorer got X[val_rows], a second copy of the rows the
    # validator had already taken.
    rng = np.random.default_rng(4)
    X, y = rng.random((8_000, 300), dtype=np.float32), rng.integers(0, 3, 8_000)
    seen = []

    def copying(est, Xv, yv):
        seen.append(Xv)
        return accuracy_score(yv, est.predict(np.array(Xv)))

    params = dict(hidden_layer_sizes=(4,), early_stopping=True, max_iter=3,
                  n_iter_no_change=10, random_state=0, batch_size=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPClassifier(**params).fit(X[:200], y[:200])  # compiled
        base, used_none = peak(lambda: MLPClassifier(**params).fit(X, y))
        est, used = peak(lambda: MLPClassifier(scoring="accuracy", **params).fit(X, y))
        ref = MLPClassifier(scoring=copying, **params).fit(X, y)
    val_nbytes = 0.1 * X.nbytes
    assert used - used_none < 0.5 * val_nbytes, (used, used_none, val_nbytes)
    # The same scores as from a writable copy of the rows, and the same fit.
    assert_array_equal(est.validation_scores_, ref.validation_scores_)
    for a, b in zip(est.coefs_, ref.coefs_):
        assert_array_equal(a, b)
    assert type(seen[0]) is np.ndarray and seen[0].dtype == np.float32
    assert seen[0].shape == (800, 300)


def test_cli_pipeline_hands_the_model_c_order_in_one_cast(tmp_path):
    # helper-162: the command line's cast (numpy.float32) kept the scaler's
    # F order, a DataFrame's, and the model copied all of it again.
    import fastbp
    from sklearn.preprocessing import StandardScaler

    from fastbp.cli_data.train import build_pipeline

    rng = np.random.default_rng(5)
    df = pd.DataFrame(rng.random((6_000, 100)), columns=[f"c{i}" for i in range(100)])
    y = rng.integers(0, 3, 6_000)
    model = MLPClassifier(hidden_layer_sizes=(4,), max_iter=1, random_state=0)
    pipe = build_pipeline(df, model, np.float32)
    Xt = pipe[:-1].fit_transform(df)
    assert Xt.dtype == np.float32 and Xt.flags.c_contiguous
    # The values of the cast it replaces.
    assert_array_equal(Xt, np.float32(StandardScaler().fit_transform(df)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_pipeline(df, MLPClassifier(hidden_layer_sizes=(4,), max_iter=1),
                       np.float32).fit(df[:100], y[:100])  # compiled
        _, used = peak(lambda: pipe.fit(df, y))
        # The model trains from the cast as it is, copying none of it.
        _, used_model = peak(lambda: clone(model).fit(Xt, y))
    assert used_model < 0.25 * Xt.nbytes, (used_model, Xt.nbytes)
    # The scaler's float64 values and their float32 cast (buffered: the
    # cast makes no whole float64 or float32 temporary).
    assert used < 1.75 * df.values.nbytes, (used, df.values.nbytes)
    ref = MLPClassifier(hidden_layer_sizes=(4,), max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(np.float32(StandardScaler().fit_transform(df)), y)
    assert_array_equal(pipe.predict_proba(df), ref.predict_proba(Xt))
    # fastbp.load rebuilds the cast (a NumPy ufunc, no function of fastbp's).
    fastbp.save(pipe, tmp_path / "p.skops")
    assert_array_equal(fastbp.load(tmp_path / "p.skops").predict_proba(df),
                       pipe.predict_proba(df))
