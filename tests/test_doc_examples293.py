"""fix-293 (rev-291): ``history_frame`` tabulates the rows the Display plots,
a model converted from scikit-learn's epochs included; the main public
objects' Examples run (and are run here); the estimators' parameter types
render cleanly."""


import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.neural_network import MLPClassifier as SkMLP

from fastbp import MLPClassifier, history_frame
from fastbp.display import TrainingHistoryDisplay

try:
    from .support import quiet
except ImportError:  # run as a plain module
    from support import quiet


# --- history_frame of a model converted from scikit-learn (finding 1) ---

@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


def _converted(digits, early_stopping):
    X, y = digits
    sk = quiet(SkMLP((8,), solver="sgd", early_stopping=early_stopping, max_iter=4,
                     random_state=0).fit, X, y)
    return MLPClassifier.from_sklearn(sk)


def _plotted_loss(model):
    import matplotlib.pyplot as plt

    display = TrainingHistoryDisplay.from_estimator(model)
    try:
        return [np.asarray(v, dtype=float) for v in display.lines_["loss"].get_data()]
    finally:
        plt.close(display.figure_)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_history_frame_of_a_converted_model_has_scikit_learns_epochs(digits, early_stopping):
    pytest.importorskip("pandas")
    model = _converted(digits, early_stopping)
    frame = history_frame(model)
    assert len(frame) == len(model.loss_curve_) == 4
    np.testing.assert_array_equal(frame["epoch"], [1, 2, 3, 4])
    np.testing.assert_array_equal(frame["loss"], model.loss_curve_)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_history_frame_of_a_converted_model_trained_on_is_what_the_plot_draws(
        digits, early_stopping):
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    model = _converted(digits, early_stopping)
    if early_stopping:
        # partial_fit refuses early stopping.
        model.set_params(early_stopping=False)
    quiet(model.partial_fit, *digits)
    quiet(model.partial_fit, *digits)
    frame = history_frame(model)
    x, loss = _plotted_loss(model)
    assert len(frame) == len(model.loss_curve_) == 6
    np.testing.assert_array_equal(frame["epoch"], x)
    np.testing.assert_array_equal(frame["loss"], loss)
    np.testing.assert_array_equal(frame["loss"], model.loss_curve_)
    # What scikit-learn did not record is NaN, fastbp's epochs have it.
    rates = frame["learning_rate"].to_numpy()
    assert np.isnan(rates[:4]).all() and np.isfinite(rates[4:]).all()
    # And the frame read back draws the same.
    import matplotlib.pyplot as plt

    back = TrainingHistoryDisplay(frame.to_dict("list")).plot()
    try:
        np.testing.assert_array_equal(back.lines_["loss"].get_xdata(), x)
    finally:
        plt.close(back.figure_)
