"""Review 189 of the scikit-learn interop: an early-stopping mode switched
before a conversion, metadata-routing requests across it, and what the
README says of hyper-parameters set before from_sklearn and of the Poisson
regressor's tags."""


import copy

import numpy as np
import pytest
import sklearn
from sklearn import neural_network as sknn
from sklearn.base import clone
from sklearn.datasets import load_digits

from fastbp import MLPClassifier

try:
    from .support import quiet
except ImportError:  # run as a plain module
    from support import quiet


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


def assert_same_weights(a, b, atol=1e-13):
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(p, q, rtol=0, atol=atol)


KW = dict(hidden_layer_sizes=(8,), max_iter=4, random_state=0, learning_rate_init=0.01)


def test_from_sklearn_after_early_stopping_switched_off_goes_on(digits):
    # A bare TypeError before: scikit-learn's best_loss_ (None after an
    # early-stopping fit) reached the comparison with the next loss.
    X, y = digits
    sk = quiet(sknn.MLPClassifier(early_stopping=True, **KW).fit, X, y)
    sk.set_params(early_stopping=False)
    est = MLPClassifier.from_sklearn(sk)
    quiet(est.partial_fit, X, y)
    # What scikit-learn does with the record converted by hand, as fastbp's
    # next call converts its own: the stopping state starts afresh.
    sk.best_loss_, sk._no_improvement_count = np.inf, 0
    quiet(sk.partial_fit, X, y)
    assert_same_weights(est, sk)
    assert est.best_loss_ == pytest.approx(sk.best_loss_, rel=1e-13)
    assert est.validation_scores_ is None


def test_from_sklearn_warm_fit_after_early_stopping_switched_on_goes_on(digits):
    # A bare TypeError before: best_validation_score_ (None after a fit
    # without early stopping) reached the comparison with the first score.
    # (fastbp draws its validation split otherwise than scikit-learn, so
    # the weights differ: the stopping record is compared.)
    X, y = digits
    sk = quiet(sknn.MLPClassifier(**KW).fit, X, y)
    sk.set_params(early_stopping=True, warm_start=True, max_iter=3)
    est = MLPClassifier.from_sklearn(sk)
    quiet(est.fit, X, y)
    assert len(est.loss_curve_) == 4 + 3
    assert len(est.validation_scores_) == 3  # a record started afresh
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert est.best_loss_ is None


def test_to_sklearn_after_early_stopping_switched_off_partial_fits_as_the_model(digits):
    X, y = digits
    est = quiet(MLPClassifier(early_stopping=True, **KW).fit, X, y)
    est.set_params(early_stopping=False)
    sk = est.to_sklearn()
    quiet(est.partial_fit, X, y)
    quiet(sk.partial_fit, X, y)  # TypeError in scikit-learn before
    assert_same_weights(est, sk)
    assert sk.best_loss_ == pytest.approx(est.best_loss_, rel=1e-13)
    assert sk._no_improvement_count == est._no_improvement_count


def test_to_sklearn_warm_fit_after_early_stopping_switched_on_starts_its_record(digits):
    # AttributeError in scikit-learn before: validation_scores_ was None.
    X, y = digits
    est = quiet(MLPClassifier(**KW).fit, X, y)
    est.set_params(early_stopping=True, warm_start=True, max_iter=3)
    sk = est.to_sklearn()
    # The record fastbp's next call converts its own to (Progress.for_mode).
    assert sk.validation_scores_ == [] and sk.best_validation_score_ == -np.inf
    assert sk._no_improvement_count == 0 and sk.best_loss_ is None
    quiet(sk.fit, X, y)
    quiet(est.fit, X, y)
    for model in (sk, est):
        assert len(model.loss_curve_) == 4 + 3
        assert len(model.validation_scores_) == 3
        assert model.best_validation_score_ == max(model.validation_scores_)


