"""Early stopping's validation set, the invscaling rate and multilabel class
weights at the edges of the floating-point range."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning

from fastbp import MLPClassifier, MLPRegressor
from fastbp.exceptions import DivergenceError


def _outlier_data(big, row=6):
    X, y = make_regression(200, 5, random_state=0)
    # With random_state=0, row 6 lands in the validation split of a fresh
    # fit, row 5 in that of the warm fit below.
    X[row] = big * np.sign(X[row])
    return X, y


def _quiet_fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


@pytest.mark.parametrize("big", [1e300, np.finfo(np.float64).max])
@pytest.mark.parametrize("scoring", [None, "r2", "loss"])
def test_non_finite_validation_is_refused_not_kept_untrained(big, scoring):
    # helper-155: one extreme row in the validation split gave validation
    # scores of -inf or NaN, never an improvement, and the fit returned its
    # untrained starting weights (without a word where the score was NaN).
    X, y = _outlier_data(big)
    est = MLPRegressor(hidden_layer_sizes=(8,), early_stopping=True, scoring=scoring,
                       random_state=0, max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match="cannot score the validation set .* at epoch "
                                             "1: .*standardise X") as info:
            est.fit(X, y)
    assert not isinstance(info.value, DivergenceError)
    assert "magnitude of %.3g" % big in str(info.value)
    # The whole call is rolled back: a fresh estimator stays unfitted.
    assert not hasattr(est, "coefs_")


def test_non_finite_validation_leaves_a_warm_model_as_it_was():
    # helper-155: the model from before the call is intact after the refusal.
    X, y = make_regression(200, 5, random_state=0)
    est = _quiet_fit(MLPRegressor(hidden_layer_sizes=(8,), early_stopping=True,
                                  random_state=0, max_iter=3, warm_start=True), X, y)
    coefs = [c.copy() for c in est.coefs_]
    n_iter, curve = est.n_iter_, list(est.loss_curve_)
    scores, best = list(est.validation_scores_), est.best_validation_score_
    Xo, _ = _outlier_data(1e300, row=5)
    with pytest.raises(ValueError, match="cannot score the validation set"):
        est.fit(Xo, y)
    assert all(np.array_equal(a, b) for a, b in zip(coefs, est.coefs_))
    assert est.n_iter_ == n_iter and est.loss_curve_ == curve
    assert est.validation_scores_ == scores and est.best_validation_score_ == best
    assert np.isfinite(est.predict(X)).all()


def test_weights_that_overflow_on_validation_still_diverge():
    # helper-155's fix tells the validation rows' scale from weights that
    # diverged (non-finite on the training rows too): those remain a
    # DivergenceError, the model never the untrained starting weights.
    X, y = make_regression(300, 5, random_state=0)
    est = MLPRegressor(hidden_layer_sizes=(16,), solver="sgd", learning_rate_init=1e4,
                       early_stopping=True, random_state=0, max_iter=30)
    with warnings.catch_warnings(), pytest.raises(
            DivergenceError, match="training rows as on the validation set"):
        warnings.simplefilter("ignore")
        est.fit(X.astype(np.float32), y)
    # It diverged in epoch 1: rolled back, never the starting weights kept.
    assert not hasattr(est, "coefs_")


def test_invscaling_with_a_large_power_t_decays_to_zero():
    # helper-155: (t + 1) ** power_t overflowed Python's float and the fit
    # raised a bare OverflowError naming no parameter.
    X, y = make_classification(200, 5, random_state=0)
    est = _quiet_fit(MLPClassifier((8,), solver="sgd", learning_rate="invscaling",
                                   power_t=200.0, max_iter=3, random_state=0), X, y)
    assert est.n_iter_ == 3
    assert est.history_["learning_rate"][0] == 0.001
    assert list(est.history_["learning_rate"][1:]) == [0.0, 0.0]
    # A warm partial_fit that raises power_t recomputes the rate, the same way.
    est.set_params(power_t=1e10).partial_fit(X, y)
    assert np.isfinite(est.predict_proba(X)).all()
    # Where the power does not overflow, scikit-learn's expression, bit for bit.
    from fastbp.training.optimizers import _invscaled

    assert _invscaled(0.5, 600, 0.4) == 0.5 / 601 ** 0.4


def test_multilabel_class_weight_overflow_names_the_product_over_outputs():
    # helper-155: the message said class_weight held values beyond float32's
    # range (1e+45) where none exceeded 1e15: the row's weight is their
    # product over the three outputs.
    X, Y = make_multilabel_classification(200, 5, n_classes=3, random_state=0)
    est = MLPClassifier((8,), class_weight=[{0: 1.0, 1: 1e15}] * 3, max_iter=3,
                        random_state=0)
    with pytest.raises(ValueError, match="the product of its weights over the 3 outputs, "
                                         "reaches 1e\\+45, beyond float32's range") as info:
        est.fit(X.astype(np.float32), Y)
    assert "Lower the per-output weights" in str(info.value)
    assert "mean" not in str(info.value)
    assert not hasattr(est, "coefs_")
