"""Review 194: to_sklearn carries an Adam stream's state across a change of
``learning_rate`` among scikit-learn's schedules, which partial_fit takes
as no change (they act on 'sgd' alone)."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from fastbp import MLPClassifier

try:
    from .support import quiet
except ImportError:  # run as a plain module
    from support import quiet


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:200] / 16.0, y[:200]


def _stream(X, y, **params):
    est = MLPClassifier((8,), batch_size=50, learning_rate_init=0.01, random_state=0,
                        **params)
    for _ in range(2):
        quiet(est.partial_fit, X, y, classes=np.unique(y))
    return est


@pytest.mark.parametrize("was, now", [("constant", "constant"), ("constant", "adaptive"),
                                      ("adaptive", "invscaling")])
def test_to_sklearn_of_an_adam_stream_keeps_its_state_across_a_schedule_change(
        digits, was, now):
    # The copy had no Adam state for a changed name before: its partial_fit
    # restarted Adam's moments where the model's goes on with them.
    X, y = digits
    est = _stream(X, y, learning_rate=was)
    est.set_params(learning_rate=now)
    sk = est.to_sklearn()
    assert hasattr(sk, "_optimizer")
    quiet(est.partial_fit, X, y)
    quiet(sk.partial_fit, X, y)
    for a, b in zip(est.coefs_ + est.intercepts_, sk.coefs_ + sk.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)
    assert sk.loss_ == pytest.approx(est.loss_, rel=1e-13)


def test_to_sklearn_of_an_sgd_stream_drops_its_state_for_a_schedule_change(digits):
    # SGD's schedules differ (partial_fit refuses the change): the copy's
    # velocities and rate would not be the ones its schedule names.
    X, y = digits
    est = _stream(X, y, solver="sgd", learning_rate="constant")
    est.set_params(learning_rate="invscaling")
    assert not hasattr(est.to_sklearn(), "_optimizer")
    with pytest.raises(ValueError, match="learning_rate changed from 'constant' to "
                                         "'invscaling' within a partial_fit stream"):
        est.partial_fit(X, y)