def test_to_sklearn_of_a_scoring_without_early_stopping_keeps_its_loss_record(digits):
    # The copy of a fit without early stopping got validation_scores_ = []
    # for its (unused) scoring, which from_sklearn takes for an
    # early-stopping record: the round trip lost the best loss.
    X, y = digits
    est = quiet(MLPClassifier(scoring="neg_log_loss", **KW).fit, X, y)
    sk = quiet(est.to_sklearn)
    assert sk.validation_scores_ is None
    back = MLPClassifier.from_sklearn(sk)
    for model in (est, sk, back):
        quiet(model.partial_fit, X, y)
    for other in (sk, back):
        assert_same_weights(est, other)
        assert other.best_loss_ == pytest.approx(est.best_loss_, rel=1e-13)
        assert other._no_improvement_count == est._no_improvement_count


def _requests(model):
    return {method: dict(getattr(model.get_metadata_routing(), method).requests)
            for method in ("fit", "score")}


def test_conversions_keep_the_metadata_routing_requests(digits):
    # They were dropped, as sklearn.base.clone does not: a pipeline routing
    # sample_weight to its last step refused the converted copy.
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = digits
    sw = np.linspace(0.5, 1.5, len(y))
    with sklearn.config_context(enable_metadata_routing=True):
        est = quiet(MLPClassifier(**KW).set_fit_request(sample_weight=True)
                    .set_score_request(sample_weight="w").fit, X, y)
        wanted = {"fit": {"sample_weight": True}, "score": {"sample_weight": "w"}}
        assert _requests(clone(est)) == wanted
        sk = est.to_sklearn()
        assert _requests(sk) == wanted
        assert _requests(MLPClassifier.from_sklearn(sk)) == wanted
        # Routing errors name the copy, not the model it came from.
        assert sk.get_metadata_routing().owner is sk

        scaler = StandardScaler().set_fit_request(sample_weight=False)
        pipe = quiet(make_pipeline(scaler, MLPClassifier(**KW)
                                   .set_fit_request(sample_weight=True)
                                   .set_score_request(sample_weight=True)).fit,
                     X, y, sample_weight=sw)
        expected = pipe.score(X, y, sample_weight=sw)
        pipe.steps[-1] = (pipe.steps[-1][0], pipe[-1].to_sklearn())
        assert pipe.score(X, y, sample_weight=sw) == pytest.approx(expected, rel=1e-12)


def test_from_sklearn_keeps_the_metadata_routing_requests(digits):
    X, y = digits
    with sklearn.config_context(enable_metadata_routing=True):
        sk = quiet(sknn.MLPClassifier(**KW).set_fit_request(sample_weight=False).fit, X, y)
        est = MLPClassifier.from_sklearn(sk)
        assert _requests(est) == {"fit": {"sample_weight": False},
                                  "score": {"sample_weight": None}}
        assert est.get_metadata_routing().owner is est


def test_from_sklearn_takes_hyper_parameters_set_since_the_fit(digits):
    # As the README says: scikit-learn's kept optimizer would go on with
    # the momentum it was trained with; fastbp takes the one set since, as
    # in its own streams.
    X, y = digits
    sk = quiet(sknn.MLPClassifier(solver="sgd", momentum=0.9, **KW).fit, X, y)
    sk.set_params(momentum=0.5)
    est = MLPClassifier.from_sklearn(sk)
    as_set = copy.deepcopy(sk)
    as_set._optimizer.momentum = 0.5
    for model in (est, sk, as_set):
        quiet(model.partial_fit, X, y)
    assert_same_weights(est, as_set)
    assert not np.allclose(est.coefs_[0], sk.coefs_[0], rtol=0, atol=1e-6)


def test_a_poisson_regressor_says_it_needs_non_negative_targets():
    from sklearn.linear_model import PoissonRegressor

    from fastbp import MLPRegressor

    tags = MLPRegressor(loss="poisson").__sklearn_tags__().target_tags
    assert tags.positive_only == PoissonRegressor().__sklearn_tags__().target_tags.positive_only
    assert tags.positive_only
    assert not MLPRegressor().__sklearn_tags__().target_tags.positive_only
