"""TrainingHistoryDisplay on unusual histories and holders: a meta-estimator's
fitted model, a ``--history-out`` CSV read back, histories without gradient
norms, of one epoch or with gaps, and losses spanning orders of magnitude,
with the colours, line styles and axes the plot gives them. Added after
review 181."""

import warnings

import matplotlib
import numpy as np
import pytest
from sklearn.datasets import load_digits

from fastbp import MLPClassifier, TrainingHistoryDisplay

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:200] / 16, y[:200]


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def test_the_validation_score_does_not_join_the_callers_own_twin():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [3, 2, 1])
    mine = ax.twinx()
    mine.plot([1, 2, 3], [100, 200, 300])
    mine.set_ylabel("samples/s")
    history = {"loss": np.array([1.0, 0.5, 0.3]), "val_score": np.array([0.5, 0.6, 0.7])}
    first = TrainingHistoryDisplay(history).plot(ax=ax, name="m")
    twin = first.lines_["val_score"].axes
    assert twin is not mine and twin is not ax
    assert len(mine.lines) == 1
    # A second model's score still joins the first model's twin.
    second = TrainingHistoryDisplay(history).plot(ax=ax, name="n")
    assert second.lines_["val_score"].axes is twin
    assert len(fig.axes) == 3


def test_a_meta_estimators_one_fitted_model_is_plotted(data):
    from sklearn.linear_model import LogisticRegression
    from sklearn.semi_supervised import SelfTrainingClassifier

    X, y = data
    yu = y.copy()
    yu[::3] = -1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        self_training = SelfTrainingClassifier(MLPClassifier((4,), max_iter=3, random_state=0),
                                               max_iter=1).fit(X, yu)
        plain = SelfTrainingClassifier(LogisticRegression(max_iter=50), max_iter=1).fit(X, yu)
    disp = TrainingHistoryDisplay.from_estimator(self_training)
    np.testing.assert_array_equal(disp.lines_["loss"].get_ydata(),
                                  self_training.estimator_.history_["loss"])
    assert disp.figure_._suptitle.get_text() == "SelfTrainingClassifier: MLPClassifier"
    with pytest.raises(ValueError, match=r"nor has its fitted estimator_ \(LogisticRegression\)"):
        TrainingHistoryDisplay.from_estimator(plain)


def test_what_holds_models_names_one_with_a_history_and_counts_them(data):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import StackingClassifier
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression

    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp = MLPClassifier((4,), max_iter=3, random_state=0).fit(X, y)
        stack = StackingClassifier([("lr", LogisticRegression(max_iter=50)),
                                    ("mlp", MLPClassifier((4,), max_iter=3, random_state=0))],
                                   cv=2).fit(X, y)
        calibrated = CalibratedClassifierCV(FrozenEstimator(mlp)).fit(X, y)
    with pytest.raises(ValueError, match=r"holds several fitted models in estimators_; "
                                         r"plot one of them, e\.g\. its estimators_\[1\]\."):
        TrainingHistoryDisplay.from_estimator(stack)
    TrainingHistoryDisplay.from_estimator(stack.estimators_[1])  # what it names plots
    with pytest.raises(ValueError, match=r"holds one fitted model in calibrated_classifiers_; "
                                         r"plot it: its calibrated_classifiers_\[0\]\.estimator\."):
        TrainingHistoryDisplay.from_estimator(calibrated)


def test_a_history_out_csv_read_back_plots_its_gradient_norms(tmp_path):
    import pandas as pd

    # The columns fastbp train --history-out writes.
    frame = pd.DataFrame({"epoch": [1, 2, 3], "loss": [1.0, 0.6, 0.4],
                          "val_loss": [1.1, 0.7, 0.5], "val_score": [0.5, 0.6, 0.7],
                          "learning_rate": [1e-3, 1e-3, 1e-3], "epoch_time": [0.1, 0.1, 0.1],
                          "grad_norm_layer1": [0.5, 0.2, 0.1],
                          "grad_norm_layer2": [0.3, np.nan, 0.05],
                          "dead_fraction": [0.0, 0.0, 0.1]})
    frame.to_csv(tmp_path / "h.csv", index=False)
    history = pd.read_csv(tmp_path / "h.csv").to_dict("list")
    disp = TrainingHistoryDisplay(history).plot()
    assert [line.get_label() for line in disp.lines_["grad_norm"]] == ["layer 1", "layer 2"]
    np.testing.assert_array_equal(disp.lines_["grad_norm"][1].get_ydata(), [0.3, np.nan, 0.05])
    assert not disp.axes_[1].texts
    assert disp.axes_[1].get_yscale() == "log"
    assert "grad_norm" not in history  # the caller's dict is left as it was


