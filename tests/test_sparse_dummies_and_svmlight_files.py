"""rev-274's findings on sparse and unusual inputs (fix-277): a DataFrame of
pandas sparse bool columns, as ``pd.get_dummies(df, sparse=True)`` makes
it, and an svmlight/libsvm file named ``.txt`` given to the command line.
Each test fails before its fix."""

import warnings

import numpy as np
import pytest

from fastbp import MLPClassifier, MLPRegressor
from fastbp.cli import main

pd = pytest.importorskip("pandas")


def _frames(dtype=bool):
    """One-hot columns as pandas sparse columns of ``dtype`` and the same
    columns dense, and a binary target."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"city": rng.choice(list("abcd"), 40)})
    y = (df.city == "a").astype(int).to_numpy()
    sparse = pd.get_dummies(df, sparse=True, dtype=dtype)
    return sparse, sparse.sparse.to_dense(), y


def _fit(make, X, y, how):
    model = make()
    with warnings.catch_warnings():
        # Three epochs: not converged, which is not what is tested.
        warnings.simplefilter("ignore")
        if how == "fit":
            model.fit(X, y)
        elif how == "sample_weight":
            model.fit(X, y, sample_weight=np.linspace(0.5, 1.5, len(y)))
        else:
            classes = {"classes": [0, 1]} if isinstance(model, MLPClassifier) else {}
            model.partial_fit(X, y, **classes)
            model.partial_fit(X, y)
    return model


_CASES = [
    (MLPClassifier, {}, "fit"),
    (MLPClassifier, {"solver": "lbfgs"}, "fit"),
    (MLPClassifier, {}, "partial_fit"),
    (MLPClassifier, {}, "sample_weight"),
    (MLPRegressor, {}, "fit"),
    (MLPRegressor, {"solver": "lbfgs"}, "fit"),
    (MLPRegressor, {}, "partial_fit"),
    (MLPRegressor, {}, "sample_weight"),
]


@pytest.mark.parametrize("dtype", [bool, np.uint8, np.int8])
@pytest.mark.parametrize("Estimator, params, how", _CASES)
def test_sparse_dummies_train_as_the_dense_frame(Estimator, params, how, dtype):
    # rev-274: scikit-learn's validation makes a frame of sparse bools a
    # CSR matrix of bools, which fit took for its dtype: KeyError
    # dtype('bool') (classifier), "data type bool not inexact" (regressor).
    sparse, dense, y = _frames(dtype)

    def make():
        return Estimator(hidden_layer_sizes=(3,), max_iter=3, random_state=0, **params)

    model, reference = _fit(make, sparse, y, how), _fit(make, dense, y, how)
    assert model.coefs_[0].dtype == np.float64 == reference.coefs_[0].dtype
    for got, expected in zip(model.coefs_ + model.intercepts_,
                             reference.coefs_ + reference.intercepts_):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(model.predict(sparse), reference.predict(dense))
    assert model.score(sparse, y) == reference.score(dense, y)
    if hasattr(model, "predict_proba"):
        np.testing.assert_array_equal(model.predict_proba(sparse),
                                      reference.predict_proba(dense))
    assert list(model.feature_names_in_) == list(dense.columns)


def test_sparse_bools_continue_a_float32_model_in_float32():
    # partial_fit's later calls go on in the model's dtype, as they do for
    # the dense frame of bools.
    sparse, dense, y = _frames()
    models = []
    for X in (sparse, dense):
        model = MLPClassifier(hidden_layer_sizes=(3,), random_state=0)
        model.partial_fit(dense.astype(np.float32), y, classes=[0, 1])
        model.partial_fit(X, y)
        models.append(model)
    assert models[0].coefs_[0].dtype == np.float32
    for got, expected in zip(models[0].coefs_, models[1].coefs_):
        np.testing.assert_array_equal(got, expected)


def _svmlight_txt(path, **options):
    from sklearn.datasets import dump_svmlight_file

    rng = np.random.default_rng(0)
    X = rng.random((30, 3))
    X[X < 0.3] = 0  # some pairs left out, as the format does
    y = rng.integers(0, 2, 30)
    dump_svmlight_file(X, y, str(path), **options)
    return X, y


def _error_line(err):
    lines = [line for line in err.splitlines() if line.startswith("fastbp: error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("options", [{}, {"zero_based": False, "comment": "made here"},
                                     {"query_id": np.arange(30) // 10}])
def test_svmlight_file_named_txt_is_named_as_such(tmp_path, capsys, options):
    # rev-274: read as CSV, the file had one column named after its first
    # line, and --target 0 was "not a column (columns: ['1 0:0.54 ...'])".
    path = tmp_path / "d_svm.txt"
    _svmlight_txt(path, **options)
    assert main(["train", "--data", str(path), "--target", "0", "--epochs", "2",
                 "--quiet"]) == 2
    line = _error_line(capsys.readouterr().err)
    assert "looks like an svmlight/libsvm file" in line
    assert "load_svmlight_file" in line and "has no column" not in line


def test_the_svmlight_hint_converts_to_a_file_that_trains(tmp_path, capsys):
    # The conversion the message gives, run as written, makes a CSV file
    # that fastbp trains on with the --target it names.
    path = tmp_path / "d_svm.txt"
    X, y = _svmlight_txt(path)
    assert main(["train", "--data", str(path), "--target", "0", "--quiet"]) == 2
    line = _error_line(capsys.readouterr().err)
    code = line.split("for example in Python: ")[1].split("; then train with")[0]
    new_path = tmp_path / "d.csv"
    exec(code, {"path": str(path), "new_path": str(new_path)})
    frame = pd.read_csv(new_path)
    np.testing.assert_allclose(frame.drop(columns="target").to_numpy(), X)
    np.testing.assert_array_equal(frame["target"].to_numpy(), y)
    assert main(["train", "--data", str(new_path), "--target", "target", "--epochs", "2",
                 "--quiet"]) == 0


def test_a_one_column_csv_of_text_is_not_taken_for_svmlight(tmp_path, capsys):
    # Only lines of label and index:value pairs are: a column of words
    # (with a colon among them) still gets the missing-column message.
    path = tmp_path / "notes.txt"
    path.write_text("note\nsee 3:30 today\nplain\nrings at 10:15\n")
    assert main(["train", "--data", str(path), "--target", "label", "--quiet"]) == 2
    line = _error_line(capsys.readouterr().err)
    assert "svmlight" not in line and "has no column 'label'" in line
