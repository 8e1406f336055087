"""fix-229: ``fastbp train``'s memory check estimates the fit's real peak
(the file as read, the float64 standardised copy, the parameters at their
measured peak per solver, the activations), compares it with the memory
free, and names the network, not text columns, where no text column takes
the memory."""
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

import fastbp
import fastbp.cli_data.memory as cli_memory
import fastbp.cli_data.messages as cli_messages
import fastbp.cli_data.train as cli_train
from fastbp.cli import main


def _n_params(units):
    return sum(a * b + b for a, b in zip(units[:-1], units[1:]))


@pytest.mark.parametrize("solver, arrays", [("adam", 8.5), ("adamw", 8.5), ("sgd", 6.5),
                                            ("rmsprop", 6.5), ("adagrad", 6.5)])
def test_network_size_counts_the_measured_peak_of_each_solver(solver, arrays):
    # rev-224: four arrays (weights, gradient, Adam's moments) were counted
    # where the training peaked at 8.1 (Adam) and 6.1 (SGD).
    estimator = fastbp.MLPRegressor(hidden_layer_sizes=(10, 5), solver=solver)
    n_params = _n_params([50, 10, 5, 3])
    assert cli_memory.network_size(estimator, 50, 3, np.float32) == (
        (50, 10), int(n_params * 4 * arrays))
    estimator.set_params(early_stopping=True)
    assert cli_memory.network_size(estimator, 50, 3, np.float32)[1] == int(
        n_params * 4 * (arrays + 2))


def test_network_size_counts_lbfgs_at_its_measured_peak():
    # Measured 347 bytes a parameter in float32, 373 in float64; 46 x 8
    # (368) was counted for both, whatever the dtype.
    estimator = fastbp.MLPRegressor(hidden_layer_sizes=(10,), solver="lbfgs")
    n_params = _n_params([50, 10, 1])
    assert cli_memory.network_size(estimator, 50, 1, np.float32)[1] == n_params * (41 * 8 + 7 * 4)
    assert cli_memory.network_size(estimator, 50, 1, np.float64)[1] == n_params * (41 * 8 + 7 * 8)


def test_network_size_counts_a_batch_of_activations():
    estimator = fastbp.MLPRegressor(hidden_layer_sizes=(1000,), solver="sgd")
    weights = cli_memory.network_size(estimator, 30, 1, np.float32)[1]
    # "auto": batches of 200 rows, or all of fewer; two arrays of a batch's
    # rows x every layer's units.
    assert cli_memory.network_size(estimator, 30, 1, np.float32, n_rows=10_000)[1] == (
        weights + 200 * 1001 * 4 * 2)
    assert cli_memory.network_size(estimator, 30, 1, np.float32, n_rows=50)[1] == (
        weights + 50 * 1001 * 4 * 2)
    estimator.set_params(batch_size=1000)
    assert cli_memory.network_size(estimator, 30, 1, np.float32, n_rows=10_000)[1] == (
        weights + 1000 * 1001 * 4 * 2)


def _frame(n, n_numeric, ids=0, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.standard_normal((n, n_numeric)),
                     columns=[f"x{i}" for i in range(n_numeric)])
    if ids:
        X["id"] = [f"c{i}" for i in rng.integers(0, ids, n)]
    return X, rng.standard_normal(n)


