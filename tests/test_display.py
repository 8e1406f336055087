"""TrainingHistoryDisplay, rendered with the Agg backend."""

import warnings

import matplotlib
import numpy as np
import pytest
from sklearn.datasets import load_digits

from fastbp import MLPClassifier, TrainingHistoryDisplay

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def fitted():
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MLPClassifier((16, 8), max_iter=6, early_stopping=True, learning_rate="cosine",
                             random_state=0).fit(X / 16, y)


def test_plots_exactly_the_history(fitted):
    import matplotlib.pyplot as plt

    disp = TrainingHistoryDisplay.from_estimator(fitted)
    h = fitted.history_
    n = len(h["loss"])
    np.testing.assert_array_equal(disp.lines_["loss"].get_ydata(), h["loss"])
    np.testing.assert_array_equal(disp.lines_["loss"].get_xdata(), np.arange(1, n + 1))
    np.testing.assert_array_equal(disp.lines_["val_loss"].get_ydata(), h["val_loss"])
    np.testing.assert_array_equal(disp.lines_["val_score"].get_ydata(), h["val_score"])
    assert len(disp.lines_["grad_norm"]) == h["grad_norm"].shape[1] == 3
    for layer, line in enumerate(disp.lines_["grad_norm"]):
        np.testing.assert_array_equal(line.get_ydata(), h["grad_norm"][:, layer])
    assert disp.axes_[1].get_yscale() == "log"
    np.testing.assert_array_equal(disp.lines_["learning_rate"].get_ydata(),
                                  h["learning_rate"])
    assert disp.figure_._suptitle.get_text() == "MLPClassifier"
    plt.close(disp.figure_)


