"""fix-255: a model converted from scikit-learn with early stopping keeps its
validation scores when a later call turns early stopping off, as a native
fit's do (rev-236)."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification

from fastbp import MLPClassifier, MLPRegressor
from fastbp.display import TrainingHistoryDisplay


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=120, n_features=6, random_state=0)


def _sklearn_model(data, early_stopping):
    from sklearn.neural_network import MLPClassifier as SkMLP

    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter=4
        return SkMLP((5,), early_stopping=early_stopping, max_iter=4,
                     random_state=0).fit(X, y)


def _switched_off(model, data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.set_params(early_stopping=False)
        model.partial_fit(*data)
    return model


def test_converted_scores_survive_turning_early_stopping_off(data):
    sk = _sklearn_model(data, early_stopping=True)
    scores = list(sk.validation_scores_)
    assert len(scores) == 4
    converted = _switched_off(MLPClassifier.from_sklearn(sk), data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        native = _switched_off(MLPClassifier((5,), early_stopping=True, max_iter=4,
                                             random_state=0).fit(*data), data)

    # Both keep scikit-learn's semantics for the attribute ...
    assert converted.validation_scores_ is None and native.validation_scores_ is None
    # ... and the scores of the first 4 epochs in history_, NaN for the
    # partial_fit epoch, in the same structure.
    assert set(converted.history_) == set(native.history_)
    for key, values in native.history_.items():
        assert converted.history_[key].shape == values.shape, key
    np.testing.assert_array_equal(converted.history_["val_score"][:4], scores)
    assert np.isnan(converted.history_["val_score"][4])
    assert np.isnan(native.history_["val_score"][4])
    np.testing.assert_array_equal(converted.history_["loss"], converted.loss_curve_)
    # What scikit-learn did not record is NaN, not made up.
    assert np.isnan(converted.history_["val_loss"]).all()
    assert np.isnan(converted.history_["learning_rate"][:4]).all()
    assert np.isnan(converted.history_["grad_norm"][:4]).all()

    import matplotlib.pyplot as plt

    disp = TrainingHistoryDisplay.from_estimator(converted)
    try:
        plotted = np.asarray(disp.lines_["val_score"].get_ydata(), dtype=float)
        np.testing.assert_array_equal(plotted[:4], scores)
        assert len(plotted) == 5 and np.isnan(plotted[4])
    finally:
        plt.close(disp.figure_)


def test_converted_scores_go_on_with_early_stopping_kept(data):
    sk = _sklearn_model(data, early_stopping=True)
    # A warm fit with early stopping (partial_fit refuses it).
    model = MLPClassifier.from_sklearn(sk).set_params(warm_start=True, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(*data)
    assert len(model.validation_scores_) == 6
    np.testing.assert_array_equal(model.validation_scores_[:4], sk.validation_scores_)
    np.testing.assert_array_equal(model.history_["val_score"], model.validation_scores_)
    np.testing.assert_array_equal(model.history_["loss"], model.loss_curve_)


def test_a_plain_conversion_records_only_its_own_epochs(data):
    # Without early stopping nothing is seeded: history_ holds the
    # partial_fit epoch alone, as before.
    sk = _sklearn_model(data, early_stopping=False)
    model = MLPClassifier.from_sklearn(sk)
    assert model._progress.history["loss"].view().shape == (0,)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.partial_fit(*data)
    assert model.validation_scores_ is None
    assert len(model.history_["loss"]) == 1 and len(model.loss_curve_) == 5
    assert "val_score" not in model.history_


@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_converted_model_has_no_history_before_its_first_fastbp_fit(data, early_stopping):
    # As its docstring says (fix-324, rev-321): scikit-learn's epochs are in
    # loss_curve_ (and seeded into the record a warm fit extends), but
    # history_ is set by fastbp's fits alone.
    sk = _sklearn_model(data, early_stopping=early_stopping)
    model = MLPClassifier.from_sklearn(sk)
    assert len(model.loss_curve_) == 4
    assert not hasattr(model, "history_")
    for doc in (MLPClassifier.__doc__, MLPRegressor.__doc__):
        assert "has no ``history_`` until its first" in " ".join(doc.split())