@pytest.mark.parametrize("n, n_numeric, ids, hidden, solver, early", [
    (100, 30, 0, (1000, 1000), "adam", False),   # the parameters take it
    (100, 30, 0, (300, 300), "lbfgs", False),
    (20_000, 30, 0, (20,), "sgd", True),         # the data take it
    (20_000, 2, 5_000, (16,), "adam", False),    # a sparse encoding
])
def test_the_estimate_covers_a_measured_fit(n, n_numeric, ids, hidden, solver, early):
    # rev-224 measured peaks of 3x the estimate. Small real fits here,
    # measured as fix-229 calibrated the estimate: tracemalloc's peak over
    # build_pipeline(...).fit, once the kernels are compiled.
    X, y = _frame(n, n_numeric, ids)
    dtype = np.float32

    def estimator(hidden, max_iter):
        return fastbp.MLPRegressor(hidden_layer_sizes=hidden, solver=solver, max_iter=max_iter,
                                   early_stopping=early, random_state=0)

    # One BLAS thread, as fix-229 calibrated: with two, a wide network's
    # steps split between the threads, whose buffers the estimate does not
    # count (a (1000, 1000) Adam fit peaked at 44.0 MB against 36.7
    # estimated, in CI; see the stop's note).
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")
        cli_train.build_pipeline(X[:300], estimator((3,), 1), dtype).fit(X[:300], y[:300])
        est = estimator(hidden, 2)
        held, needed, first_layer, network = cli_memory.fit_size(X, dtype, est, 1)
        tracemalloc.start()
        try:
            cli_train.build_pipeline(X, est, dtype).fit(X, y)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert held == X.memory_usage(deep=True).sum()
    assert first_layer[1] == hidden[0] and network > 0
    # An estimate: not under the peak by more than a tenth, nor far over it.
    assert 0.9 * peak <= needed <= 1.5 * peak, (needed, peak)


def test_the_file_as_read_and_its_float64_copy_count(monkeypatch):
    # 100,000 rows of 10 float64 columns: 7.6 MiB as read, 7.6 MiB
    # standardised in float64, 3.8 MiB encoded in float32. Before, only
    # twice the encoding was counted (7.6 MiB, within half of 18 MiB).
    X, _ = _frame(100_000, 10)
    estimator = fastbp.MLPRegressor(hidden_layer_sizes=(10,))
    monkeypatch.setattr(cli_memory, "_free_memory", lambda: None)
    monkeypatch.setattr(cli_memory, "_available_memory", lambda: 18 * 2**20)
    with pytest.raises(cli_messages.CLIError) as info:
        cli_memory.check_one_hot_size(X, np.float32, "t.csv", estimator)
    message = str(info.value)
    assert message.startswith("t.csv: the fit would take about ")
    assert "(an estimate), more than the memory available (18.0 MiB)" in message
    assert "the file's 100000 rows as read take 7.6 MiB" in message
    assert "its 10 numeric column(s) standardised in float64 take 7.6 MiB" in message
    assert "text column" not in message and message.endswith("train on fewer rows")
    monkeypatch.setattr(cli_memory, "_available_memory", lambda: 40 * 2**20)
    cli_memory.check_one_hot_size(X, np.float32, "t.csv", estimator)


def test_the_fit_is_compared_with_the_memory_free(monkeypatch):
    # MemAvailable leaves out what the process holds already (the frame):
    # the fit's new allocations are what must fit in it.
    X, _ = _frame(100_000, 10)
    estimator = fastbp.MLPRegressor(hidden_layer_sizes=(10,))
    held, needed, _, _ = cli_memory.fit_size(X, np.float32, estimator, 1)
    monkeypatch.setattr(cli_memory, "_available_memory", lambda: 2**40)
    monkeypatch.setattr(cli_memory, "_free_memory", lambda: needed)
    cli_memory.check_one_hot_size(X, np.float32, "t.csv", estimator)
    monkeypatch.setattr(cli_memory, "_free_memory", lambda: needed - 1)
    with pytest.raises(cli_messages.CLIError, match=r"the fit would need about 11\.\d MiB more "
                                                r"memory at its peak \(an estimate\), more "
                                                r"than the memory free \(11\.\d MiB\)"):
        cli_memory.check_one_hot_size(X, np.float32, "t.csv", estimator)
    # With neither known, nothing is checked.
    monkeypatch.setattr(cli_memory, "_free_memory", lambda: None)
    monkeypatch.setattr(cli_memory, "_available_memory", lambda: None)
    cli_memory.check_one_hot_size(X, np.float32, "t.csv", estimator)


