"""fix-210 (rev-202): a fit that diverges after finite epochs leaves the
estimator as it was before the call, as every failed call does; the state
of the call's last finite epoch goes with the error, as its
``last_finite_model``, an estimator of its own."""

import copy
import pickle

import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.exceptions import NotFittedError

import fastbp
from fastbp import DivergenceError, MLPClassifier, MLPRegressor

try:
    from .support import quiet
except ImportError:
    from support import quiet


def _regression_data():
    # Unscaled targets (hundreds), which a learning rate of 0.5 makes
    # diverge after a few finite epochs.
    return make_regression(200, 5, noise=5, random_state=0)


def _state(est):
    """Everything a call could change: the fitted attributes (copies), the
    optimizer's state and the pickled bytes of the whole estimator."""
    fitted = {k: copy.deepcopy(v) for k, v in vars(est).items() if k.endswith("_")}
    opt = est.__dict__.get("_optimizer")
    optimizer = None if opt is None else (opt.state_1.copy(), opt.state_2.copy(), opt.t,
                                          opt.rng_state)
    return fitted, optimizer, pickle.dumps(est)


def _assert_same_state(a, b):
    (fa, oa, pa), (fb, ob, pb) = a, b
    assert fa.keys() == fb.keys()
    for key in fa:
        u, v = fa[key], fb[key]
        if isinstance(u, list) and u and isinstance(u[0], np.ndarray):
            assert len(u) == len(v) and all(np.array_equal(p, q) for p, q in zip(u, v)), key
        elif isinstance(u, dict):
            assert u.keys() == v.keys(), key
            assert all(np.array_equal(np.asarray(u[q]), np.asarray(v[q])) for q in u), key
        elif isinstance(u, np.ndarray):
            assert np.array_equal(u, v), key
        else:
            assert u == v, key
    assert (oa is None) == (ob is None)
    if oa is not None:
        np.testing.assert_array_equal(oa[0], ob[0])
        np.testing.assert_array_equal(oa[1], ob[1])
        assert oa[2:] == ob[2:]
    assert pa == pb, "the pickled model changed"


def _diverging_warm_fit():
    """The review's repro: a good warm-startable model, then a warm fit at a
    learning rate that diverges after some finite epochs."""
    X, y = _regression_data()
    est = quiet(MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", max_iter=100,
                             random_state=0, warm_start=True).fit, X, y)
    est.set_params(learning_rate_init=0.5, max_iter=50)
    return X, y, est


def test_a_warm_fit_that_diverges_leaves_the_model_as_it_was():
    X, y, est = _diverging_warm_fit()
    before, score = _state(est), est.score(X, y)
    reference = copy.deepcopy(est)
    with pytest.raises(DivergenceError) as info:
        quiet(est.fit, X, y)
    err = info.value
    assert err.epoch > 1, "the repro must diverge after finite epochs"
    _assert_same_state(before, _state(est))
    assert est.score(X, y) == score and est.t_ == before[0]["t_"]
    msg = str(err)
    assert "the model is as it was before this call" in msg
    assert (f"the state of epoch {err.epoch - 1} of this call, the last finite one, is in "
            "this exception's last_finite_model") in msg
    assert "the model keeps the state" not in msg

    # The last finite epoch is what the model used to keep: the same warm
    # fit, stopped at that epoch.
    kept = err.last_finite_model
    assert isinstance(kept, MLPRegressor) and kept is not est
    reference.set_params(max_iter=err.epoch - 1)
    quiet(reference.fit, X, y)
    assert kept.n_iter_ == reference.n_iter_ == err.epoch - 1
    assert kept.loss_curve_ == reference.loss_curve_
    assert kept.t_ == reference.t_
    for a, b in zip(kept.coefs_ + kept.intercepts_, reference.coefs_ + reference.intercepts_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(kept._optimizer.state_1, reference._optimizer.state_1)
    predicted = kept.predict(X)
    assert np.isfinite(predicted).all()
    np.testing.assert_array_equal(predicted, reference.predict(X))


def _explode_after_three_epochs(epoch, lr0):
    # 0-based epochs of the call: the fourth overflows the weights at once,
    # so the last finite epoch is a good model (without momentum, whose
    # velocity would carry the huge step on).
    return lr0 if epoch < 3 else 1e306


def test_the_last_finite_model_is_independent_and_can_be_trained_on():
    X, y = _regression_data()
    est = quiet(MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=1e-3,
                             momentum=0.0, max_iter=20, random_state=0,
                             warm_start=True).fit, X, y)
    est.set_params(learning_rate=_explode_after_three_epochs)
    before = _state(est)
    with pytest.raises(DivergenceError) as info:
        quiet(est.fit, X, y)
    _assert_same_state(before, _state(est))
    n_kept = 20 + info.value.epoch - 1
    kept = info.value.last_finite_model
    assert info.value.epoch > 1 and len(kept.loss_curve_) == n_kept
    # Its own records and arrays: the rollback cut the estimator's curve
    # back in place, and training the copy does not reach the estimator.
    assert kept.loss_curve_ is not est.loss_curve_ and kept._progress is not est._progress
    assert not np.shares_memory(kept.coefs_[0], est.coefs_[0])
    assert kept.loss_curve_[:20] == est.loss_curve_
    # Continue from it at a constant rate: it trains on from its epoch.
    kept.set_params(learning_rate="constant", max_iter=5)
    quiet(kept.fit, X, y)
    assert kept.n_iter_ == 5 and len(kept.loss_curve_) == n_kept + 5
    assert kept.loss_curve_[-1] < kept.loss_curve_[n_kept - 1]
    quiet(kept.partial_fit, X, y)
    assert len(kept.loss_curve_) == n_kept + 6
    _assert_same_state(before, _state(est))


