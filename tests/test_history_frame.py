"""fix-243: fastbp.history_frame (pd.DataFrame(model.history_) failed on the
2-D grad_norm) and the learning-rate panel's scale and steps."""

import sys
import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastbp
from fastbp import MLPClassifier, TrainingHistoryDisplay

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:400] / 16, y[:400]


def quiet_fit(model, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y, **kwargs)


@pytest.fixture(scope="module")
def early(data):
    return quiet_fit(MLPClassifier((8, 6), early_stopping=True, max_iter=4,
                                   n_iter_no_change=50, random_state=0), *data)


def test_history_frame_has_a_row_per_epoch_and_the_history_values(early):
    h = early.history_
    with pytest.raises(ValueError, match="1-dimensional"):
        pd.DataFrame(h)  # why history_frame exists
    frame = fastbp.history_frame(early)
    assert len(frame) == early.n_iter_ == 4
    assert frame.columns[0] == "epoch"
    assert frame["epoch"].tolist() == [1, 2, 3, 4]
    assert {"loss", "val_loss", "val_score", "learning_rate",
            "grad_norm_layer1", "grad_norm_layer2", "grad_norm_layer3"} <= set(frame.columns)
    assert "grad_norm" not in frame.columns and "grad_norm_layer4" not in frame.columns
    for key in ("loss", "val_loss", "val_score", "learning_rate", "epoch_time"):
        np.testing.assert_array_equal(frame[key].to_numpy(), h[key])
    for layer in range(3):
        np.testing.assert_array_equal(frame[f"grad_norm_layer{layer + 1}"].to_numpy(),
                                      h["grad_norm"][:, layer])
    # The frame read back as a dict plots, as a --history-out CSV does.
    disp = TrainingHistoryDisplay(frame.to_dict("list")).plot()
    np.testing.assert_array_equal(disp.lines_["grad_norm"][1].get_ydata(), h["grad_norm"][:, 1])
    import matplotlib.pyplot as plt
    plt.close(disp.figure_)


def test_history_frame_after_lbfgs_counts_iterations(data):
    model = quiet_fit(MLPClassifier((8,), solver="lbfgs", max_iter=5, random_state=0), *data)
    frame = fastbp.history_frame(model)
    assert frame.columns.tolist() == ["iteration", "loss", "epoch_time"]
    assert len(frame) == len(model.history_["loss"])
    np.testing.assert_array_equal(frame["loss"].to_numpy(), model.history_["loss"])


def test_history_frame_after_partial_fit(data):
    X, y = data
    model = MLPClassifier((8,), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.partial_fit(X, y, classes=np.unique(y))
        model.partial_fit(X, y)
    frame = fastbp.history_frame(model)
    assert len(frame) == len(model.history_["loss"]) == len(model.loss_curve_) == 2
    assert frame["epoch"].tolist() == [1, 2]
    np.testing.assert_array_equal(frame["loss"].to_numpy(), model.loss_curve_)
    assert "grad_norm_layer2" in frame.columns


def test_history_frame_unwraps_a_pipeline(data, early):
    pipe = make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=2, random_state=0))
    quiet_fit(pipe, *data)
    pd.testing.assert_frame_equal(fastbp.history_frame(pipe),
                                  fastbp.history_frame(pipe[-1]))


def test_history_frame_refuses_an_unfitted_model():
    with pytest.raises(NotFittedError):
        fastbp.history_frame(MLPClassifier())


def test_history_frame_without_pandas_names_what_to_install(early, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r'fastbp\[cli\]'):
        fastbp.history_frame(early)


def _old_write_history_columns(estimator):
    # The CLI's construction before fix-243, kept here to pin its CSV.
    from fastbp.display import step_name

    h = estimator.history_
    index = step_name(estimator)
    columns = {index: np.arange(1, len(h["loss"]) + 1)}
    for key, values in h.items():
        values = np.asarray(values)
        if values.ndim == 2:
            for layer in range(values.shape[1]):
                columns[f"{key}_layer{layer + 1}"] = values[:, layer]
        elif len(values) == len(columns[index]):
            columns[key] = values
    return pd.DataFrame(columns)


@pytest.mark.parametrize("suffix", ["csv", "tsv"])
def test_cli_history_csv_is_unchanged_and_is_history_frame(early, data, tmp_path, monkeypatch,
                                                           suffix):
    from fastbp.cli_data.outputs import write_history
    from fastbp.cli_data.tables import write_table

    lbfgs = quiet_fit(MLPClassifier((8,), solver="lbfgs", max_iter=3, random_state=0), *data)
    for n, model in enumerate([early, lbfgs]):
        new, old = tmp_path / f"new{n}.{suffix}", tmp_path / f"old{n}.{suffix}"
        write_history(model, str(new))
        write_table(_old_write_history_columns(model), str(old))
        assert new.read_bytes() == old.read_bytes()
    # The CLI writes the public frame itself: the two cannot drift apart.
    import fastbp.history

    monkeypatch.setattr(fastbp.history, "history_frame",
                        lambda est: pd.DataFrame({"epoch": [1], "marker": [7.0]}))
    write_history(early, str(tmp_path / f"patched.{suffix}"))
    assert "marker" in (tmp_path / f"patched.{suffix}").read_text()


# --- the learning-rate panel ---

def test_a_step_schedule_spanning_decades_gets_a_log_axis_and_steps(data):
    import matplotlib.pyplot as plt

    model = quiet_fit(MLPClassifier((8,), solver="sgd", learning_rate="step", step_size=2,
                                    gamma=0.1, max_iter=10, random_state=0), *data)
    rates = model.history_["learning_rate"]
    assert len(rates) == 10 and rates.max() / rates.min() > 1e3
    disp = TrainingHistoryDisplay.from_estimator(model)
    assert disp.axes_[2].get_yscale() == "log"
    assert disp.lines_["learning_rate"].get_drawstyle() == "steps-post"
    np.testing.assert_array_equal(disp.lines_["learning_rate"].get_ydata(), rates)
    plt.close(disp.figure_)

    # A scale the caller set stays, as the loss panel's does; so does a
    # drawstyle given.
    fig, ax = plt.subplots(1, 3)
    ax[2].set_yscale("symlog")
    disp = TrainingHistoryDisplay.from_estimator(model, ax=ax, drawstyle="default")
    assert ax[2].get_yscale() == "symlog"
    assert disp.lines_["learning_rate"].get_drawstyle() == "default"
    plt.close(fig)


def test_a_constant_rate_stays_linear(early):
    import matplotlib.pyplot as plt

    assert np.ptp(early.history_["learning_rate"]) == 0  # adam's constant rate
    disp = TrainingHistoryDisplay.from_estimator(early)
    assert disp.axes_[2].get_yscale() == "linear"
    assert disp.lines_["learning_rate"].get_drawstyle() == "steps-post"
    plt.close(disp.figure_)
