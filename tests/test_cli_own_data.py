"""Review 246 of the command line on your own data: files read in Python as
``fastbp predict`` reads them (``fastbp.read_data``), ``predict --keep``,
line numbers of missing feature values, the early-stopping split error in
command-line terms, and the sparse path named by ``fastbp compile``."""
import numpy as np
import pandas as pd
import pytest

import fastbp
from fastbp.cli import main


@pytest.fixture(scope="module")
def sev_model(tmp_path_factory):
    """A model trained by the command line on a text column whose values
    are None, Low and High, and the file of new rows to predict."""
    tmp = tmp_path_factory.mktemp("sev")
    rng = np.random.RandomState(0)

    def table(n):
        sev = rng.choice(["None", "Low", "High"], n)
        x = rng.standard_normal(n)
        y = np.where(sev == "None", 0, np.where(sev == "High", 1, (x > 0).astype(int)))
        return pd.DataFrame({"sev": sev, "x": x, "y": y})

    table(300).to_csv(tmp / "sev.csv", index=False)
    new = table(300)
    new.to_csv(tmp / "sev_new.csv", index=False)
    assert main(["train", "--data", str(tmp / "sev.csv"), "--target", "y", "--epochs", "30",
                 "--hidden-layer-sizes", "8", "--model-out", str(tmp / "sev.fastbp"),
                 "--quiet"]) == 0
    return tmp


def test_read_data_predicts_as_the_command_line(sev_model, capsys):
    tmp = sev_model
    assert main(["predict", "--model", str(tmp / "sev.fastbp"), "--data",
                 str(tmp / "sev_new.csv"), "--out", str(tmp / "p.csv")]) == 0
    cli = pd.read_csv(tmp / "p.csv")["y"].to_numpy()
    model = fastbp.load(tmp / "sev.fastbp")
    X = fastbp.read_data(tmp / "sev_new.csv", model)
    assert list(X.columns) == ["sev", "x"]  # the target dropped
    assert (X["sev"] == "None").sum() > 50  # a category, not a missing value
    # which a plain read takes for a missing value
    assert pd.read_csv(tmp / "sev_new.csv")["sev"].isna().sum() == (X["sev"] == "None").sum()
    np.testing.assert_array_equal(model.predict(X), cli)
    assert "read_data" in fastbp.__all__


def test_read_data_keeps_codes_with_leading_zeros(tmp_path):
    rng = np.random.RandomState(1)
    codes = rng.choice(["02134", "02139", "10001"], 120)
    frame = pd.DataFrame({"zip": codes, "x": rng.standard_normal(120),
                          "y": (codes == "10001").astype(int)})
    frame.to_csv(tmp_path / "z.csv", index=False)
    assert main(["train", "--data", str(tmp_path / "z.csv"), "--target", "y", "--epochs",
                 "5", "--hidden-layer-sizes", "4", "--model-out", str(tmp_path / "z.fastbp"),
                 "--quiet"]) == 0
    frame.drop(columns="y").to_csv(tmp_path / "z_new.csv", index=False)
    assert main(["predict", "--model", str(tmp_path / "z.fastbp"), "--data",
                 str(tmp_path / "z_new.csv"), "--out", str(tmp_path / "p.csv")]) == 0
    model = fastbp.load(tmp_path / "z.fastbp")
    X = fastbp.read_data(str(tmp_path / "z_new.csv"), model)
    assert X["zip"].tolist() == codes.tolist()
    np.testing.assert_array_equal(model.predict(X),
                                  pd.read_csv(tmp_path / "p.csv")["y"].to_numpy())


