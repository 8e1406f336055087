"""Edge cases of MLPRegressor's scores, range checks and messages."""

import warnings

import numpy as np
import pytest
import sklearn
from sklearn.metrics import r2_score

from fastbp import MLPRegressor
from fastbp.estimators.regressor import _r2_in_float64
from fastbp.exceptions import DivergenceError

M64 = np.finfo(np.float64).max


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 4)
    return X, X[:, 0] * 1e5


def test_default_validation_score_with_huge_weights_is_r2(data):
    # helper-151: weights near 1e300 made R^2 NaN (weight times squared
    # deviation overflowed); the fit kept its untrained starting weights.
    X, y = data
    kw = dict(hidden_layer_sizes=(3,), max_iter=30, random_state=0, early_stopping=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        big = MLPRegressor(**kw).fit(X, y, sample_weight=np.full(200, 1e300))
        unit = MLPRegressor(**kw).fit(X, y)
    assert np.all(np.isfinite(big.validation_scores_))
    np.testing.assert_allclose(big.validation_scores_, unit.validation_scores_, rtol=1e-6)


def test_r2_weights_are_scaled_exactly(data):
    # helper-151: the power-of-two scaling keeps R^2 bitwise scikit-learn's.
    X, y = data
    pred = y + np.random.RandomState(1).randn(200) * 1e4
    sw = np.random.RandomState(2).uniform(0.1, 3.0, 200)
    assert _r2_in_float64(y, pred, sw) == r2_score(y, pred, sample_weight=sw)
    assert _r2_in_float64(y, pred, sw * 1e300) == r2_score(y, pred, sample_weight=sw)


def test_non_finite_default_validation_score_is_an_error(data, monkeypatch):
    # helper-151: with scoring=None a NaN score was used unchecked.
    X, y = data
    monkeypatch.setattr(MLPRegressor, "_score_outputs", lambda self, out, y, sw: np.nan)
    model = MLPRegressor(hidden_layer_sizes=(3,), max_iter=5, random_state=0,
                         early_stopping=True)
    with pytest.raises(ValueError, match=r"default validation score .*scoring=None.* gave nan"):
        model.fit(X, y)


def test_score_with_huge_weights_is_defined(data):
    # helper-151: score blamed y's squared deviations for the weights'.
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPRegressor(hidden_layer_sizes=(3,), max_iter=5, random_state=0).fit(X, y)
    assert model.score(X, y, sample_weight=np.full(200, 1e300)) == pytest.approx(
        model.score(X, y), rel=1e-12)


def test_score_names_nan_in_y_under_assume_finite(data):
    # helper-151: "overflow float64 (largest magnitude nan)".
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPRegressor(hidden_layer_sizes=(3,), max_iter=5, random_state=0).fit(X, y)
    with sklearn.config_context(assume_finite=True):
        with pytest.raises(ValueError, match="y contains NaN"):
            model.score(X, np.r_[np.nan, y[1:]])


@pytest.mark.parametrize("n, batch_size", [(200, 200), (1000, 200), (1000, 1), (50, 50)])
def test_targets_near_the_training_range_bound(n, batch_size):
    # helper-151: targets the range check took failed at training with a
    # DivergenceError that blamed the learning rate. The bound is that of
    # the kernels' float64 sums: batch_size**2 or n half squared targets.
    X = np.random.RandomState(0).randn(n, 4)
    bound = np.sqrt(2.0) * np.sqrt(M64 / max(min(batch_size, n) ** 2, n))
    kw = dict(hidden_layer_sizes=(3,), max_iter=1, random_state=0, batch_size=batch_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPRegressor(**kw).fit(X, 0.999 * bound * np.sign(X[:, 0]))
    assert np.isfinite(model.loss_)
    with pytest.raises(ValueError, match=r"y's largest magnitude .* too large for training"):
        MLPRegressor(**kw).fit(X, 1.001 * bound * np.sign(X[:, 0]))


def test_float32_targets_keep_their_bound():
    # helper-151: in float32 the squared-error bound comes first, as before.
    X = np.random.RandomState(0).randn(400, 4).astype(np.float32)
    limit = float(np.sqrt(np.finfo(np.float32).max)) / 4
    kw = dict(hidden_layer_sizes=(3,), max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPRegressor(**kw).fit(X, 0.99 * limit * np.sign(X[:, 0]))
    with pytest.raises(ValueError, match="too large for a squared-error loss in float32"):
        MLPRegressor(**kw).fit(X, 1.01 * limit * np.sign(X[:, 0]))


def test_poisson_divergence_advice_keeps_y_non_negative():
    # helper-151: the advice to standardise y cannot be followed with
    # loss='poisson' (it refuses negative targets).
    rng = np.random.RandomState(0)
    X = rng.randn(300, 4)
    y = rng.poisson(np.exp(1.5 * X[:, 0] + 2)).astype(float)
    model = MLPRegressor(loss="poisson", hidden_layer_sizes=(16,), solver="sgd",
                         learning_rate_init=5.0, random_state=0, max_iter=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DivergenceError) as info:
            model.fit(X, y)
    message = str(info.value)
    assert "divide y by a positive constant" in message
    assert "and y for a regressor" not in message


def test_ragged_y_is_named(data):
    # helper-151: NumPy's "setting an array element with a sequence" had
    # no "y:" in front.
    X, y = data
    with pytest.raises(ValueError, match="^y: setting an array element"):
        MLPRegressor(max_iter=1).fit(X, [[a, a] for a in y[:-1]] + [[1.0]])


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_changed_number_of_outputs_is_named(data, how):
    # helper-151: "The network's shape changed ... layer sizes [4, 3, 2]".
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0).fit(X, y)
    model.set_params(warm_start=True)
    call = model.partial_fit if how == "partial_fit" else model.fit
    with pytest.raises(ValueError, match=r"y has 2 output\(s\), and the model was fitted "
                                         r"with n_outputs_=1"):
        call(X, np.c_[y, y])