def test_draws_on_given_axes(fitted, tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(3, 1)
    disp = TrainingHistoryDisplay.from_estimator(fitted, ax=ax, title="run 1")
    assert disp.figure_ is fig and disp.axes_[0] is ax[0]
    fig.savefig(tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="ax must be one Axes .* or hold 3 Axes"):
        TrainingHistoryDisplay.from_estimator(fitted, ax=ax[:2])
    plt.close(fig)


def test_one_axes_gets_the_loss_panel(fitted):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    disp = TrainingHistoryDisplay.from_estimator(fitted, ax=ax)
    assert list(disp.axes_) == [ax] and disp.figure_ is fig
    np.testing.assert_array_equal(disp.lines_["loss"].get_ydata(), fitted.history_["loss"])
    assert "grad_norm" not in disp.lines_ and "learning_rate" not in disp.lines_
    assert len(fig.axes) == 2   # the loss Axes and its validation-score twin
    plt.close(fig)


def test_models_compared_on_the_same_axes(fitted):
    # scikit-learn's Displays overlay with ``ax=`` and ``name=``: the second
    # model joins the first one's validation-score axis (one twin, not one
    # per plot), the legends name both, and each model keeps one colour.
    import matplotlib.pyplot as plt

    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = MLPClassifier((16, 8), max_iter=4, early_stopping=True, solver="sgd",
                              random_state=0).fit(X / 16, y)
    first = TrainingHistoryDisplay.from_estimator(fitted, name="adam")
    second = TrainingHistoryDisplay.from_estimator(other, ax=first.axes_, name="sgd")
    fig = first.figure_
    assert second.figure_ is fig and len(fig.axes) == 4
    assert second.lines_["val_score"].axes is first.lines_["val_score"].axes
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["adam: training loss + penalty", "adam: validation loss",
                      "sgd: training loss + penalty", "sgd: validation loss",
                      "adam: validation score", "sgd: validation score"]
    for disp in (first, second):
        colors = {disp.lines_[k].get_color() for k in ("loss", "val_loss", "val_score")}
        assert len(colors) == 1
        assert [disp.lines_[k].get_linestyle() for k in ("loss", "val_loss", "val_score")] == [
            "-", "--", ":"]
    assert first.lines_["loss"].get_color() != second.lines_["loss"].get_color()
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == [
        "adam: layer 1", "adam: layer 2", "adam: layer 3",
        "sgd: layer 1", "sgd: layer 2", "sgd: layer 3"]
    assert [t.get_text() for t in fig.axes[2].get_legend().get_texts()] == ["adam", "sgd"]
    # The figure keeps its title; a third plot onto the axes keeps one twin.
    assert fig._suptitle.get_text() == "MLPClassifier"
    TrainingHistoryDisplay.from_estimator(other, ax=first.axes_, name="again")
    assert len(fig.axes) == 4
    plt.close(fig)


def test_a_panel_said_empty_fills_when_a_model_records_it(fitted):
    import matplotlib.pyplot as plt

    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lbfgs = MLPClassifier((4,), solver="lbfgs", max_iter=3).fit(X, y)
    disp = TrainingHistoryDisplay.from_estimator(lbfgs, name="lbfgs")
    assert all(a.texts for a in disp.axes_[1:])
    TrainingHistoryDisplay.from_estimator(fitted, ax=disp.axes_, name="adam")
    assert not any(a.texts for a in disp.axes_[1:])
    plt.close(disp.figure_)


def test_line_properties_pass_through_and_an_empty_history_is_named(fitted):
    import matplotlib.pyplot as plt

    # helper-38: scikit-learn's Displays take matplotlib keywords.
    disp = TrainingHistoryDisplay.from_estimator(fitted, linewidth=3, alpha=0.5)
    lines = [disp.lines_["loss"], disp.lines_["val_loss"], disp.lines_["val_score"],
             disp.lines_["learning_rate"], *disp.lines_["grad_norm"]]
    assert all(line.get_linewidth() == 3 and line.get_alpha() == 0.5 for line in lines)
    assert disp.lines_["loss"].get_label() == "training loss + penalty"
    plt.close(disp.figure_)
    with pytest.raises(ValueError, match="history holds no 'loss'"):
        TrainingHistoryDisplay({}).plot()


def test_unfitted_and_lbfgs(fitted):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        TrainingHistoryDisplay.from_estimator(MLPClassifier())
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lbfgs = MLPClassifier((4,), solver="lbfgs", max_iter=3).fit(X, y)
    disp = TrainingHistoryDisplay.from_estimator(lbfgs)   # one point per iteration
    ydata = disp.lines_["loss"].get_ydata().tolist()
    assert len(ydata) == lbfgs.n_iter_ == 3
    assert ydata == lbfgs.history_["loss"].tolist() and ydata[-1] == lbfgs.loss_
    assert ydata[0] > ydata[-1]
    assert disp.axes_[0].get_xlabel() == "iteration"
    for empty in disp.axes_[1:]:  # no gradient norms or learning rate: said so
        assert [t.get_text() for t in empty.texts] == ["not recorded for this model"]


def test_what_holds_a_model_plots_the_model():
    # A Pipeline (what ``fastbp train --data`` saves), a search, a target
    # transformer: the model inside them, named after both.
    import matplotlib.pyplot as plt
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from fastbp import MLPRegressor

    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = make_pipeline(StandardScaler(), MLPClassifier((4,), max_iter=3)).fit(X, y)
        search = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-2]}, cv=2).fit(X, y)
        ttr = TransformedTargetRegressor(MLPRegressor(hidden_layer_sizes=(4,), max_iter=3),
                                         transformer=StandardScaler()).fit(X, y * 10.0)
    for holder, model in ((pipe, pipe[-1]), (search, search.best_estimator_[-1]),
                          (ttr, ttr.regressor_)):
        disp = TrainingHistoryDisplay.from_estimator(holder)
        np.testing.assert_array_equal(disp.lines_["loss"].get_ydata(), model.history_["loss"])
        assert disp.figure_._suptitle.get_text() == (
            f"{type(holder).__name__}: {type(model).__name__}")
        plt.close(disp.figure_)


