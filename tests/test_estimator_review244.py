"""fix-244: findings of review 237 on the estimators.

(B) rev-237: predict converted a whole integer np.memmap or integer
DataFrame to float64 first.
(C) rev-237: a warm fit of a float32 model refused integer or list X as
"float64", which the caller never passed.
"""

import tracemalloc
import warnings

import numpy as np
import pytest

from fastbp import MLPClassifier

try:
    from .support import quiet
except ImportError:
    from support import quiet


def _data(n=120, d=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.rand(n, d).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    return X, y


# ------------------------------------------------------------------ (B)

def _peak(fn, *args):
    tracemalloc.start()
    try:
        out = fn(*args)
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def uint8_problem():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(20000, 100)).astype(np.uint8)
    y = rng.randint(0, 3, size=len(X))
    model = quiet(MLPClassifier((8,), max_iter=2, random_state=0).fit,
                  X[:500].astype(np.float32) / 255, y[:500])
    return model, X


def test_predict_keeps_an_integer_memmap_as_it_is(tmp_path, uint8_problem):
    model, X = uint8_problem
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    assert isinstance(mapped, np.memmap)
    expected = model.predict_proba(X)
    out, peak = _peak(model.predict_proba, mapped)
    np.testing.assert_array_equal(out, expected)
    assert peak < X.size * 8 / 4  # a float64 copy of X: 16 MB


def test_predict_keeps_an_integer_dataframe_as_it_is(uint8_problem):
    pd = pytest.importorskip("pandas")
    model, X = uint8_problem
    frame = pd.DataFrame(X)
    expected = model.predict_proba(X)
    out, peak = _peak(model.predict_proba, frame)
    np.testing.assert_array_equal(out, expected)
    assert peak < X.size * 8 / 4


def test_integer_dataframes_keep_their_feature_name_checks():
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    columns = ["a", "b", "c"]
    X = rng.randint(0, 5, size=(60, 3)).astype(np.uint8)
    y = rng.randint(0, 2, size=60)
    model = quiet(MLPClassifier((4,), max_iter=2, random_state=0).fit,
                  pd.DataFrame(X.astype(np.float32), columns=columns), y)
    expected = model.predict_proba(pd.DataFrame(X.astype(np.float32), columns=columns))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(model.predict_proba(pd.DataFrame(X, columns=columns)),
                                   expected)
    with pytest.warns(UserWarning, match="feature names"):
        model.predict_proba(X)
    with pytest.raises(ValueError, match="feature names"):
        model.predict_proba(pd.DataFrame(X, columns=["a", "c", "b"]))
    # An unnamed model warns about a named integer frame, as before.
    unnamed = quiet(MLPClassifier((4,), max_iter=2, random_state=0).fit,
                    X.astype(np.float32), y)
    with pytest.warns(UserWarning, match="feature names"):
        unnamed.predict_proba(pd.DataFrame(X, columns=columns))


# ------------------------------------------------------------------ (C)

@pytest.mark.parametrize("given", ["int8", "list"])
def test_a_warm_fit_converts_x_without_a_float_dtype(given):
    X, y = _data()
    model = quiet(MLPClassifier((4,), max_iter=2, warm_start=True, random_state=0).fit, X, y)
    data = (X * 10).astype(np.int8) if given == "int8" else X.tolist()
    quiet(model.fit, data, y)
    assert model.coefs_[0].dtype == np.float32
    # What partial_fit does with the same X, from the same model.
    reference = quiet(MLPClassifier((4,), max_iter=2, warm_start=True, random_state=0).fit,
                      X, y)
    expected = (X * 10).astype(np.int8).astype(np.float32) if given == "int8" else X
    quiet(reference.fit, expected, y)
    for got, want in zip(model.coefs_, reference.coefs_):
        np.testing.assert_array_equal(got, want)


def test_a_warm_fit_still_refuses_the_other_float_dtype_naming_it():
    X, y = _data()
    model = quiet(MLPClassifier((4,), max_iter=2, warm_start=True, random_state=0).fit, X, y)
    coefs = [c.copy() for c in model.coefs_]
    with pytest.raises(ValueError, match="X has dtype float64 but the model was fitted "
                                         "with float32"):
        model.fit(X.astype(np.float64), y)
    for got, want in zip(model.coefs_, coefs):
        np.testing.assert_array_equal(got, want)
    wide = quiet(MLPClassifier((4,), max_iter=2, warm_start=True, random_state=0).fit,
                 X.astype(np.float64), y)
    with pytest.raises(ValueError, match="X has dtype float32 but the model was fitted "
                                         "with float64"):
        wide.fit(X, y)
    # partial_fit converts, as before.
    quiet(model.partial_fit, X.astype(np.float64), y)
    assert model.coefs_[0].dtype == np.float32