def test_read_data_refuses_what_it_cannot_read(sev_model, tmp_path):
    model = fastbp.load(sev_model / "sev.fastbp")
    with pytest.raises(FileNotFoundError, match="no such file"):
        fastbp.read_data(tmp_path / "absent.csv", model)
    pd.DataFrame({"sev": ["Low"], "y": [1]}).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(ValueError, match=r"does not have the model's columns: missing \['x'\]"):
        fastbp.read_data(tmp_path / "short.csv", model)
    with pytest.raises(ValueError, match="written by 'fastbp train --data'"):
        fastbp.read_data(sev_model / "sev_new.csv", fastbp.MLPClassifier())
    pd.DataFrame({"sev": ["Odd"], "x": [0.0]}).to_csv(tmp_path / "odd.csv", index=False)
    with pytest.warns(UserWarning, match="categories training never saw"):
        fastbp.read_data(tmp_path / "odd.csv", model)


def test_read_data_names_the_extra_without_pandas(sev_model, monkeypatch):
    import sys

    model = fastbp.load(sev_model / "sev.fastbp")
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r'fastbp\[cli\]'):
        fastbp.read_data(sev_model / "sev_new.csv", model)


def _predict(tmp, frame, *options):
    frame.to_csv(tmp / "score.csv", index=False)
    return main(["predict", "--model", str(tmp / "sev.fastbp"), "--data",
                 str(tmp / "score.csv"), "--out", str(tmp / "keep.csv"), *options])


def test_predict_keep_copies_id_columns_in_front(sev_model, capsys):
    tmp = sev_model
    new = pd.read_csv(tmp / "sev_new.csv", keep_default_na=False)
    plain = new[["sev", "x"]]
    assert _predict(tmp, plain) == 0
    expected = pd.read_csv(tmp / "keep.csv")["y"]
    ids = [f"{i:05d}" for i in range(len(new))]  # zeros a plain read would drop
    scored = plain.assign(id=ids, region=np.where(np.arange(len(new)) % 2, "n", "s"))
    assert _predict(tmp, scored, "--keep", "region", "--keep", "id", "--keep", "x") == 0
    out = pd.read_csv(tmp / "keep.csv", dtype={"id": str})
    assert list(out.columns) == ["region", "id", "x", "y"]
    assert out["id"].tolist() == ids
    np.testing.assert_allclose(out["x"], new["x"])
    # Not passed to the model: the same predictions as without them.
    np.testing.assert_array_equal(out["y"], expected)
    assert _predict(tmp, scored.drop(columns="region"), "--keep", "id", "--proba") == 0, capsys.readouterr().err
    assert list(pd.read_csv(tmp / "keep.csv").columns) == ["id", "proba_0", "proba_1"]


def test_predict_keep_refuses_other_and_absent_columns(sev_model, capsys):
    tmp = sev_model
    new = pd.read_csv(tmp / "sev_new.csv", keep_default_na=False)[["sev", "x"]]
    scored = new.assign(id=range(len(new)), extra=1)
    assert _predict(tmp, scored, "--keep", "id") == 2
    err = capsys.readouterr().err
    assert "does not have the model's columns: unexpected ['extra']" in err
    assert "to copy it into --out beside the predictions" in err
    assert err.rstrip().endswith("pass --keep extra")
    assert _predict(tmp, new, "--keep", "id") == 2
    err = capsys.readouterr().err
    assert "--keep id:" in err and "has no column 'id'" in err
    assert _predict(tmp, scored.drop(columns="extra"), "--keep", "id", "--keep", "id") == 2
    assert "more than once" in capsys.readouterr().err