def test_a_model_from_scikit_learn_plots_its_loss_curve():
    import matplotlib.pyplot as plt
    from sklearn.neural_network import MLPClassifier as SkMLP

    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = SkMLP((4,), max_iter=4, early_stopping=True, random_state=0).fit(X / 16, y)
    model = MLPClassifier.from_sklearn(sk)
    disp = TrainingHistoryDisplay.from_estimator(model)
    np.testing.assert_array_equal(disp.lines_["loss"].get_ydata(), sk.loss_curve_)
    np.testing.assert_array_equal(disp.lines_["val_score"].get_ydata(), sk.validation_scores_)
    plt.close(disp.figure_)


def test_a_model_from_scikit_learn_trained_on_plots_every_epoch():
    # helper-38: the epochs scikit-learn trained, then fastbp's partial_fit
    # epochs at their own numbers (not from 1), with NaN gaps where
    # scikit-learn recorded nothing (gradient norms, learning rate).
    import matplotlib.pyplot as plt
    from sklearn.neural_network import MLPClassifier as SkMLP

    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = SkMLP((4,), max_iter=4, random_state=0).fit(X / 16, y)
    model = MLPClassifier.from_sklearn(sk)
    model.partial_fit(X / 16, y)
    model.partial_fit(X / 16, y)
    assert len(model.history_["loss"]) == 2 and len(model.loss_curve_) == 6
    disp = TrainingHistoryDisplay.from_estimator(model)
    np.testing.assert_array_equal(disp.lines_["loss"].get_ydata(), model.loss_curve_)
    np.testing.assert_array_equal(disp.lines_["loss"].get_xdata(), np.arange(1, 7))
    rates = disp.lines_["learning_rate"].get_ydata()
    assert np.isnan(rates[:4]).all()
    np.testing.assert_array_equal(rates[4:], model.history_["learning_rate"])
    grad = disp.lines_["grad_norm"][0].get_ydata()
    assert np.isnan(grad[:4]).all()
    np.testing.assert_array_equal(grad[4:], model.history_["grad_norm"][:, 0])
    plt.close(disp.figure_)


def test_scores_that_miss_epochs_are_not_placed_and_steps_are_named(fitted):
    # helper-44: a model converted from scikit-learn, then warm-started with
    # early stopping, has validation scores for its last epochs only: the
    # display raised NumPy's broadcast error. An lbfgs model drawn beside
    # an epoch-based one names both steps on the shared axes.
    import matplotlib.pyplot as plt
    from sklearn.neural_network import MLPClassifier as SkMLP

    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = SkMLP((4,), max_iter=5, random_state=0).fit(X / 16, y)
        model = MLPClassifier.from_sklearn(sk).set_params(warm_start=True, max_iter=3,
                                                          early_stopping=True)
        model.fit(X / 16, y)
        lbfgs = MLPClassifier((4,), solver="lbfgs", max_iter=3).fit(X, y)
    assert len(model.loss_curve_) == 8 and len(model.validation_scores_) == 3
    disp = TrainingHistoryDisplay.from_estimator(model, name="converted")
    scores = disp.lines_["val_score"].get_ydata()
    assert len(scores) == 8 and np.isnan(scores[:5]).all()
    np.testing.assert_array_equal(scores[5:], model.history_["val_score"])
    TrainingHistoryDisplay.from_estimator(lbfgs, ax=disp.axes_, name="lbfgs")
    assert disp.axes_[0].get_xlabel() == "epoch / iteration"
    plt.close(disp.figure_)


def test_an_lbfgs_fit_after_a_stochastic_one_plots_its_own_iterations():
    # helper-54: an L-BFGS fit leaves the earlier adam fit's loss_curve_ (as
    # scikit-learn does); the display took that longer curve for epochs
    # trained before and plotted the 20 adam epochs, labelled "iteration".
    import matplotlib.pyplot as plt

    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier((8,), max_iter=20, random_state=0).fit(X / 16, y)
        adam_curve = list(model.loss_curve_)
        for warm_start in (False, True):
            model.set_params(solver="lbfgs", max_iter=5, warm_start=warm_start).fit(X / 16, y)
            assert model.loss_curve_ == adam_curve  # what misled the display
            disp = TrainingHistoryDisplay.from_estimator(model)
            np.testing.assert_array_equal(disp.lines_["loss"].get_ydata(),
                                          model.history_["loss"])
            assert len(model.history_["loss"]) == 5
            assert disp.axes_[0].get_xlabel() == "iteration"
            plt.close(disp.figure_)
        # The axis names what the history records, not the solver set since.
        model.set_params(solver="adam", max_iter=3, warm_start=False).fit(X / 16, y)
        model.set_params(solver="lbfgs")
    disp = TrainingHistoryDisplay.from_estimator(model)
    assert disp.axes_[0].get_xlabel() == "epoch"
    plt.close(disp.figure_)


