"""Review 259 of ``fastbp train`` on a file whose regression target is
huge: the note on the target's scale (an infinite mean, and NumPy's
overflow warning, for values near float64's largest), the loss lines (80
digits for a target of 1e40), and the errors about a target the model
cannot train on, whose remedies were the Python API's."""
import io
import types
import warnings

import numpy as np
import pandas as pd
import pytest

from fastbp.cli import main
from fastbp.cli_data.columns import note_target_scale
from fastbp.cli_data.train import epoch_printer, final_loss


def write_table(path, target):
    """50 rows: 3 numeric feature columns and the target column ``t``."""
    rng = np.random.RandomState(0)
    frame = pd.DataFrame(rng.standard_normal((len(target), 3)), columns=["a", "b", "c"])
    frame["t"] = target
    frame.to_csv(path, index=False, float_format="%.17g")
    return str(path)


def train(capsys, path, *options):
    status = main(["train", "--data", path, "--target", "t", "--epochs", "2",
                   "--hidden-layer-sizes", "4", *options])
    out, err = capsys.readouterr()
    return status, out, err


def huge_target():
    rng = np.random.RandomState(1)
    return rng.choice([-1.0, 1.0], 50) * rng.uniform(0.5, 1.0, 50) * 1.7e308


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_target_near_float64_max_without_warnings_or_python_advice(tmp_path, capsys, dtype):
    path = write_table(tmp_path / "huge.csv", huge_target())
    # As read (fix-294: standardised by default, which test_cli_target_scaling
    # covers): the estimator's errors, in the command line's words.
    status, out, err = train(capsys, path, "--dtype", dtype, "--no-scale-target")
    assert status == 2
    assert "RuntimeWarning" not in err
    assert " inf" not in err and " nan" not in err
    assert "has mean" in err  # the note, with finite statistics
    assert "TransformedTargetRegressor" not in err
    assert "float64 data" not in err
    assert "the target column 't'" in err
    assert "Rescale the column in the file" in err
    # No dtype holds the squares of 1.7e308: --dtype float64 would not help.
    assert "--dtype float64" not in err


def test_target_beyond_float32_names_the_dtype_option(tmp_path, capsys):
    # Fitted as read (standardised, such a target trains in float32 and
    # predicts in float64: tests/test_cli_target_scaling.py).
    path = write_table(tmp_path / "big.csv", np.linspace(1e39, 3e40, 50))
    status, out, err = train(capsys, path, "--no-scale-target")
    assert status == 2
    assert "beyond float32's range" in err
    assert "Pass --dtype float64, or rescale the column in the file" in err
    assert "fit on float64 data" not in err and "sklearn" not in err


def test_target_squares_beyond_float32_offer_float64(tmp_path, capsys):
    path = write_table(tmp_path / "sq.csv", np.linspace(1e19, 1e20, 50))
    status, out, err = train(capsys, path, "--no-scale-target")
    assert status == 2
    assert "too large for a squared-error loss in float32" in err
    assert "or pass --dtype float64" in err
    assert "TransformedTargetRegressor" not in err


def test_target_beyond_the_loss_sums_names_the_options(tmp_path, capsys):
    # Each fits the squared-error bound, but 50 of them in one mini-batch
    # overflow the float64 loss sum: the estimator's error in the fit.
    path = write_table(tmp_path / "sums.csv", np.linspace(1.9e153, 2.1e153, 50))
    status, out, err = train(capsys, path, "--dtype", "float64", "--no-scale-target")
    assert status == 2
    assert "the largest magnitude of the target column 't', 2.1e+153," in err
    assert "Rescale the column in the file" in err
    assert "lower --batch-size" in err
    assert "TransformedTargetRegressor" not in err


def test_huge_loss_printed_readably(tmp_path, capsys):
    rng = np.random.RandomState(2)
    path = write_table(tmp_path / "e40.csv", 1e40 * (1 + 0.1 * rng.standard_normal(50)))
    status, out, err = train(capsys, path, "--dtype", "float64", "--no-scale-target")
    assert status == 0
    loss_lines = [line for line in out.splitlines() if not line.startswith("data ")]
    assert len(loss_lines) == 3  # two epochs and the summary
    for line in loss_lines:
        number = line.rsplit("loss ", 1)[1]
        assert len(number) <= 12, line
        assert float(number) > 1e70


def test_ordinary_loss_printed_as_before():
    # docs/cli.md: "final loss 0.305824" and "loss 0.3058" per epoch.
    def final(loss):
        return final_loss(types.SimpleNamespace(loss_=loss))

    assert final(0.30582412) == "0.305824"
    assert final(12345.678912) == "12345.678912"
    assert final(6.15e79) == "6.15e+79"
    stream = io.StringIO()
    epoch_printer(stream)(1, 20, {"epoch_time": [0.01], "loss": [0.70851], "val_loss": [0.69671],
                                  "val_score": [-3.2e45]})
    assert stream.getvalue() == ("epoch 1/20 - 0.01s - loss 0.7085 - val_loss 0.6967 - "
                                 "val_score -3.2e+45\n")


def test_target_note_statistics_exact_and_finite(capsys):
    values = np.full(50, 1.7e308) * np.linspace(0.9, 1.0, 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        note_target_scale(values, "t")
    err = capsys.readouterr().err
    expected = np.mean(values / 1e300) * 1e300
    assert f"mean {expected:.4g} " in err
    # Ordinary targets: the same numbers as NumPy's.
    ordinary = np.random.RandomState(3).standard_normal(200) * 300 + 5000
    note_target_scale(ordinary, "t")
    err = capsys.readouterr().err
    assert f"mean {ordinary.mean():.4g} and standard deviation {ordinary.std():.4g};" in err


def test_target_note_silent_where_not_finite(capsys):
    note_target_scale(np.array([1.0, np.inf, 3.0]), "t")
    assert capsys.readouterr().err == ""
