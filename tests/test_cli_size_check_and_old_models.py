"""Review 193 of the CLI's data handling: the one-hot memory check counts
the network the encoding feeds, and models written before the numeric
columns' cast step (5d21400) load and predict."""
import numpy as np
import pandas as pd
import pytest

import fastbp
import fastbp.cli_data.memory as cli_memory
import fastbp.cli_data.messages as cli_messages
import fastbp.cli_data.train as cli_train
from fastbp.cli import main


def _ids(n=20_000):
    return pd.DataFrame({"id": [f"c{i}" for i in range(n)]})


def test_the_size_check_counts_the_first_layer_an_id_column_makes(monkeypatch):
    # The CSR of 20,000 IDs in float64 is 0.3 MiB, within a quarter of
    # 16 MiB; the network's 20,000 x 100 first layer is 15.3 MiB of
    # weights, 130 MiB at Adam's measured peak (fix-229: 8.5 arrays).
    X = _ids()
    monkeypatch.setattr(cli_memory, "_available_memory", lambda: 16 * 2**20)
    estimator = fastbp.MLPClassifier(hidden_layer_sizes=(100,), solver="adam")
    with pytest.raises(cli_messages.CLIError) as info:
        cli_memory.check_one_hot_size(X, np.float64, "t.csv", estimator, n_outputs=1)
    message = str(info.value)
    assert "'id' (20000 distinct values)" in message
    assert ("a first layer of 20000 x 100 weights: the network's parameters take 130.0 MiB "
            "with the adam solver's state") in message
    assert "more than the memory available (16.0 MiB)" in message
    assert "fewer units (--hidden-layer-sizes)" in message


@pytest.mark.parametrize("solver, arrays", [("adam", 8.5), ("adamw", 8.5), ("sgd", 6.5),
                                            ("rmsprop", 6.5), ("adagrad", 6.5)])
def test_network_size_counts_the_solver_state(solver, arrays):
    estimator = fastbp.MLPRegressor(hidden_layer_sizes=(10, 5), solver=solver)
    n_params = 50 * 10 + 10 + 10 * 5 + 5 + 5 * 3 + 3
    assert cli_memory.network_size(estimator, 50, 3, np.float32) == (
        (50, 10), n_params * 4 * arrays)


def test_network_size_counts_lbfgs_float64_history():
    estimator = fastbp.MLPRegressor(hidden_layer_sizes=(10,), solver="lbfgs")
    n_params = 50 * 10 + 10 + 10 + 1
    assert cli_memory.network_size(estimator, 50, 1, np.float32)[1] == n_params * (7 * 4 + 41 * 8)


def test_network_size_leaves_a_bad_parameter_to_the_fit():
    assert cli_memory.network_size(fastbp.MLPRegressor(hidden_layer_sizes=(0,)), 5, 1,
                                 np.float32) == (None, 0)
    assert cli_memory.network_size(fastbp.MLPRegressor(solver="nope"), 5, 1,
                                 np.float32) == (None, 0)


def test_a_small_first_layer_passes_the_size_check(monkeypatch):
    # Eight hidden units: 20,000 x 8 float64 weights, 4.9 MiB with Adam's
    # state, and the encoding's twice 0.3 MiB, within 8 MiB.
    monkeypatch.setattr(cli_memory, "_available_memory", lambda: 16 * 2**20)
    estimator = fastbp.MLPClassifier(hidden_layer_sizes=(8,))
    cli_memory.check_one_hot_size(_ids(), np.float64, "t.csv", estimator, n_outputs=1)


def test_train_refuses_a_first_layer_that_does_not_fit(tmp_path, monkeypatch, capsys):
    n = 20_000
    pd.DataFrame({"id": [f"c{i}" for i in range(n)],
                  "y": np.arange(n) % 3}).to_csv(tmp_path / "t.csv", index=False)
    monkeypatch.setattr(cli_memory, "_available_memory", lambda: 16 * 2**20)

    def no_fit(*args, **kwargs):
        raise AssertionError("the fit started")

    monkeypatch.setattr(cli_train, "fit_with_progress", no_fit)
    model = tmp_path / "m.fastbp"
    assert main(["train", "--data", str(tmp_path / "t.csv"), "--target", "y",
                 "--task", "classification", "--dtype", "float64", "--quiet",
                 "--model-out", str(model)]) == 2
    err = capsys.readouterr().err
    # Three classes: three outputs; 20,000 x 100 + 100 + 100 x 3 + 3
    # float64 parameters, 8.5 arrays of them, and two arrays of a batch's
    # 200 rows x 103 units.
    assert "a first layer of 20000 x 100 weights" in err
    assert "130.0 MiB with the adam solver's state" in err
    assert not model.exists()


