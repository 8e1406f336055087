"""rev-202's findings fixed by fix-211: an L-BFGS fit that stopped before its
first iteration, a 2-D ``classes``, and a small file's ID column."""
import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

import fastbp
from fastbp import DivergenceError
from fastbp.cli import main


def _standardised():
    X, y = make_classification(80, 4, random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lbfgs_that_stops_before_its_first_iteration_is_refused(dtype):
    # rev-202: the untrained starting weights were kept (n_iter_ 0, score
    # 0.5) under "ABNORMAL: " and an empty reason.
    X, y = _standardised()
    model = fastbp.MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=50,
                                 random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(DivergenceError) as caught:
            model.fit((X * 1e6).astype(dtype), y)
    message = str(caught.value)
    assert "untrained" in message and "StandardScaler" in message, message
    assert "ABNORMAL: the line search found no step" in message, message
    assert "The model keeps its state from before this call." in message
    assert not hasattr(model, "coefs_") and not hasattr(model, "n_iter_")


def test_refused_lbfgs_fit_leaves_a_fitted_model_as_it_was():
    X, y = _standardised()
    model = fastbp.MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=1000,
                                 random_state=0).fit(X, y)
    before = pickle.dumps(model)
    with pytest.raises(DivergenceError, match="untrained"):
        model.fit(X * 1e6, y)
    assert pickle.dumps(model) == before


def test_an_empty_scipy_reason_is_explained():
    from scipy.optimize import OptimizeResult

    from fastbp.estimators.solvers import _warn_lbfgs_not_converged

    result = OptimizeResult(status=2, message="ABNORMAL: ", nit=0)
    with pytest.warns(ConvergenceWarning) as caught:
        _warn_lbfgs_not_converged(result, 0, 50)
    message = str(caught[0].message)
    assert "ABNORMAL: the line search found no step" in message, message
    assert "keeps the weights it started with" in message, message


@pytest.mark.parametrize("classes", [[[0, 1]], np.array([[0], [1]]), 5])
def test_classes_that_are_not_1d_are_refused_naming_their_shape(classes):
    # rev-202: [[0, 1]] blamed "a multilabel indicator of 2 outputs" this
    # model was never fitted on.
    X = np.random.default_rng(0).standard_normal((20, 3))
    y = np.arange(20) % 2
    model = fastbp.MLPClassifier(solver="sgd")
    with pytest.raises(ValueError) as caught:
        model.partial_fit(X, y, classes=classes)
    message = str(caught.value)
    assert message.startswith("classes must be a 1-D array of labels, got "), message
    shape = np.shape(classes)
    assert (f"shape {shape}" if shape else "got int 5") in message, message
    assert "multilabel" not in message
    assert not hasattr(model, "classes_")
    model.partial_fit(X, y, classes=[0, 1])  # the same labels, 1-D
    np.testing.assert_array_equal(model.classes_, [0, 1])


def _id_file(path, n):
    import pandas as pd
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 3))
    pd.DataFrame({"id": [f"u{i:03d}" for i in range(n)], "a": x[:, 0], "b": x[:, 1],
                  "c": x[:, 2], "t": (x[:, 0] > 0).astype(int)}).to_csv(path, index=False)


def test_an_id_column_of_a_small_file_gets_a_note(tmp_path, capsys):
    # rev-202: 40 IDs in 40 rows (fewer than 50 distinct values) became 40
    # one-hot columns without a word.
    _id_file(tmp_path / "id.csv", 40)
    assert main(["train", "--data", str(tmp_path / "id.csv"), "--target", "t",
                 "--epochs", "1", "--quiet"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "'id'" in line]
    assert notes == [
        "note: column 'id' holds 40 distinct text values in 40 rows, and is one-hot encoded "
        "into as many columns; it looks like an ID or free text ('u000', 'u001', 'u002'): "
        "drop the column if it is an ID (remove it from the file: a value no other row "
        "shares teaches the model nothing about new rows)"], notes


def test_a_small_file_s_categories_get_no_id_note(tmp_path, capsys):
    import pandas as pd
    rng = np.random.default_rng(1)
    x = rng.standard_normal(30)
    pd.DataFrame({"state": [f"s{i % 16}" for i in range(30)], "x": x,
                  "t": (x > 0).astype(int)}).to_csv(tmp_path / "s.csv", index=False)
    assert main(["train", "--data", str(tmp_path / "s.csv"), "--target", "t",
                 "--epochs", "1", "--quiet"]) == 0
    assert "distinct text values" not in capsys.readouterr().err