def test_short_line_property_names_and_label(fitted):
    # helper-54: c= and ls= raised "Got both 'color' and 'c'" (and left the
    # new figure open), and label= named every curve alike.
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    disp = TrainingHistoryDisplay.from_estimator(fitted, c="red", ls="-.", lw=2)
    for line in (disp.lines_["loss"], disp.lines_["val_loss"], disp.lines_["val_score"]):
        assert line.get_color() == "red" and line.get_linewidth() == 2
    assert disp.lines_["loss"].get_linestyle() == "-."
    plt.close(disp.figure_)
    disp = TrainingHistoryDisplay.from_estimator(fitted, label="mine")
    assert [t.get_text() for t in disp.axes_[0].get_legend().get_texts()] == [
        "mine: training loss + penalty", "mine: validation loss", "mine: validation score"]
    plt.close(disp.figure_)
    with pytest.raises(TypeError, match="pass name= or label=, not both"):
        TrainingHistoryDisplay.from_estimator(fitted, name="a", label="b")
    with pytest.raises(AttributeError):
        TrainingHistoryDisplay.from_estimator(fitted, no_such_property=1)
    assert plt.get_fignums() == before  # the failed plot's figure is closed


def test_the_legend_is_drawn_above_the_score_curve(fitted):
    # helper-54: the score's twin axis is drawn above the loss axis, and the
    # dotted score curve crossed the legend.
    import matplotlib.pyplot as plt

    disp = TrainingHistoryDisplay.from_estimator(fitted)
    twin = disp.lines_["val_score"].axes
    assert twin is not disp.axes_[0]
    assert disp.axes_[0].get_zorder() > twin.get_zorder()
    assert disp.axes_[0].get_legend() is not None and twin.get_legend() is None
    assert not disp.axes_[0].patch.get_visible()  # the twin's curve still shows
    plt.close(disp.figure_)


def test_an_lbfgs_fit_does_not_plot_the_earlier_fits_validation_scores():
    # helper-68: L-BFGS leaves the earlier adam fit's validation_scores_ (as
    # scikit-learn does); as many as the L-BFGS iterations, they were drawn
    # against them as this fit's scores.
    import matplotlib.pyplot as plt

    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier((16,), max_iter=5, random_state=0, early_stopping=True,
                              n_iter_no_change=50).fit(X / 16, y)
        model.set_params(solver="lbfgs").fit(X / 16, y)
    assert len(model.validation_scores_) == len(model.history_["loss"]) == 5
    disp = TrainingHistoryDisplay.from_estimator(model)
    assert set(disp.lines_) == {"loss", "grad_norm"} and not disp.lines_["grad_norm"]
    assert len(disp.figure_.axes) == 3  # no validation-score twin
    plt.close(disp.figure_)


def test_the_training_loss_is_labelled_with_its_penalty(fitted):
    # helper-68: history_['loss'] holds the L2/L1 penalty, 'val_loss' the
    # data loss alone; drawn side by side without a word, a sizeable alpha
    # put the validation loss below the training loss.
    import matplotlib.pyplot as plt

    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = MLPClassifier((16,), max_iter=3, alpha=0.0, early_stopping=True,
                              random_state=0).fit(X / 16, y)
    for model, training in ((fitted, "training loss + penalty"), (plain, "training loss")):
        disp = TrainingHistoryDisplay.from_estimator(model)
        assert [t.get_text() for t in disp.axes_[0].get_legend().get_texts()] == [
            training, "validation loss", "validation score"]
        plt.close(disp.figure_)
    from fastbp.display import _loss_has_penalty

    assert _loss_has_penalty(MLPClassifier(alpha=0.0, l1=1e-3))
    assert not _loss_has_penalty(MLPClassifier(solver="adamw", alpha=0.1))  # a decay
    assert _loss_has_penalty(MLPClassifier(solver="lbfgs", alpha=0.1))
    disp = TrainingHistoryDisplay({"loss": [2.0, 1.0]}, penalized=True).plot()
    assert disp.lines_["loss"].get_label() == "training loss + penalty"
    plt.close(disp.figure_)