def test_missing_numeric_features_name_their_lines(sev_model, tmp_path, capsys):
    rng = np.random.RandomState(2)
    age = rng.standard_normal(40).round(3).astype(object)
    age[[3, 12, 20, 21, 25, 30, 33]] = ""
    lines = "\n".join(f"{a},{i % 2}" for i, a in enumerate(age))
    # A blank line after the header: line numbers are the file's, not the rows'.
    (tmp_path / "new_nan.csv").write_text(f"age,label\n\n{lines}\n")
    assert main(["train", "--data", str(tmp_path / "new_nan.csv"), "--target", "label",
                 "--epochs", "2", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert ("numeric column(s) ['age'] have missing values (7 row(s): lines "
            "[6, 15, 23, 24, 28] ...); fill or drop them first") in err
    # predict's check too
    new = pd.read_csv(sev_model / "sev_new.csv", keep_default_na=False)[["sev", "x"]].head(5)
    new["x"] = new["x"].astype(object)
    new.loc[2, "x"] = ""
    new.to_csv(tmp_path / "p_nan.csv", index=False)
    assert main(["predict", "--model", str(sev_model / "sev.fastbp"), "--data",
                 str(tmp_path / "p_nan.csv"), "--out", str(tmp_path / "p.csv")]) == 2
    assert "['x'] have missing values (1 row(s): lines [4])" in capsys.readouterr().err


@pytest.mark.parametrize("options, advice", [
    (["--validation-fraction", "0.5"],
     "Lower --validation-fraction, pass more samples, or drop --validation-fraction to "
     "train without early stopping."),
    (["--early-stopping"],
     "Raise --validation-fraction, pass more samples, or drop --early-stopping to train "
     "without early stopping."),
    (["--set", "early_stopping=True"],
     "or drop --set early_stopping=True to train without early stopping."),
])
def test_the_early_stopping_split_error_names_the_options(tmp_path, capsys, options, advice):
    (tmp_path / "tiny3.csv").write_text("a,b,label\n1,2,x\n2,3,y\n3,1,x\n")
    assert main(["train", "--data", str(tmp_path / "tiny3.csv"), "--target", "label",
                 "--epochs", "3", "--quiet", *options]) == 2
    err = capsys.readouterr().err
    assert "fastbp: error: early stopping could not split a validation set (" in err
    assert advice in err
    assert "validation_fraction" not in err and "early_stopping=False" not in err


def test_a_too_small_validation_set_names_the_option():
    import argparse

    from fastbp.cli_data.options import command_line_advice

    args = argparse.Namespace(set=[], validation_fraction=0.1, early_stopping=False)
    message = command_line_advice("The validation set is too small. Increase "
                                  "'validation_fraction' or the size of your dataset.",
                                  fastbp.MLPClassifier(), args)
    assert message == ("The validation set is too small. Increase --validation-fraction or "
                       "the size of your dataset.")


def test_compile_help_says_which_files_train_on_sparse_x(capsys):
    with pytest.raises(SystemExit):
        main(["compile", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert ("--sparse warm the kernels for sparse X too: 'train --data' trains on sparse X "
            "where a CSV file has text columns of many values") in help_text


@pytest.mark.parametrize("n_cities, sparse", [(60, True), (2, False)])
def test_the_compile_notice_names_compile_sparse_for_sparse_x(tmp_path, capsys, monkeypatch,
                                                               n_cities, sparse):
    import fastbp.training.compile as compile_module

    # As on a machine where the kernels are not compiled yet.
    monkeypatch.setattr(compile_module, "will_compile", lambda kernel, dtype: True)
    monkeypatch.setattr(compile_module, "compiles_in_memory", lambda kernel: False)
    rng = np.random.RandomState(3)
    pd.DataFrame({"city": [f"c{i % n_cities}" for i in range(120)],
                  "x": rng.standard_normal(120),
                  "y": np.arange(120) % 2}).to_csv(tmp_path / "cities.csv", index=False)
    assert main(["train", "--data", str(tmp_path / "cities.csv"), "--target", "y",
                 "--epochs", "2", "--hidden-layer-sizes", "4", "--quiet"]) == 0
    # On standard error, with the notes (rev-291).
    captured = capsys.readouterr()
    assert "fastbp: compiling" not in captured.out
    notice = [line for line in captured.err.splitlines() if line.startswith("fastbp: compiling")]
    assert len(notice) == 1 and notice[0].endswith("...")
    # (The command names the fit's dtype since fix-265's follow-up.)
    assert ("'fastbp compile --sparse --dtype float32' compiles ahead" in notice[0]) == sparse
