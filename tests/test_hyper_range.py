"""fix-260 (rev-259): training hyper-parameters and their error messages.

- An optimizer state of squared gradients (Adam's second moment) that
  overflows is not cured by a lower learning rate: the divergence message
  advised one, and raised the same with ``learning_rate_init=1e-10``.
- ``alpha``, ``l1``, ``epsilon`` and ``clip_grad_norm`` beyond the model's
  dtype became inf in a cast, with NumPy's overflow warning (an error under
  ``-W error``) and, for ``epsilon``, a fit that froze every weight.
"""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_regression

from fastbp import DivergenceError, MLPClassifier, MLPRegressor

Y = [0, 1] * 10


def _huge_X():
    # Adam's g^2 overflows float32 at once; the loss and weights stay finite.
    return (np.random.RandomState(0).randn(20, 3) * 1e30).astype(np.float32)


def _X32():
    return np.random.RandomState(0).randn(20, 3).astype(np.float32)


@pytest.mark.parametrize("lr", [1e-3, 1e-10])
def test_state_overflow_advises_scaling_and_clipping_not_the_rate(lr):
    clf = MLPClassifier((4,), max_iter=5, learning_rate_init=lr, random_state=0)
    with pytest.raises(DivergenceError) as info:
        clf.fit(_huge_X(), Y)
    message = str(info.value)
    assert "the optimizer state overflowed" in message
    assert "learning_rate_init (now" not in message
    assert "learning rate does not scale" in message
    scaling, clipping = message.find("standardise X"), message.find("set clip_grad_norm")
    assert 0 <= scaling < clipping


def test_state_overflow_with_clipping_set_advises_a_lower_clip():
    # A clip far above the gradients' scale lets g^2 overflow still.
    clf = MLPClassifier((4,), max_iter=5, clip_grad_norm=1e30, random_state=0)
    with pytest.raises(DivergenceError, match=r"lower clip_grad_norm \(now 1e\+30\)") as info:
        clf.fit(_huge_X(), Y)
    assert "learning_rate_init (now" not in str(info.value)


def test_clipping_trains_where_the_state_overflowed():
    clf = MLPClassifier((4,), max_iter=5, clip_grad_norm=1.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(_huge_X(), Y)
    assert np.all(np.isfinite(clf.loss_curve_))


def test_diverged_weights_still_advise_a_lower_rate():
    # Every other divergence keeps its advice.
    X, y = make_regression(200, 5, noise=5, random_state=0)
    with pytest.raises(DivergenceError, match=r"lower learning_rate_init \(now 0\.5\)"):
        MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.5, max_iter=50,
                     random_state=0).fit(X, y)


CASES = [(solver, name, value)
         for solver in ("sgd", "adam")
         for name, value in (("alpha", 1e40), ("l1", 1e40), ("epsilon", 1e40),
                             ("clip_grad_norm", 1e39))
         if not (solver == "sgd" and name == "epsilon")]
CASES += [("lbfgs", "alpha", 1e40), ("lbfgs", "l1", 1e40)]


@pytest.mark.parametrize("solver, name, value", CASES)
def test_beyond_float32_is_refused_naming_the_parameter(solver, name, value):
    clf = MLPClassifier((4,), solver=solver, max_iter=3, random_state=0, **{name: value})
    with warnings.catch_warnings():
        # NumPy's cast warning was the only word, an error here.
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError) as info:
            clf.fit(_X32(), Y)
    message = str(info.value)
    assert message.startswith(f"{name}={value!r} is beyond the largest float32 (3.40282e+38)")
    assert "float64" in message
    assert not hasattr(clf, "coefs_")


def test_sgd_ignores_epsilon_as_before():
    # sgd reads no epsilon: one beyond float32 is neither cast nor refused.
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        a = MLPClassifier((4,), solver="sgd", max_iter=3, random_state=0,
                          epsilon=1e40).fit(_X32(), Y)
        b = MLPClassifier((4,), solver="sgd", max_iter=3, random_state=0).fit(_X32(), Y)
    for ca, cb in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(ca, cb)


def test_epsilon_beyond_float32_trains_a_float64_model():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        clf = MLPClassifier((4,), max_iter=3, epsilon=1e40,
                            random_state=0).fit(_X32().astype(np.float64), Y)
    assert clf.coefs_[0].dtype == np.float64


def _state(est):
    opt = est._optimizer
    return (pickle.dumps(est), [c.copy() for c in est.coefs_], opt.state_1.copy(),
            opt.state_2.copy(), opt.t, list(est.loss_curve_))


def _assert_same(a, b):
    assert a[0] == b[0]
    for x, y in zip(a[1], b[1]):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a[2], b[2])
    np.testing.assert_array_equal(a[3], b[3])
    assert a[4:] == b[4:]


@pytest.mark.parametrize("name, value", [("epsilon", 1e40), ("alpha", 1e40),
                                         ("clip_grad_norm", 1e39)])
@pytest.mark.parametrize("call", ["warm_fit", "partial_fit"])
def test_refusal_leaves_a_fitted_model_unchanged(name, value, call):
    X = _X32()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        clf = MLPClassifier((4,), max_iter=3, random_state=0, warm_start=True)
        twin = MLPClassifier((4,), max_iter=3, random_state=0, warm_start=True)
        if call == "partial_fit":
            clf.partial_fit(X, Y, classes=[0, 1])
            twin.partial_fit(X, Y, classes=[0, 1])
        else:
            clf.fit(X, Y)
            twin.fit(X, Y)
    before = _state(clf)
    clf.set_params(**{name: value})
    with pytest.raises(ValueError, match=f"{name}="):
        getattr(clf, "fit" if call == "warm_fit" else call)(X, Y)
    clf.set_params(**{name: MLPClassifier().get_params()[name]})
    _assert_same(_state(clf), before)
    # And it goes on as a model that never had the failed call.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        clf.partial_fit(X, Y)
        twin.partial_fit(X, Y)
    for a, b in zip(clf.coefs_, twin.coefs_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("solver", ["adamw", "adam", "lbfgs"])
def test_alpha_beyond_dtype_with_sample_weight_names_alpha_not_the_weights(solver):
    # fix-260's report: with sample_weight, the check of the penalties
    # scaled by the weights ran first and blamed "sample_weight is too
    # small", for adamw too, whose alpha the weights never scale.
    X = _X32()
    clf = MLPClassifier((4,), solver=solver, alpha=1e39, max_iter=2, random_state=0)
    with pytest.raises(ValueError, match=r"alpha=1e\+39 is beyond the largest float32"):
        clf.fit(X, Y, sample_weight=np.full(len(X), 1e-30))
