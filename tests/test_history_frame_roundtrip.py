"""A ``history_frame`` read back into ``TrainingHistoryDisplay`` (the
``--history-out`` round trip the README shows) plots each row at its own
epoch: a model converted from scikit-learn has a row for each epoch
scikit-learn trained, then its own, where ``from_estimator`` puts them
(fix-276 numbered its own rows after scikit-learn's; fix-293 added those).
"""

import matplotlib
import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.neural_network import MLPClassifier as SkMLP

from fastbp import MLPClassifier, history_frame
from fastbp.display import TrainingHistoryDisplay

try:
    from .support import quiet
except ImportError:  # run as a plain module
    from support import quiet

matplotlib.use("Agg")


def _loss_line(display):
    return [np.asarray(v) for v in display.lines_["loss"].get_data()]


def test_a_converted_models_frame_read_back_plots_at_its_epochs(tmp_path):
    import matplotlib.pyplot as plt

    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16.0, y[:300]
    sk = quiet(SkMLP((8,), max_iter=3, random_state=0).fit, X, y)
    model = MLPClassifier.from_sklearn(sk)
    quiet(model.partial_fit, X, y)
    quiet(model.partial_fit, X, y)
    path = tmp_path / "h.csv"
    history_frame(model).to_csv(path, index=False)

    back = TrainingHistoryDisplay(pd.read_csv(path).to_dict("list")).plot()
    x, loss = _loss_line(back)
    # fix-293: scikit-learn's 3 epochs first, as the plot draws them.
    np.testing.assert_array_equal(x, [1, 2, 3, 4, 5])
    # Where the model's own plot has these losses.
    x_model, loss_model = _loss_line(TrainingHistoryDisplay.from_estimator(model))
    np.testing.assert_array_equal(x, x_model)
    np.testing.assert_array_equal(loss, loss_model)
    np.testing.assert_array_equal(loss, model.loss_curve_)
    plt.close("all")


def test_a_history_without_its_epochs_plots_from_1():
    import matplotlib.pyplot as plt

    display = TrainingHistoryDisplay({"loss": [3.0, 2.0, 1.5]}).plot()
    np.testing.assert_array_equal(_loss_line(display)[0], [1, 2, 3])
    plt.close("all")
