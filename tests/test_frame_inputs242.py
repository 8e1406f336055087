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