def _old_layout_model(tmp_path, task="classification"):
    """A model as ``fastbp train --data`` wrote it before 5d21400: a bare
    StandardScaler for the numeric columns (no scale and cast Pipeline),
    fitted on numeric columns cast to float32 first, as train did then."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n) * 10,
                          "colour": rng.choice(["red", "green", "blue"], size=n)})
    frame["y"] = np.where(frame["x"] + (frame["colour"] == "red") > 0.5, "yes", "no")
    if task == "regression":
        frame["y"] = frame["x"] * 2.0 + frame["z"] / 10
    frame.to_csv(tmp_path / "new.csv", index=False)
    X = frame.drop(columns="y").astype({"x": np.float32, "z": np.float32})
    preprocess = ColumnTransformer([
        ("numeric", StandardScaler(), ["x", "z"]),
        ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False,
                                      dtype=np.float32), ["colour"])])
    cls = fastbp.MLPClassifier if task == "classification" else fastbp.MLPRegressor
    pipe = Pipeline([("preprocess", preprocess),
                     ("model", cls(hidden_layer_sizes=(8,), max_iter=5, random_state=0))])
    pipe.fit(X, frame["y"])
    pipe.fastbp_target_ = "y"
    pipe.fastbp_task_ = task
    pipe.fastbp_marks_missing_ = []
    fastbp.save(pipe, tmp_path / "old.fastbp")
    return pipe, frame


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_model_written_before_the_cast_step_predicts(tmp_path, capsys, task):
    pipe, frame = _old_layout_model(tmp_path, task)
    model = tmp_path / "old.fastbp"
    out = tmp_path / "p.csv"
    assert main(["predict", "--model", str(model), "--data", str(tmp_path / "new.csv"),
                 "--out", str(out)]) == 0
    predicted = pd.read_csv(out)["y"]
    # As the model predicted before 5d21400: the file's numeric columns
    # standardised as read (float64), the model casting to its dtype.
    expected = pipe.predict(frame.drop(columns="y"))
    if task == "classification":
        np.testing.assert_array_equal(predicted, expected)
    else:
        np.testing.assert_allclose(predicted, expected, rtol=1e-6)
    assert main(["evaluate", "--model", str(model), "--data", str(tmp_path / "new.csv")]) == 0
    capsys.readouterr()


def test_a_bare_scaler_model_still_checks_the_standardised_range(tmp_path, capsys):
    pipe, frame = _old_layout_model(tmp_path)
    frame.loc[3, "z"] = 1e300
    frame.to_csv(tmp_path / "huge.csv", index=False)
    assert main(["predict", "--model", str(tmp_path / "old.fastbp"), "--data",
                 str(tmp_path / "huge.csv"), "--out", str(tmp_path / "p.csv")]) == 2
    err = capsys.readouterr().err
    assert "numeric column 'z' holds values too large for the model" in err
    assert "beyond the range of float32" in err


def test_a_numeric_step_of_another_kind_is_still_refused(tmp_path, capsys):
    from sklearn.preprocessing import MinMaxScaler

    pipe, _ = _old_layout_model(tmp_path)
    preprocess = pipe.named_steps["preprocess"]
    name, _, cols = preprocess.transformers_[0]
    scaler = MinMaxScaler().fit(np.zeros((2, len(cols))))
    preprocess.transformers_[0] = (name, scaler, cols)
    fastbp.save(pipe, tmp_path / "changed.fastbp")
    assert main(["predict", "--model", str(tmp_path / "changed.fastbp"), "--data",
                 str(tmp_path / "new.csv"), "--out", str(tmp_path / "p.csv")]) == 2
    assert "its preprocess step's numeric columns have no scale step" in capsys.readouterr().err
