"""fix-260 (rev-259): training hyper-parameters and their error messages.

- An optimizer state of squared gradients (Adam's second moment) that
  overflows is not cured by a lower learning rate: the divergence message
  advised one, and raised the same with ``learning_rate_init=1e-10``.
- ``alpha``, ``l1``, ``epsilon`` and ``clip_grad_norm`` beyond the model's
  dtype became inf in a cast, with NumPy's overflow warning (an error under
  ``-W error``) and, for ``epsilon``, a fit that froze every weight.
"""

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