def test_the_penalty_label_follows_the_fit_not_parameters_set_since():
    # helper-78: the label read alpha, l1 and solver as set at plot time:
    # set_params(alpha=0.5) after a fit without a penalty labelled its
    # curve "+ penalty", and adam set to adamw since lost it.
    import matplotlib.pyplot as plt

    X, y = load_digits(return_X_y=True)
    for trained, changed, expected in ((dict(alpha=0.0), dict(alpha=0.5), "training loss"),
                                       (dict(alpha=0.1), dict(solver="adamw"),
                                        "training loss + penalty")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = MLPClassifier((8,), max_iter=2, random_state=0, **trained).fit(X / 16, y)
        model.set_params(**changed)
        disp = TrainingHistoryDisplay.from_estimator(model)
        assert disp.lines_["loss"].get_label() == expected
        plt.close(disp.figure_)


def test_estimator_name_names_the_curves_when_plot_gets_no_name():
    # helper-68: documented as the curves' name when plot gets no name, it
    # titled the figure only, and two runs on one axes both read "training
    # loss".
    import matplotlib.pyplot as plt

    first = TrainingHistoryDisplay({"loss": [3.0, 2.0], "learning_rate": [0.1, 0.1]},
                                   estimator_name="run A").plot()
    TrainingHistoryDisplay({"loss": [2.5, 1.5], "learning_rate": [0.2, 0.2]},
                           estimator_name="run B").plot(ax=first.axes_)
    assert [t.get_text() for t in first.axes_[0].get_legend().get_texts()] == [
        "run A: training loss", "run B: training loss"]
    assert [t.get_text() for t in first.axes_[2].get_legend().get_texts()] == [
        "run A", "run B"]
    assert first.figure_._suptitle.get_text() == "run A"
    # A name given wins; "" labels the curves by what they are only.
    disp = TrainingHistoryDisplay({"loss": [1.0]}, estimator_name="run A").plot(ax=plt.gca(),
                                                                                 name="")
    assert disp.lines_["loss"].get_label() == "training loss"
    plt.close("all")


def test_entries_of_another_length_are_refused_before_drawing():
    # helper-68: matplotlib's "x and y must have same first dimension" came
    # after the loss curve was drawn on the caller's axes, naming no entry.
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3)
    before = plt.get_fignums()
    for history, key in (({"loss": [1, 2, 3], "val_loss": [1, 2]}, "val_loss"),
                         ({"loss": [1, 2], "grad_norm": np.ones((3, 2))}, "grad_norm"),
                         ({"loss": [1, 2], "grad_norm": np.ones(2)}, "grad_norm"),
                         ({"loss": [1, 2], "epoch_time": [0.1]}, "epoch_time")):
        with pytest.raises(ValueError, match=rf"history\['{key}'\] has shape"):
            TrainingHistoryDisplay(history).plot(ax=ax)
        with pytest.raises(ValueError, match=rf"history\['{key}'\]"):
            TrainingHistoryDisplay(history).plot()
    assert not any(a.lines for a in ax) and plt.get_fignums() == before
    with pytest.raises(ValueError, match=r"history\['loss'\] must be 1-dimensional"):
        TrainingHistoryDisplay({"loss": np.ones((2, 2))}).plot(ax=ax)
    # Entries not recorded (empty) are no error.
    disp = TrainingHistoryDisplay({"loss": [1, 2], "val_loss": [],
                                   "grad_norm": np.empty((0, 2))}).plot(ax=ax)
    assert set(disp.lines_) == {"loss", "grad_norm"}
    plt.close(fig)