def test_free_memory_reads_memavailable(tmp_path, monkeypatch):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24684000 kB\nMemFree:        20000000 kB\n"
                       "MemAvailable:   22000000 kB\nBuffers:           1000 kB\n")
    monkeypatch.setattr(cli_memory, "_MEMINFO", str(meminfo))
    assert cli_memory._free_memory() == 22_000_000 * 1024
    meminfo.write_text("MemTotal:       24684000 kB\nMemFree:        20000000 kB\n")
    assert cli_memory._free_memory() is None
    monkeypatch.setattr(cli_memory, "_MEMINFO", str(tmp_path / "absent"))
    assert cli_memory._free_memory() is None


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_numeric_file_names_the_network_not_text_columns(tmp_path, capsys, solver):
    # rev-224: "one-hot encoding the text column(s)  would take ...; drop
    # such a column" of a file without one.
    X, y = _frame(50, 30)
    X.assign(y=y).to_csv(tmp_path / "small_num.csv", index=False)
    assert main(["train", "--data", str(tmp_path / "small_num.csv"), "--target", "y",
                 "--hidden-layer-sizes", "1000000000", "--solver", solver, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "text column" not in err and "drop" not in err
    assert "the network's parameters (first layer 30 x 1000000000 weights) take " in err
    assert f"with the {solver} solver's state" in err
    assert "(an estimate)" in err
    assert "give the first hidden layer fewer units (--hidden-layer-sizes)" in err
    assert ("--solver adam" in err) == (solver == "lbfgs")
    assert "fewer rows" not in err


def test_an_id_column_that_widens_the_first_layer_is_named(monkeypatch):
    # 20,000 IDs: a CSR of 0.3 MiB, but a first layer of 20,000 x 100
    # float64 weights, 130 MiB at Adam's peak.
    X = pd.DataFrame({"id": [f"c{i}" for i in range(20_000)]})
    monkeypatch.setattr(cli_memory, "_free_memory", lambda: None)
    monkeypatch.setattr(cli_memory, "_available_memory", lambda: 64 * 2**20)
    estimator = fastbp.MLPClassifier(hidden_layer_sizes=(100,))
    with pytest.raises(cli_messages.CLIError) as info:
        cli_memory.check_one_hot_size(X, np.float64, "t.csv", estimator, n_outputs=1)
    message = str(info.value)
    # fix-234: the column is named with the first layer it widens.
    assert ("one-hot encoding the text column(s) 'id' (20000 distinct values) makes a sparse "
            "matrix") in message
    assert ("and a first layer of 20000 x 100 weights: the network's parameters take "
            "130.0 MiB with the adam solver's state and the activations (an estimate)") in message
    assert "more than the memory available (64.0 MiB)" in message
    assert ("drop a text column if it is an ID or free text, or group its values into fewer "
            "categories; or give the first hidden layer fewer units") in message


def test_a_text_column_that_does_not_widen_the_first_layer_is_not_blamed(monkeypatch):
    # fix-234: the text columns are named with the first layer only where
    # they make it wide; three colours beside 30 numeric columns do not.
    X, _ = _frame(50, 30)
    X["colour"] = np.random.default_rng(0).choice(["red", "green", "blue"], 50)
    monkeypatch.setattr(cli_memory, "_free_memory", lambda: None)
    monkeypatch.setattr(cli_memory, "_available_memory", lambda: 16 * 2**20)
    estimator = fastbp.MLPRegressor(hidden_layer_sizes=(100_000,))
    with pytest.raises(cli_messages.CLIError) as info:
        cli_memory.check_one_hot_size(X, np.float32, "t.csv", estimator)
    message = str(info.value)
    assert "the network's parameters (first layer 33 x 100000 weights) take " in message
    assert "a first layer of" not in message and "text column" not in message
    assert message.endswith("give the first hidden layer fewer units (--hidden-layer-sizes)")