def test_a_history_without_gradient_norms_says_so():
    disp = TrainingHistoryDisplay({"loss": [1.0, 0.5]}).plot()
    assert [t.get_text() for t in disp.axes_[1].texts] == ["no gradient norms in this history"]
    assert [t.get_text() for t in disp.axes_[2].texts] == ["no learning rate in this history"]
    # Drawn again onto the same axes: still one text per panel.
    TrainingHistoryDisplay({"loss": [1.0, 0.5]}).plot(ax=disp.axes_)
    assert len(disp.axes_[1].texts) == 1
    with pytest.raises(ValueError, match=r"grad_norm_layer1 to grad_norm_layer2"):
        TrainingHistoryDisplay({"loss": [1.0], "grad_norm_layer1": [1.0],
                                "grad_norm_layer3": [1.0]}).plot()
    with pytest.raises(ValueError, match=r"history\['grad_norm_layer2'\] has shape \(1,\)"):
        TrainingHistoryDisplay({"loss": [1.0, 0.5], "grad_norm_layer1": [1.0, 0.5],
                                "grad_norm_layer2": [1.0]}).plot()
    with pytest.raises(ValueError, match=r"history\['loss'\] must hold numbers"):
        TrainingHistoryDisplay({"loss": ["a", "b"]}).plot()


def _shown_points(line):
    """The indices of ``line``'s data drawn as markers (none without one)."""
    if line.get_marker() in ("None", "", None, " "):
        return []
    every = line.get_markevery()
    return list(range(len(line.get_ydata()))) if every is None else list(every)


def test_a_one_epoch_history_shows_its_points(data):
    import matplotlib.pyplot as plt

    X, y = data
    y = (y > 4).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier(hidden_layer_sizes=(8,), random_state=0).partial_fit(
            X, y, classes=[0, 1])
    disp = TrainingHistoryDisplay.from_estimator(model)
    drawn = [disp.lines_["loss"], disp.lines_["learning_rate"], *disp.lines_["grad_norm"]]
    assert all(_shown_points(line) == [0] for line in drawn)
    disp.figure_.canvas.draw()   # the legend draws such a line too
    # Whole epochs only on the x axis: 1, not 0.96 ... 1.04.
    ticks = [t for t in disp.axes_[0].get_xticks()
             if disp.axes_[0].get_xlim()[0] <= t <= disp.axes_[0].get_xlim()[1]]
    assert ticks == [1]
    plt.close(disp.figure_)


def test_finite_points_between_gaps_show_and_a_marker_given_is_kept():
    history = {"loss": np.array([1.0, np.inf, 0.5, np.nan]),
               "val_score": np.array([0.1, np.nan, np.inf, 0.3]),
               "grad_norm": np.array([[1.0, 1.0], [np.inf, 2.0], [np.nan, 3.0], [1e-3, 4.0]])}
    disp = TrainingHistoryDisplay(history).plot()
    assert _shown_points(disp.lines_["loss"]) == [0, 2]
    assert _shown_points(disp.lines_["val_score"]) == [0, 3]
    layer1, layer2 = disp.lines_["grad_norm"]
    assert _shown_points(layer1) == [0, 3]
    assert _shown_points(layer2) == []   # a joined line needs no marker
    disp.figure_.canvas.draw()
    # The caller's marker is theirs, on every point.
    disp = TrainingHistoryDisplay(history).plot(marker="s")
    assert disp.lines_["loss"].get_marker() == "s"
    assert _shown_points(disp.lines_["loss"]) == [0, 1, 2, 3]


def test_a_model_keeps_one_colour_and_its_layers_differ_by_linestyle():
    history = {"loss": np.array([1.0, 0.5, 0.3]), "learning_rate": np.array([1e-3] * 3),
               "grad_norm": np.array([[1.0, 2.0, 3.0]] * 3)}
    red = TrainingHistoryDisplay(history).plot(c="red")
    layers = red.lines_["grad_norm"]
    assert {line.get_color() for line in layers} == {"red"}
    assert len({line.get_linestyle() for line in layers}) == 3
    first = TrainingHistoryDisplay(history).plot(name="a")
    second = TrainingHistoryDisplay(history).plot(ax=first.axes_, name="b")
    for disp in (first, second):
        colour = disp.lines_["loss"].get_color()
        assert {line.get_color() for line in disp.lines_["grad_norm"]} == {colour}
        assert disp.lines_["learning_rate"].get_color() == colour
    assert first.lines_["loss"].get_color() != second.lines_["loss"].get_color()
    # A linestyle given is the first layer's; the others still differ.
    dashdot = TrainingHistoryDisplay(history).plot(ls="-.")
    styles = [line.get_linestyle() for line in dashdot.lines_["grad_norm"]]
    assert styles[0] == "-." and len(set(styles)) == 3


def test_losses_spanning_orders_of_magnitude_get_a_log_axis():
    import matplotlib.pyplot as plt

    diverged = {"loss": np.array([1.2e6, 3e40, 2.3e223, np.nan])}
    disp = TrainingHistoryDisplay(diverged).plot()
    assert disp.axes_[0].get_yscale() == "log"
    # A model with a non-positive loss on the same axes: linear again.
    TrainingHistoryDisplay({"loss": np.array([0.0, 1.0])}).plot(ax=disp.axes_, name="b")
    assert disp.axes_[0].get_yscale() == "linear"
    # An ordinary fit stays linear; a scale the caller set stays.
    assert TrainingHistoryDisplay({"loss": [1.0, 0.5]}).plot().axes_[0].get_yscale() == "linear"
    fig, ax = plt.subplots()
    ax.set_yscale("symlog")
    TrainingHistoryDisplay(diverged).plot(ax=ax)
    assert ax.get_yscale() == "symlog"
