"""fix-276: the training loop's hooks (rev-273).

An epoch undone by Ctrl-C gives no warning; a callback's stop request
takes the stopping rule's step as Ctrl-C in the same hook does; a
converted model's ``history_frame`` numbers its epochs as the plot does.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

from fastbp import GradientWarning, MLPClassifier, history_frame
from fastbp.display import TrainingHistoryDisplay, epochs_before

try:
    from .support import quiet
except ImportError:  # run as a plain module
    from support import quiet


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


class _Hook:
    """At the end of epoch ``n`` (1-based), asks to stop (``stop``) or
    raises KeyboardInterrupt (``interrupt``)."""

    def __init__(self, n, action):
        self.n, self.action = n, action

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        if context.task_name != "epoch" or context.task_id != self.n - 1:
            return False
        if self.action == "interrupt":
            raise KeyboardInterrupt
        return True


def test_a_callback_stop_takes_the_stopping_rules_step(digits):
    pytest.importorskip("sklearn.callback")
    X, y = digits
    # tol=10: no epoch improves, so the adaptive rate is divided at the end
    # of the 3rd epoch (the count exceeds n_iter_no_change=1).
    kw = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate="adaptive", tol=10,
              n_iter_no_change=1, shuffle=False, random_state=0)
    plain = quiet(MLPClassifier(max_iter=3, **kw).fit, X, y)
    stopped = quiet(MLPClassifier(max_iter=10, **kw).set_callbacks(_Hook(3, "stop")).fit,
                    X, y)
    interrupted = quiet(MLPClassifier(max_iter=10, **kw)
                        .set_callbacks(_Hook(3, "interrupt")).fit, X, y)
    for est in (plain, stopped, interrupted):
        assert est.n_iter_ == 3
        quiet(est.partial_fit, X, y)
    rates = plain.history_["learning_rate"]
    np.testing.assert_allclose(rates, [1e-3, 1e-3, 1e-3, 2e-4])
    for est in (stopped, interrupted):
        np.testing.assert_array_equal(est.history_["learning_rate"], rates)
        assert est._no_improvement_count == plain._no_improvement_count
        for a, b in zip(est.coefs_ + est.intercepts_, plain.coefs_ + plain.intercepts_):
            np.testing.assert_array_equal(a, b)


def test_history_frame_numbers_a_converted_models_epochs_as_the_plot(digits):
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    from sklearn.neural_network import MLPClassifier as SkMLP

    X, y = digits
    sk = quiet(SkMLP((8,), max_iter=3, random_state=0).fit, X, y)
    model = MLPClassifier.from_sklearn(sk)
    quiet(model.partial_fit, X, y)
    quiet(model.partial_fit, X, y)
    quiet(model.set_params(warm_start=True, max_iter=2).fit, X, y)
    assert len(model.loss_curve_) == 7 and epochs_before(model) == 3

    frame = history_frame(model)
    # fix-293: scikit-learn's 3 epochs first, as the plot draws them.
    np.testing.assert_array_equal(frame["epoch"], [1, 2, 3, 4, 5, 6, 7])
    # Each row's epoch is where the plot puts its loss.
    display = TrainingHistoryDisplay.from_estimator(model)
    x, loss = (np.asarray(v) for v in display.lines_["loss"].get_data())
    for epoch, value in zip(frame["epoch"], frame["loss"]):
        assert loss[x == epoch] == [value]
        assert model.loss_curve_[epoch - 1] == value
    import matplotlib.pyplot as plt

    plt.close("all")


def test_history_frame_of_a_native_fit_still_starts_at_1(digits):
    pytest.importorskip("pandas")
    X, y = digits
    model = quiet(MLPClassifier((8,), max_iter=3, random_state=0).fit, X, y)
    quiet(model.partial_fit, X, y)
    np.testing.assert_array_equal(history_frame(model)["epoch"], [1, 2, 3, 4])
