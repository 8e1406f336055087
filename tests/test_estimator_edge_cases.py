"""helper-169's review: early stopping past a non-finite validation epoch,
the training range of y, score's weight messages, hand-set classes in a
warm start, pd.NA among labels, and the split decided once per call."""

import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from fastbp import MLPClassifier, MLPRegressor
from fastbp.estimators import solvers
from fastbp.estimators.classifier import _check_no_missing_labels
from fastbp.training import split

M64 = np.finfo(np.float64).max


def _quiet(fit, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(*args, **kwargs)


def _outlier_rows():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 3)
    y = X[:, 0] + X[:, 1]
    X[8, :] = 1e155  # random_state=0 puts this row in the validation split
    return X, y


@pytest.mark.parametrize("how", ["dense", "sparse", "weighted"])
def test_validation_that_stops_scoring_keeps_the_best_finite_epoch(how):
    # helper-169: a validation loss that overflowed after some finite
    # epochs failed the whole call (a ValueError, rolled back), where early
    # stopping had kept the best finite epoch; the message said it would
    # keep the untrained starting weights.
    X, y = _outlier_rows()
    kwargs = {"sample_weight": np.linspace(0.5, 1.5, 200)} if how == "weighted" else {}
    if how == "sparse":
        X = sp.csr_matrix(X)
    model = _quiet(MLPRegressor(hidden_layer_sizes=(8,), max_iter=60, early_stopping=True,
                                random_state=0, learning_rate_init=0.01).fit, X, y, **kwargs)
    scores = np.asarray(model.validation_scores_)
    finite = np.isfinite(scores)
    assert finite.any() and not finite.all()
    # The epochs it could not score are non-improvements, recorded as NaN,
    # and come after the finite ones; the best finite epoch is kept.
    assert np.isnan(scores[~finite]).all()
    assert finite[:np.flatnonzero(~finite)[0]].all()
    assert model.best_validation_score_ == scores[finite].max()
    assert len(scores) == model.n_iter_ == len(model.loss_curve_)
    assert np.isfinite(model.predict(X[:8])).all()


def test_a_validation_set_never_scored_is_still_refused_with_a_true_message():
    # helper-169: refused while no epoch of the fit had a finite score; the
    # message no longer calls the weights it would end on untrained.
    X, y = _outlier_rows()
    X[8, :] = 1e300
    model = MLPRegressor(hidden_layer_sizes=(8,), max_iter=20, early_stopping=True,
                         random_state=0)
    with pytest.raises(ValueError, match="cannot score the validation set .* at epoch 1") \
            as info:
        model.fit(X, y)
    assert "untrained" not in str(info.value)
    assert "no epoch of this fit has had a finite one" in str(info.value)
    assert not hasattr(model, "coefs_")


@pytest.mark.parametrize("batch_size, big", [(200, 3e152), (50, 4.9e152), (200, 1.28e152)])
def test_one_large_target_among_small_ones_trains(batch_size, big):
    # helper-169: the training-range check bounded every row by the largest
    # target, and refused targets whose loss sums stayed finite (loss_
    # 1.5e+302 before the check).
    rng = np.random.RandomState(0)
    X = rng.randn(300, 3)
    y = X[:, 0].copy()
    y[7] = big
    model = _quiet(MLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=0,
                                batch_size=batch_size).fit, X, y)
    assert np.isfinite(model.loss_)
    assert all(np.isfinite(c).all() for c in model.coefs_)


def test_gaussian_targets_at_the_review_scale_train():
    # helper-169: Gaussian y scaled to a largest magnitude of 1.28e152
    # (batch 200) or 4.9e152 (batch 50) was refused.
    rng = np.random.RandomState(0)
    X = rng.randn(300, 3)
    g = rng.randn(300)
    for batch_size, top in [(200, 1.28e152), (50, 4.9e152)]:
        y = g * (top / np.abs(g).max())
        model = _quiet(MLPRegressor(hidden_layer_sizes=(8,), max_iter=2, random_state=0,
                                    batch_size=batch_size).fit, X, y)
        assert np.isfinite(model.loss_)


