"""fix-276: the training loop's hooks (rev-273).

An epoch undone by Ctrl-C gives no warning; a callback's stop request
takes the stopping rule's step as Ctrl-C in the same hook does; a
converted model's ``history_frame`` numbers its epochs as the plot does.
"""

import warnings

import pytest
from sklearn.datasets import load_digits

from fastbp import GradientWarning, MLPClassifier

@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


def _caught(fn, *args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn(*args)
    return caught


def _interrupting_scorer(on_call):
    """A validation score that raises KeyboardInterrupt on call ``on_call``
    (1-based): a Ctrl-C landing in an epoch's validation."""
    calls = []

    def scoring(est, X, y):
        calls.append(None)
        if len(calls) == on_call:
            raise KeyboardInterrupt
        return 0.0

    return scoring


def test_an_epoch_undone_by_ctrl_c_gives_no_gradient_warning(digits):
    X, y = digits
    # Inputs 1e-12 of the usual: the first layer's gradient vanishes from
    # the first epoch, and the monitor warns at the 3rd such epoch, the one
    # whose validation Ctrl-C interrupts.
    X = X * 1e-12
    est = MLPClassifier((8, 8, 8), activation="logistic", solver="sgd", max_iter=5,
                        early_stopping=True, scoring=_interrupting_scorer(3),
                        random_state=0)
    caught = _caught(est.fit, X, y)
    assert est.n_iter_ == 2
    assert [w.category for w in caught] == [UserWarning]
    assert "interrupted by user after 2 complete epoch" in str(caught[0].message)
    # The next epoch is the model's 3rd with a vanished gradient: it warns,
    # once.
    est.set_params(early_stopping=False)
    caught = _caught(est.partial_fit, X, y)
    assert [w.category for w in caught] == [GradientWarning]
    assert "layer 1" in str(caught[0].message)
    # And no more: one per fit.
    assert not [w for w in _caught(est.partial_fit, X, y) if w.category is GradientWarning]
