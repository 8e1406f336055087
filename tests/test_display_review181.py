"""TrainingHistoryDisplay: the findings of review 181."""

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