def test_the_bound_for_one_large_target_is_that_of_its_batch():
    # helper-169: with one large row, the worst mini-batch holds it and
    # batch_size - 1 small ones: its loss sum times batch_size overflows
    # just above sqrt(2 * max / batch_size); trained just below.
    rng = np.random.RandomState(0)
    X = rng.randn(400, 3)
    y = rng.uniform(-1, 1, 400)
    bound = np.sqrt(2.0) * np.sqrt(M64 / 200)
    kw = dict(hidden_layer_sizes=(3,), max_iter=1, random_state=0)
    y[11] = 0.999 * bound
    model = _quiet(MLPRegressor(**kw).fit, X, y)
    assert np.isfinite(model.loss_)
    y[11] = 1.001 * bound
    with pytest.raises(ValueError, match=r"y's largest magnitude .* too large for training "
                                         r"at batch_size=200"):
        MLPRegressor(**kw).fit(X, y)


@pytest.mark.parametrize("value, said", [
    (np.nan, "Input sample_weight contains NaN"),
    (np.inf, "Input sample_weight contains infinity"),
    (-np.inf, "Input sample_weight contains infinity"),
])
def test_score_names_a_non_finite_weight_as_scikit_learn_does(value, said):
    # helper-169: every non-finite weight got "the sum of sample_weight
    # overflows float64 (largest weight nan)" (or 1, or inf).
    rng = np.random.RandomState(0)
    X = rng.randn(50, 3)
    y = X[:, 0]
    model = _quiet(MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit, X, y)
    weights = np.ones(50)
    weights[3] = value
    with pytest.raises(ValueError, match=said):
        model.score(X, y, sample_weight=weights)
    # Finite weights whose sum overflows keep their own message.
    with pytest.raises(ValueError, match="the sum of sample_weight overflows float64 "
                                         r"\(largest weight magnitude 1e\+307\)"):
        model.score(X, y, sample_weight=np.full(50, 1e307))


def test_warm_start_fit_on_hand_set_weights_and_classes():
    # helper-169: an AttributeError (no _label_binarizer) where classes_
    # was set by hand, as partial_fit's had been.
    rng = np.random.RandomState(0)
    X = rng.randn(10, 3)
    model = MLPClassifier(hidden_layer_sizes=(4,), warm_start=True, max_iter=3,
                          random_state=0)
    model.coefs_ = [rng.randn(3, 4), rng.randn(4, 3)]
    model.intercepts_ = [rng.randn(4), rng.randn(3)]
    model.classes_ = np.array(["a", "b", "c"])
    _quiet(model.fit, X, np.array(list("abcabcabca")))
    assert model.n_iter_ == 3
    assert set(model.predict(X)) <= {"a", "b", "c"}
    # A y of other classes is refused as for a fitted model.
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the "
                                         "same classes"):
        model.fit(X, np.array(list("abdabdabda")))


@pytest.mark.parametrize("make", [list, lambda v: np.array(v, dtype=object)])
def test_pandas_na_among_labels_is_a_missing_value(make):
    # helper-169: "boolean value of NA is ambiguous" (a TypeError).
    X = np.random.default_rng(0).random((6, 3))
    y = make(["a", "b", "a", "b", "a", pd.NA])
    with pytest.raises(ValueError, match=r"Input y contains <NA> \(a missing value\) in "
                                         r"1 row\(s\), the first at position 5"):
        MLPClassifier((3,), max_iter=2).fit(X, y)


def test_missing_labels_are_found_without_pandas(monkeypatch):
    # helper-169: without pandas imported (no pd.NA can exist) each value
    # is looked at alone: None and NaN, not values that do not compare.
    monkeypatch.delitem(sys.modules, "pandas")

    class Odd:
        def __ne__(self, other):
            raise TypeError("no comparison")

    _check_no_missing_labels(["a", Odd(), np.array([1.0, np.nan]), "b"])
    with pytest.raises(ValueError, match=r"contains None .*position 1"):
        _check_no_missing_labels(["a", None, "b"])
    with pytest.raises(ValueError, match=r"contains NaN .*position 2"):
        _check_no_missing_labels(np.array(["a", "b", float("nan")], dtype=object))


def test_partial_fit_decides_the_split_once(monkeypatch):
    # helper-169: split_parts ran twice per call, in fit_split_parts and
    # again in fit_stochastic.
    calls = []

    def counted(*args):
        calls.append(args)
        return split.split_parts(*args)

    monkeypatch.setattr(solvers, "split_parts", counted)
    X = np.random.RandomState(0).randn(40, 3)
    y = X[:, 0] > 0
    model = MLPClassifier((4,), random_state=0)
    model.partial_fit(X, y, classes=[False, True])
    model.partial_fit(X, y)
    assert len(calls) == 2
