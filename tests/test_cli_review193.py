"""Review 193 of the CLI's data handling: the one-hot memory check counts
the network the encoding feeds, and models written before the numeric
columns' cast step (5d21400) load and predict."""
import numpy as np
import pandas as pd
import pytest

import fastbp
import fastbp.cli_data as cli_data
from fastbp.cli import main


def _ids(n=20_000):
    return pd.DataFrame({"id": [f"c{i}" for i in range(n)]})


def test_the_size_check_counts_the_first_layer_an_id_column_makes(monkeypatch):
    # The CSR of 20,000 IDs in float64 is 0.3 MiB, within a quarter of
    # 16 MiB; the network's 20,000 x 100 first layer is 15.3 MiB of
    # weights, 61 MiB with their gradient and Adam's two moments.
    X = _ids()
    monkeypatch.setattr(cli_data, "_available_memory", lambda: 16 * 2**20)
    estimator = fastbp.MLPClassifier(hidden_layer_sizes=(100,), solver="adam")
    with pytest.raises(cli_data.CLIError) as info:
        cli_data.check_one_hot_size(X, np.float64, "t.csv", estimator, n_outputs=1)
    message = str(info.value)
    assert "'id' (20000 distinct values)" in message
    assert ("a first layer of 20000 x 100 weights: the network's parameters take 61.0 MiB "
            "with the adam solver's state") in message
    assert "more than half the memory available (16.0 MiB)" in message
    assert "fewer units (--hidden-layer-sizes)" in message


@pytest.mark.parametrize("solver, arrays", [("adam", 4), ("adamw", 4), ("sgd", 3),
                                            ("rmsprop", 3), ("adagrad", 3)])
def test_network_size_counts_the_solver_state(solver, arrays):
    estimator = fastbp.MLPRegressor(hidden_layer_sizes=(10, 5), solver=solver)
    n_params = 50 * 10 + 10 + 10 * 5 + 5 + 5 * 3 + 3
    assert cli_data.network_size(estimator, 50, 3, np.float32) == (
        (50, 10), n_params * 4 * arrays)


def test_network_size_counts_lbfgs_float64_history():
    estimator = fastbp.MLPRegressor(hidden_layer_sizes=(10,), solver="lbfgs")
    n_params = 50 * 10 + 10 + 10 + 1
    assert cli_data.network_size(estimator, 50, 1, np.float32)[1] == n_params * (8 + 22 * 8)


def test_network_size_leaves_a_bad_parameter_to_the_fit():
    assert cli_data.network_size(fastbp.MLPRegressor(hidden_layer_sizes=(0,)), 5, 1,
                                 np.float32) == (None, 0)
    assert cli_data.network_size(fastbp.MLPRegressor(solver="nope"), 5, 1,
                                 np.float32) == (None, 0)


def test_a_small_first_layer_passes_the_size_check(monkeypatch):
    # Eight hidden units: 20,000 x 8 float64 weights, 4.9 MiB with Adam's
    # state, and the encoding's twice 0.3 MiB, within 8 MiB.
    monkeypatch.setattr(cli_data, "_available_memory", lambda: 16 * 2**20)
    estimator = fastbp.MLPClassifier(hidden_layer_sizes=(8,))
    cli_data.check_one_hot_size(_ids(), np.float64, "t.csv", estimator, n_outputs=1)


def test_train_refuses_a_first_layer_that_does_not_fit(tmp_path, monkeypatch, capsys):
    n = 20_000
    pd.DataFrame({"id": [f"c{i}" for i in range(n)],
                  "y": np.arange(n) % 3}).to_csv(tmp_path / "t.csv", index=False)
    monkeypatch.setattr(cli_data, "_available_memory", lambda: 16 * 2**20)

    def no_fit(*args, **kwargs):
        raise AssertionError("the fit started")

    monkeypatch.setattr(cli_data, "fit_with_progress", no_fit)
    model = tmp_path / "m.fastbp"
    assert main(["train", "--data", str(tmp_path / "t.csv"), "--target", "y",
                 "--task", "classification", "--dtype", "float64", "--quiet",
                 "--model-out", str(model)]) == 2
    err = capsys.readouterr().err
    # Three classes: three outputs; 20,000 x 100 + 100 + 100 x 3 + 3
    # float64 parameters, four arrays of them.
    assert "a first layer of 20000 x 100 weights" in err
    assert "61.0 MiB with the adam solver's state" in err
    assert not model.exists()
