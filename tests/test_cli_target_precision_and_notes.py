"""rev-300's review of the command line's standardised regression target:
predictions came back in the model's float32 (a target near 1e9 on a grid
of 64 units: R2 -0.01 from a model whose training loss was 9e-4), a
poisson fit got the note to drop a flag it never passed, a constant target
was said to have standard deviation 1, and a year column was noted as a
row identifier."""
import numpy as np
import pandas as pd

import fastbp
from fastbp.cli import main


def _train(capsys, *args):
    status = main(["train", *args, "--quiet"])
    out, err = capsys.readouterr()
    return status, out, err


def test_predictions_near_a_large_offset_keep_the_models_precision(tmp_path, capsys):
    rng = np.random.RandomState(0)
    a = rng.standard_normal(400)
    frame = pd.DataFrame({"a": a, "y": 1e9 + 10 * a})
    frame.to_csv(tmp_path / "big.csv", index=False, float_format="%.17g")
    model = tmp_path / "m.fastbp"
    status, out, err = _train(capsys, "--data", str(tmp_path / "big.csv"), "--target", "y",
                              "--epochs", "60", "--hidden-layer-sizes", "8",
                              "--learning-rate-init", "0.01", "--model-out", str(model))
    assert status == 0, err
    loaded = fastbp.load(model)
    assert loaded.named_steps["model"].regressor_.coefs_[0].dtype == np.float32
    pred = loaded.predict(frame[["a"]])
    assert pred.dtype == np.float64
    # Within a small share of the target's spread (10), not on float32's
    # grid of 64 at 1e9.
    assert np.sqrt(np.mean((pred - frame["y"]) ** 2)) < 2.0
    assert main(["evaluate", "--model", str(model), "--data", str(tmp_path / "big.csv")]) == 0
    assert float(capsys.readouterr().out.split("R2: ")[1].split()[0]) > 0.9


def test_poisson_gets_no_note_about_a_flag_it_did_not_pass(tmp_path, capsys):
    rng = np.random.RandomState(1)
    a = rng.standard_normal(200)
    pd.DataFrame({"a": a, "cnt": rng.poisson(1000 + 300 * (a > 0))}).to_csv(
        tmp_path / "counts.csv", index=False)
    status, out, err = _train(capsys, "--data", str(tmp_path / "counts.csv"), "--target", "cnt",
                              "--task", "regression", "--set", "loss=poisson", "--epochs", "2",
                              "--hidden-layer-sizes", "4", "--model-out",
                              str(tmp_path / "p.fastbp"))
    assert status == 0, err
    assert "--no-scale-target" not in err and "trains slowly" not in err


def test_a_constant_target_is_said_to_have_no_spread(tmp_path, capsys):
    pd.DataFrame({"a": np.arange(40.0), "y": np.full(40, 3.0)}).to_csv(
        tmp_path / "const.csv", index=False)
    status, out, err = _train(capsys, "--data", str(tmp_path / "const.csv"), "--target", "y",
                              "--task", "regression", "--epochs", "2",
                              "--hidden-layer-sizes", "4", "--model-out",
                              str(tmp_path / "c.fastbp"))
    assert status == 0, err
    assert "(mean 3, standard deviation 0)" in out, out


def test_a_year_column_is_not_noted_as_an_identifier(tmp_path, capsys):
    rng = np.random.RandomState(2)
    frame = pd.DataFrame({"year": np.arange(1960, 2020), "x": rng.standard_normal(60),
                          "label": ["a", "b"] * 30})
    frame.to_csv(tmp_path / "years.csv", index=False)
    status, out, err = _train(capsys, "--data", str(tmp_path / "years.csv"), "--target",
                              "label", "--epochs", "1", "--hidden-layer-sizes", "4",
                              "--model-out", str(tmp_path / "y.fastbp"))
    assert status == 0, err
    assert "identifier" not in err, err


def test_the_id_note_quotes_a_name_for_the_shell(tmp_path, capsys):
    rng = np.random.RandomState(3)
    frame = pd.DataFrame({"customer id": rng.permutation(np.arange(100001, 100061)),
                          "x": rng.standard_normal(60), "label": ["a", "b"] * 30})
    frame.to_csv(tmp_path / "ids.csv", index=False)
    status, out, err = _train(capsys, "--data", str(tmp_path / "ids.csv"), "--target",
                              "label", "--epochs", "1", "--hidden-layer-sizes", "4",
                              "--model-out", str(tmp_path / "i.fastbp"))
    assert status == 0, err
    assert "fastbp predict --keep 'customer id'" in err, err


def test_a_time_word_must_be_a_whole_word_of_the_name():
    # rev-302: "candidate" and "update_no" hold "date", "sometimes" holds
    # "time": their consecutive integers lost the identifier note.
    from fastbp.cli_data.columns import _like_a_row_id

    values = pd.Series(np.arange(1, 61))
    for name in ("candidate", "update_no", "sometimes", "record"):
        assert _like_a_row_id(name, values), name
    for name in ("year", "releaseYear", "order_date", "Week No"):
        assert not _like_a_row_id(name, values), name