def test_a_fresh_fit_that_diverges_stays_unfitted_and_hands_over_a_fitted_model(tmp_path):
    X, y = _regression_data()
    rng = np.random.RandomState(0)
    rng_state = rng.get_state()
    est = MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.5,
                       max_iter=50, random_state=rng)
    with pytest.raises(DivergenceError) as info:
        quiet(est.fit, X, y)
    err = info.value
    assert err.epoch > 1
    with pytest.raises(NotFittedError):
        est.predict(X)
    assert not [k for k in vars(est) if k.endswith("_")]
    # The user's RandomState is rewound, as after every failed call; the
    # copy's is another object, which the rewind did not touch.
    np.testing.assert_array_equal(rng.get_state()[1], rng_state[1])
    kept = err.last_finite_model
    assert kept.random_state is not rng
    assert kept.n_iter_ == err.epoch - 1 == len(kept.loss_curve_) == len(
        kept.history_["loss"])
    assert np.isfinite(kept.predict(X)).all()
    # It saves and loads as a model of its own.
    path = tmp_path / "last_finite.fastbp"
    fastbp.save(kept, path)
    np.testing.assert_array_equal(fastbp.load(path).predict(X), kept.predict(X))


def test_a_classifier_that_diverges_leaves_its_model_as_it_was():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)

    est = quiet(MLPClassifier((6,), solver="sgd", max_iter=20, random_state=0).fit, X, y)
    before = _state(est)
    proba = est.predict_proba(X)
    est.set_params(learning_rate=_explode_after_three_epochs, warm_start=True)
    with pytest.raises(DivergenceError) as info:
        quiet(est.fit, X, y)
    est.set_params(learning_rate="constant", warm_start=False)  # to compare pickles
    _assert_same_state(before, _state(est))
    np.testing.assert_array_equal(est.predict_proba(X), proba)
    err = info.value
    assert err.epoch > 1
    kept = err.last_finite_model
    assert isinstance(kept, MLPClassifier) and kept.n_iter_ == err.epoch - 1
    np.testing.assert_array_equal(kept.classes_, [0, 1])
    assert "_y_labels" not in vars(kept)
    assert np.isfinite(kept.predict_proba(X)).all()


def test_a_fresh_fit_at_1e6_leaves_nothing_fitted():
    # The review's second repro: the estimator was left fitted, predicting
    # about -8.8e54.
    X, y = _regression_data()
    est = MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=1e6,
                       max_iter=50, random_state=0)
    with pytest.raises(DivergenceError) as info:
        quiet(est.fit, X, y)
    with pytest.raises(NotFittedError):
        est.predict(X)
    err = info.value
    assert (err.last_finite_model is None) == (err.epoch == 1)


def test_first_epoch_divergence_hands_over_nothing():
    X, y, est = _diverging_warm_fit()
    est.set_params(learning_rate_init=0.01)
    before = _state(est)
    with pytest.raises(DivergenceError, match=r"diverged at epoch 1 of this call") as info:
        quiet(est.fit, X * 1e300, y)
    assert info.value.epoch == 1 and info.value.last_finite_model is None
    assert ("the model is as it was before this call (no epoch of it was finite)"
            in str(info.value))
    _assert_same_state(before, _state(est))


def test_the_error_with_its_model_pickles():
    # As a process pool's worker sends it back (joblib, loky).
    X, y = _regression_data()
    est = MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.5,
                       max_iter=50, random_state=0)
    with pytest.raises(DivergenceError) as info:
        quiet(est.fit, X, y)
    back = pickle.loads(pickle.dumps(info.value))
    assert str(back) == str(info.value) and back.epoch == info.value.epoch
    np.testing.assert_array_equal(back.last_finite_model.predict(X),
                                  info.value.last_finite_model.predict(X))


def test_an_overflowing_prediction_no_longer_says_a_diverged_fit_keeps_its_epoch():
    X, y = _regression_data()
    reg = quiet(MLPRegressor(hidden_layer_sizes=(4,), random_state=0, max_iter=5).fit, X, y)
    reg.coefs_[0] *= 1e300
    reg.coefs_[1] *= 1e300
    with pytest.raises(ValueError, match="DivergenceError's last_finite_model holds") as info:
        reg.predict(X)
    assert "keeps its last finite epoch" not in str(info.value)


def test_a_nested_fits_divergence_keeps_its_own_last_finite_model():
    # A callback that fits another model, which diverges: the error that
    # ends the outer fit too names the inner model's last finite epoch,
    # and the outer fit, undone, hands nothing of its own over.
    pytest.importorskip("sklearn.callback")
    try:
        from .support import Hook
    except ImportError:
        from support import Hook

    X, y = _regression_data()
    inner = MLPRegressor(hidden_layer_sizes=(3,), solver="sgd", learning_rate_init=0.5,
                         max_iter=50, random_state=0)

    def on_epoch(estimator, fitted, context):
        inner.fit(X, y)

    outer = MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=1e-4,
                         max_iter=5, random_state=0).set_callbacks(Hook(on_epoch))
    with pytest.raises(DivergenceError) as info:
        quiet(outer.fit, X, y)
    kept = info.value.last_finite_model
    assert info.value.epoch > 1 and kept.hidden_layer_sizes == (3,)
    assert kept.n_iter_ == info.value.epoch - 1
    assert str(info.value).count("last_finite_model") == 1
    for est in (inner, outer):
        with pytest.raises(NotFittedError):
            est.predict(X)