def test_drawing_on_the_callers_axes_keeps_their_titles(fitted):
    # helper-106: each plot on a panel of the caller's figure replaced that
    # Axes' title with "loss" and gave the whole figure the first model's
    # name; scikit-learn's Displays leave a caller's figure untitled.
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    fig, (left, right) = plt.subplots(1, 2)
    left.set_title("scaled + adam")
    TrainingHistoryDisplay.from_estimator(fitted, ax=left)
    TrainingHistoryDisplay.from_estimator(fitted, ax=right)
    assert fig._suptitle is None
    assert (left.get_title(), right.get_title()) == ("scaled + adam", "loss")
    TrainingHistoryDisplay.from_estimator(fitted, ax=right, title="both")
    assert fig._suptitle.get_text() == "both"
    plt.close(fig)
    # helper-119: a figure holding only the given Axes (plt.subplots() or
    # plt.subplots(1, 3) passed as ax) was taken for the display's own and
    # titled "MLPClassifier"; the caller's figure, it stays untitled unless
    # title= is given. Each panel is titled after itself.
    fig, ax = plt.subplots()
    TrainingHistoryDisplay.from_estimator(fitted, ax=ax)
    assert fig._suptitle is None and ax.get_title() == "loss"
    plt.close(fig)
    fig, axes = plt.subplots(1, 3)
    disp = TrainingHistoryDisplay.from_estimator(fitted, ax=axes)
    assert fig._suptitle is None
    assert [a.get_title() for a in disp.axes_] == [
        "loss", "gradient norm per layer", "learning rate"]
    plt.close(fig)
    figure = Figure()
    TrainingHistoryDisplay.from_estimator(fitted, ax=figure.subplots(1, 3))
    assert figure._suptitle is None
    TrainingHistoryDisplay.from_estimator(fitted, ax=figure.axes[:3], title="mine")
    assert figure._suptitle.get_text() == "mine"


def test_what_holds_several_models_or_none_says_which_to_plot():
    # helper-106: a search fitted with refit=False, a MultiOutputRegressor
    # or a CalibratedClassifierCV said "has no training history to plot".
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import GridSearchCV
    from sklearn.multioutput import MultiOutputRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from fastbp import MLPRegressor

    X, y = load_digits(return_X_y=True)
    X = X[:300] / 16
    y = y[:300]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search = GridSearchCV(MLPClassifier((4,), max_iter=2), {"alpha": [1e-4, 1e-3]}, cv=2,
                              refit=False).fit(X, y)
        multi = MultiOutputRegressor(MLPRegressor(hidden_layer_sizes=(4,), max_iter=2)).fit(
            X, np.column_stack([y, -y]).astype(float))
        calibrated = CalibratedClassifierCV(MLPClassifier((4,), max_iter=2), cv=2).fit(X, y)
        piped = make_pipeline(StandardScaler(), search).fit(X, y)
    for holder, message in (
            (search, "GridSearchCV was fitted with refit=False: no best_estimator_ to plot"),
            (piped, "refit=False"),
            (multi, "MultiOutputRegressor holds several fitted models in estimators_; "
                    r"plot one of them, e\.g\. its estimators_\[0\]"),
            (calibrated, "holds several fitted models in calibrated_classifiers_; plot one "
                         r"of them, e\.g\. its calibrated_classifiers_\[0\]\.estimator")):
        with pytest.raises(ValueError, match=message):
            TrainingHistoryDisplay.from_estimator(holder)
    import matplotlib.pyplot as plt

    for model in (multi.estimators_[0], calibrated.calibrated_classifiers_[0].estimator):
        plt.close(TrainingHistoryDisplay.from_estimator(model).figure_)


