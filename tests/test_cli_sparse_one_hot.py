"""fix-184: the CLI's one-hot encoding stays sparse (CSR) where it is mostly
zeros, so that an ID-like text column costs memory by its nonzeros."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import fastbp
import fastbp.cli_data.columns as cli_columns
import fastbp.cli_data.memory as cli_memory
import fastbp.cli_data.messages as cli_messages
import fastbp.cli_data.train as cli_train
from fastbp.cli import main


def _id_frame(n=2000, ids=1500, seed=0):
    """The reviewer's repro, scaled down: an ID column of about ``ids``
    distinct values, one numeric column, a class target."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    return pd.DataFrame({"user": [f"u{v}" for v in rng.integers(0, ids, n)], "x": x,
                         "y": np.where(x > 0, "yes", "no")})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_id_column_is_encoded_as_csr_of_the_model_dtype(dtype):
    frame = _id_frame()
    X = frame.drop(columns="y")
    pipe = cli_train.build_pipeline(X, fastbp.MLPClassifier(hidden_layer_sizes=(4,)), dtype)
    Xt = pipe[0].fit_transform(X)
    width = X["user"].nunique()
    assert sp.issparse(Xt) and Xt.format == "csr"
    assert Xt.dtype == dtype and Xt.shape == (2000, 1 + width)
    # One one-hot entry and one numeric value a row: memory by nnz.
    assert Xt.nnz == 2 * 2000
    assert cli_memory.encoded_size(X, dtype)[:3] == (True, Xt.nnz, Xt.shape[1])


@pytest.mark.parametrize("categories", [2, 3, 5, 6, 40])
def test_encoded_size_predicts_what_the_pipeline_builds(categories):
    # ColumnTransformer's sparse_threshold decides: with one numeric
    # column, the density is 2 / (1 + categories), below 0.3 from 6 on.
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"x": rng.standard_normal(300),
                      "c": [f"k{i % categories}" for i in range(300)]})
    Xt = cli_train.build_pipeline(X, fastbp.MLPRegressor(), np.float32)[0].fit_transform(X)
    sparse, nnz, n_columns, size, _ = cli_memory.encoded_size(X, np.float32)
    assert sp.issparse(Xt) == sparse == (categories >= 6)
    assert Xt.shape[1] == n_columns and Xt.dtype == np.float32
    if sparse:
        assert Xt.nnz == nnz
        assert size == Xt.data.nbytes + Xt.indices.nbytes + Xt.indptr.nbytes
    else:
        assert type(Xt) is np.ndarray and size == Xt.nbytes


