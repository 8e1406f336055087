"""fix-244: findings of review 237 on the estimators.

(C) rev-237: a warm fit of a float32 model refused integer or list X as
"float64", which the caller never passed.
"""

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