def test_a_linestyle_given_leaves_the_validation_curves_dashed_and_dotted(fitted):
    # helper-106: ls=":" drew the training loss, the validation loss and
    # the validation score alike, in one colour and dotted.
    import matplotlib.pyplot as plt

    disp = TrainingHistoryDisplay.from_estimator(fitted, ls="-.", marker="o")
    assert [disp.lines_[k].get_linestyle() for k in ("loss", "val_loss", "val_score")] == [
        "-.", "--", ":"]
    assert disp.lines_["learning_rate"].get_linestyle() == "-."
    assert all(disp.lines_[k].get_marker() == "o" for k in ("loss", "val_loss", "val_score"))
    plt.close(disp.figure_)
    before = plt.get_fignums()
    for linestyle, what in ((":", "validation score"), ("dashed", "validation loss")):
        with pytest.raises(ValueError, match=f"linestyle='{linestyle}' is the {what}'s"):
            TrainingHistoryDisplay.from_estimator(fitted, ls=linestyle)
    assert plt.get_fignums() == before
    # Without validation curves, any linestyle is the training loss's own.
    disp = TrainingHistoryDisplay({"loss": [2.0, 1.0]}).plot(linestyle=":")
    assert disp.lines_["loss"].get_linestyle() == ":"
    plt.close(disp.figure_)


def test_a_dash_pattern_is_refused_beside_the_validation_curves(fitted):
    # helper-130 (found by helper-124): "--" and ":" were refused, but
    # dashes=[2, 2] or linestyle=(0, (5, 5)) drew the training loss dashed
    # like the validation loss, against plot's docstring.
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    for kwargs, given in ((dict(dashes=[2, 2]), "dashes=\\[2, 2\\]"),
                          (dict(linestyle=(0, (5, 5))), "linestyle=\\(0, \\(5, 5\\)\\)"),
                          (dict(ls=(0, (1, 1))), "linestyle=\\(0, \\(1, 1\\)\\)"),
                          (dict(linestyle="-", dashes=(4, 2)), "dashes=\\(4, 2\\)")):
        with pytest.raises(ValueError, match=f"{given} draws the training loss with a dash "
                                             "pattern, which can look like the validation "
                                             "loss or the validation score"):
            TrainingHistoryDisplay.from_estimator(fitted, **kwargs)
    assert plt.get_fignums() == before
    # A solid pattern, and any pattern where no validation curve is drawn.
    disp = TrainingHistoryDisplay.from_estimator(fitted, linestyle=(0, None))
    assert len(disp.lines_["loss"].get_xdata()) == len(fitted.loss_curve_)
    plt.close(disp.figure_)
    disp = TrainingHistoryDisplay({"loss": [2.0, 1.0]}).plot(dashes=[2, 2])
    assert disp.lines_["loss"].get_linestyle() == "--"
    plt.close(disp.figure_)


def test_a_dash_pattern_given_as_an_array_is_judged_not_crashed_on(fitted):
    # helper-144: linestyle=(0, np.array([5., 5.])) raised "The truth value
    # of an array ... is ambiguous", even with no validation curve to clash with.
    import matplotlib.pyplot as plt

    with pytest.raises(ValueError, match="draws the training loss with a dash pattern"):
        TrainingHistoryDisplay.from_estimator(fitted, linestyle=(0, np.array([5.0, 5.0])))
    disp = TrainingHistoryDisplay({"loss": [2.0, 1.0]}).plot(
        linestyle=(0, np.array([5.0, 5.0])))
    assert disp.lines_["loss"].get_linestyle() == "--"
    plt.close(disp.figure_)


def test_a_redraw_labels_the_curves_as_the_first_draw(fitted):
    # helper-106: from_estimator's curves read "training loss + penalty",
    # the same display's plot() "MLPClassifier: training loss + penalty".
    import matplotlib.pyplot as plt

    for kwargs, expected in (({}, "training loss + penalty"),
                             ({"name": "adam"}, "adam: training loss + penalty"),
                             ({"label": "mine"}, "mine: training loss + penalty")):
        disp = TrainingHistoryDisplay.from_estimator(fitted, **kwargs)
        first = disp.figure_
        assert disp.plot().lines_["loss"].get_label() == expected
        plt.close(first)
        plt.close(disp.figure_)
    assert disp.plot(name="").lines_["loss"].get_label() == "training loss + penalty"
    plt.close(disp.figure_)