def test_a_low_cardinality_text_column_stays_dense():
    X = pd.DataFrame({"x1": np.arange(50.0), "x2": np.ones(50),
                      "colour": ["red", "green", "blue"] * 16 + ["red", "red"]})
    Xt = cli_train.build_pipeline(X, fastbp.MLPClassifier(), np.float64)[0].fit_transform(X)
    # Density (2 + 1) / (2 + 3) = 0.6, above 0.3: dense, C order.
    assert type(Xt) is np.ndarray and Xt.dtype == np.float64 and Xt.shape == (50, 5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cli_trains_on_csr_saves_loads_and_predicts(tmp_path, capsys, monkeypatch, dtype):
    frame = _id_frame()
    frame.to_csv(tmp_path / "t.csv", index=False)
    # A later file: IDs training saw and some it never did.
    later = _id_frame(n=200, ids=3000, seed=1)
    later.to_csv(tmp_path / "v.csv", index=False)
    seen = []
    fit = fastbp.MLPClassifier.fit

    def spy(self, X, y, *args, **kwargs):
        seen.append(X)
        return fit(self, X, y, *args, **kwargs)

    monkeypatch.setattr(fastbp.MLPClassifier, "fit", spy)
    # Dense, 2000 x 1100 columns would be about 9 (float32) or 18 MB (the
    # check asks for four times that); the CSR is about 40 kB.
    monkeypatch.setattr(cli_memory, "_available_memory", lambda: 16 * 2**20)
    model = tmp_path / "m.fastbp"
    assert main(["train", "--data", str(tmp_path / "t.csv"), "--target", "y", "--epochs", "3",
                 "--hidden-layer-sizes", "8", "--dtype", dtype, "--quiet",
                 "--valid", str(tmp_path / "v.csv"), "--model-out", str(model)]) == 0
    out, err = capsys.readouterr()
    assert len(seen) == 1 and sp.issparse(seen[0]) and seen[0].dtype == np.dtype(dtype)
    # --valid scores the model through the sparse encoding, and names the
    # IDs training never saw.
    assert "column 'user' holds categories training never saw" in err
    assert "accuracy" in out

    pipe = fastbp.load(model)
    assert pipe.named_steps["preprocess"].sparse_output_
    assert pipe.named_steps["model"].coefs_[0].dtype == np.dtype(dtype)
    preds = tmp_path / "p.csv"
    assert main(["predict", "--model", str(model), "--data", str(tmp_path / "v.csv"),
                 "--out", str(preds)]) == 0
    predicted = pd.read_csv(preds)["y"]
    assert len(predicted) == 200 and set(predicted) <= {"yes", "no"}
    np.testing.assert_array_equal(predicted, pipe.predict(later.drop(columns="y")))
    assert "holds categories training never saw" in capsys.readouterr().err
    assert main(["predict", "--model", str(model), "--data", str(tmp_path / "v.csv"),
                 "--out", str(preds), "--proba"]) == 0
    np.testing.assert_allclose(pd.read_csv(preds).sum(axis=1), 1.0, rtol=1e-6)
    assert main(["evaluate", "--model", str(model), "--data", str(tmp_path / "v.csv")]) == 0
    assert "accuracy: " in capsys.readouterr().out


def test_note_unseen_categories_reads_a_sparse_encoding(tmp_path, capsys):
    frame = _id_frame(n=300, ids=200)
    X, y = frame.drop(columns="y"), frame["y"]
    pipe = cli_train.build_pipeline(X, fastbp.MLPClassifier(hidden_layer_sizes=(4,),
                                                           max_iter=2), np.float32)
    pipe.fit(X, y)
    new = pd.DataFrame({"user": ["u1", "never", "seen"], "x": [0.0, 1.0, 2.0]})
    new.loc[0, "user"] = X["user"].iloc[0]
    cli_columns.note_unseen_categories(pipe, new, "n.csv")
    assert ("note: n.csv: column 'user' holds categories training never saw ('never', "
            "'seen'; 2 row(s))") in capsys.readouterr().err


@pytest.mark.parametrize("memory, refused", [(2**20, True), (16 * 2**20, False)])
def test_the_size_check_budgets_the_sparse_encoding(memory, refused, monkeypatch):
    # 2**15 IDs in 2**15 rows: 4 GiB dense in float32, which was refused at
    # any ordinary memory; as CSR 2**15 x (4 + 4) bytes plus the row
    # pointers, 384 kB, refused only where even that is over a quarter.
    X = pd.DataFrame({"id": [f"c{i}" for i in range(2**15)]})
    monkeypatch.setattr(cli_memory, "_available_memory", lambda: memory)
    if refused:
        with pytest.raises(cli_messages.CLIError,
                           match=r"one-hot encoding the text column\(s\) 'id' \(32768 distinct "
                                 r"values\) would take a sparse matrix of 32768 stored values of "
                                 r"float32 \(32768 rows x 32768 columns\), 0\.4 MiB \(the fit "
                                 r"needs twice that\), more than a quarter of the memory "
                                 r"available \(1\.0 MiB\)"):
            cli_memory.check_one_hot_size(X, np.float32, "t.csv")
    else:
        cli_memory.check_one_hot_size(X, np.float32, "t.csv")


def test_the_size_check_keeps_the_dense_estimate_for_a_dense_encoding(monkeypatch):
    # Three categories beside two numeric columns: dense (density 0.6), of
    # 2000 x 5 float64 values, 80,000 bytes.
    X = pd.DataFrame({"a": np.zeros(2000), "b": np.zeros(2000),
                      "c": ["p", "q", "r", "p"] * 500})
    assert cli_memory.encoded_size(X, np.float64)[0] is False
    monkeypatch.setattr(cli_memory, "_available_memory", lambda: 4 * 80_000)
    cli_memory.check_one_hot_size(X, np.float64, "t.csv")
    monkeypatch.setattr(cli_memory, "_available_memory", lambda: 4 * 80_000 - 1)
    with pytest.raises(cli_messages.CLIError, match=r"'c' \(3 distinct values\) would take "
                                                r"2000 rows x 5 columns of float64"):
        cli_memory.check_one_hot_size(X, np.float64, "t.csv")
