"""The command line's range checks around standardisation: a file to predict
is checked against the training scaler only, values too large to
standardise are named by line, an out-of-range validation file is refused
before training, and a header of years is a header; also the early-stopping
scorer's writable array and the target range check's exact bound. Added
after helper-173's review (each test fails before its fix)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

from fastbp import MLPClassifier
from fastbp.cli import main
from fastbp.estimators import checks


def _regression_file(path, n=300, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(0, 1, n), "b": rng.normal(0, 1e30, n),
                          "c": rng.choice(["x", "y"], n)})
    frame["t"] = frame.a + rng.normal(0, 0.1, n)
    frame.to_csv(path, index=False)
    return frame


def _error_line(err):
    lines = [line for line in err.splitlines() if line.startswith("fastbp: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_a_file_to_predict_is_checked_against_the_training_scaler_only(tmp_path, capsys):
    # helper-173: predict refused a value its own statistics could not
    # standardise (1e300 beside values near 1e30), though the training
    # file's scaler, which predict uses, brings it to a finite 1e270 for a
    # float64 model.
    frame = _regression_file(tmp_path / "reg.csv")
    assert main(["train", "--data", str(tmp_path / "reg.csv"), "--target", "t", "--dtype",
                 "float64", "--epochs", "2", "--quiet", "--model-out",
                 str(tmp_path / "m.fastbp")]) == 0
    frame.loc[3, "b"] = 1e300
    frame.drop(columns="t").to_csv(tmp_path / "big.csv", index=False)
    assert main(["predict", "--model", str(tmp_path / "m.fastbp"), "--data",
                 str(tmp_path / "big.csv"), "--out", str(tmp_path / "p.csv")]) == 0, \
        capsys.readouterr().err
    assert len(pd.read_csv(tmp_path / "p.csv")) == len(frame)


def test_values_too_large_to_standardise_name_only_their_lines(tmp_path, capsys):
    # helper-173: the five largest values were named, ordinary ones among them.
    frame = _regression_file(tmp_path / "reg.csv")
    frame.loc[3, "b"] = 1e300
    frame.to_csv(tmp_path / "sentinel.csv", index=False)
    assert main(["train", "--data", str(tmp_path / "sentinel.csv"), "--target", "t",
                 "--epochs", "2", "--quiet"]) == 2
    line = _error_line(capsys.readouterr().err)
    assert "holds values too large to standardise" in line and "lines [5])" in line


def test_valid_file_out_of_range_is_refused_before_training(tmp_path, capsys):
    # helper-173: the README says --valid is checked before training; the
    # range check came after the model was saved, with exit status 2.
    frame = _regression_file(tmp_path / "reg.csv")
    frame.loc[3, "b"] = 1e75
    frame.to_csv(tmp_path / "valid.csv", index=False)
    model = tmp_path / "m.fastbp"
    assert main(["train", "--data", str(tmp_path / "reg.csv"), "--target", "t", "--epochs",
                 "2", "--quiet", "--model-out", str(model), "--valid",
                 str(tmp_path / "valid.csv")]) == 2
    out, err = capsys.readouterr()
    assert "holds values too large for the model" in _error_line(err)
    assert not model.exists() and "trained" not in out


def test_a_header_of_years_is_a_header(tmp_path, capsys):
    # helper-173: most names being numbers made the header "data": a
    # repeated year got the add-a-header hint, and a mistyped --target too.
    rng = np.random.default_rng(0)
    values = rng.normal(size=(40, 3))
    lines = ["2019,2020,2020,label"] + [f"{a},{b},{c},{i % 2}"
                                        for i, (a, b, c) in enumerate(values)]
    (tmp_path / "dup.csv").write_text("\n".join(lines) + "\n")
    assert main(["train", "--data", str(tmp_path / "dup.csv"), "--target", "label",
                 "--quiet"]) == 2
    line = _error_line(capsys.readouterr().err)
    assert "more than once" in line and "first line holds numbers" not in line
    lines[0] = "2019,2020,2021,label"
    (tmp_path / "years.csv").write_text("\n".join(lines) + "\n")
    assert main(["train", "--data", str(tmp_path / "years.csv"), "--target", "lbl",
                 "--quiet"]) == 2
    line = _error_line(capsys.readouterr().err)
    assert "has no column 'lbl'" in line and "first line holds numbers" not in line


def test_the_early_stopping_scorer_gets_a_writable_array():
    # helper-173: a read-only view of the validation rows missed predict's
    # fast path (each epoch 17 % slower with scoring="accuracy").
    X, y = make_classification(300, 6, random_state=0)
    seen = []

    def scorer(est, X_val, y_val):
        seen.append(X_val.flags.writeable)
        return float(np.mean(est.predict(X_val) == y_val))

    MLPClassifier((8,), early_stopping=True, scoring=scorer, max_iter=3,
                  random_state=0).fit(X, y)
    assert seen and all(seen)


def test_the_target_range_check_skips_its_exact_bound_where_the_crude_one_passes(
        monkeypatch):
    # helper-173: a float64 copy of y and a partition at every call, 20-40
    # times the cost of the crude bound, which settles ordinary targets.
    def refuse(*args, **kwargs):
        raise AssertionError("the exact bound was computed")

    monkeypatch.setattr(checks.np, "partition", refuse)
    y = np.random.default_rng(0).normal(size=5000)
    checks.check_squared_error_range(y, np.float64, batch_size=200, n_rows=len(y))
    monkeypatch.undo()
    y[7] = 3e152  # one large target: the exact bound lets it train
    checks.check_squared_error_range(y, np.float64, batch_size=200, n_rows=len(y))
    with pytest.raises(ValueError, match="too large for training"):
        checks.check_squared_error_range(np.full(5000, 3e152), np.float64, batch_size=200,
                                         n_rows=5000)
