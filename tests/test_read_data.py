"""Review 252 of ``fastbp.read_data`` and ``fastbp predict --keep``: the
notes warned without taking other threads' stderr, kept columns copied as
the file writes them, and ``read_data(..., index_col=...)`` for a file
with an ID column."""
import io
import sys
import threading
import warnings

import numpy as np
import pandas as pd
import pytest

import fastbp
from fastbp.cli import main


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A classifier trained by the command line on a text column ``c`` and
    a numeric column ``x``."""
    tmp = tmp_path_factory.mktemp("m253")
    rng = np.random.RandomState(0)
    c = rng.choice(["a", "b"], 120)
    x = rng.standard_normal(120)
    pd.DataFrame({"c": c, "x": x, "y": ((c == "a") ^ (x > 0)).astype(int)}).to_csv(
        tmp / "train.csv", index=False)
    assert main(["train", "--data", str(tmp / "train.csv"), "--target", "y", "--epochs", "3",
                 "--hidden-layer-sizes", "4", "--model-out", str(tmp / "m.fastbp"),
                 "--quiet"]) == 0
    return tmp


def test_read_data_leaves_other_threads_stderr_alone(model_dir, monkeypatch):
    (model_dir / "unseen.csv").write_text("c,x\nz,0.5\na,1.0\n")
    model = fastbp.load(model_dir / "m.fastbp")
    # The worker writes to whatever sys.stderr is when it writes, as a
    # logging handler or print(file=sys.stderr) does.
    own = io.StringIO()
    monkeypatch.setattr(sys, "stderr", own)
    stop = threading.Event()
    written = []

    def worker():
        n = 0
        while not stop.is_set():
            line = f"worker log line {n}"
            print(line, file=sys.stderr)
            written.append(line)
            n += 1

    thread = threading.Thread(target=worker)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        thread.start()
        try:
            for _ in range(5):
                fastbp.read_data(model_dir / "unseen.csv", model)
        finally:
            stop.set()
            thread.join()
    texts = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert not [t for t in texts if "worker log line" in t]
    assert own.getvalue().splitlines() == written
    # The notes still come as warnings, one per call, without "note: ".
    unseen = [t for t in texts if "categories training never saw" in t]
    assert len(unseen) == 5 and not unseen[0].startswith("note:")
    assert "'z'" in unseen[0]


def test_predict_still_prints_unseen_category_notes(model_dir, capsys):
    (model_dir / "unseen2.csv").write_text("c,x\nz,0.5\na,1.0\n")
    assert main(["predict", "--model", str(model_dir / "m.fastbp"), "--data",
                 str(model_dir / "unseen2.csv"), "--out", str(model_dir / "p2.csv")]) == 0
    err = capsys.readouterr().err
    assert "note: " in err and "categories training never saw ('z'" in err


def test_predict_keep_copies_a_feature_column_as_written(model_dir):
    (model_dir / "raw.csv").write_text("c,x\na,000\nb,1e2\na, 2.50\n")
    out = model_dir / "raw_p.csv"
    assert main(["predict", "--model", str(model_dir / "m.fastbp"), "--data",
                 str(model_dir / "raw.csv"), "--out", str(out), "--keep", "x",
                 "--keep", "c"]) == 0
    written = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(written.columns) == ["x", "c", "y"]
    assert written["x"].tolist() == ["000", "1e2", " 2.50"]
    assert written["c"].tolist() == ["a", "b", "a"]
    # The model still read x as the number it is.
    X = fastbp.read_data(model_dir / "raw.csv", fastbp.load(model_dir / "m.fastbp"))
    assert X["x"].tolist() == [0.0, 100.0, 2.5]


def test_read_data_index_col_reads_an_id_the_model_does_not_read(model_dir):
    (model_dir / "ids.csv").write_text("id,c,x\n00123,a,0.5\n00124,b,-1.0\n")
    model = fastbp.load(model_dir / "m.fastbp")
    with pytest.raises(ValueError, match=r"unexpected \['id'\].*pass index_col='id'"):
        fastbp.read_data(model_dir / "ids.csv", model)
    X = fastbp.read_data(model_dir / "ids.csv", model, index_col="id")
    assert list(X.columns) == ["c", "x"]
    assert X.index.name == "id" and X.index.tolist() == ["00123", "00124"]
    assert X["x"].tolist() == [0.5, -1.0]
    # The predictions fastbp predict --keep id writes beside the same IDs.
    assert main(["predict", "--model", str(model_dir / "m.fastbp"), "--data",
                 str(model_dir / "ids.csv"), "--out", str(model_dir / "ids_p.csv"),
                 "--keep", "id"]) == 0
    cli = pd.read_csv(model_dir / "ids_p.csv", dtype={"id": str}).set_index("id")["y"]
    pd.testing.assert_series_equal(pd.Series(model.predict(X), index=X.index, name="y"), cli,
                                   check_dtype=False)
    # Two columns, one the model reads too (it stays a feature), as written.
    X2 = fastbp.read_data(model_dir / "ids.csv", model, index_col=["id", "x"])
    assert X2.index.names == ["id", "x"]
    assert X2.index.tolist() == [("00123", "0.5"), ("00124", "-1.0")]
    assert X2["x"].tolist() == [0.5, -1.0]


def test_read_data_index_col_refusals_name_the_problem(model_dir):
    (model_dir / "ids2.csv").write_text("id,ref,c,x\n1,r,a,0.5\n")
    model = fastbp.load(model_dir / "m.fastbp")
    with pytest.raises(ValueError, match=r"unexpected \['id', 'ref'\].*index_col=\['id', 'ref'\]"):
        fastbp.read_data(model_dir / "ids2.csv", model)
    with pytest.raises(ValueError, match=r"unexpected \['ref'\].*index_col=\['id', 'ref'\]"):
        fastbp.read_data(model_dir / "ids2.csv", model, index_col="id")
    with pytest.raises(ValueError, match="index_col 'nope': .* has no such column"):
        fastbp.read_data(model_dir / "ids2.csv", model, index_col=["id", "nope"])
    with pytest.raises(ValueError, match=r"index_col names the column\(s\) \['id'\] more"):
        fastbp.read_data(model_dir / "ids2.csv", model, index_col=["id", "id"])
    with pytest.raises(TypeError, match="index_col must be a column name or a list"):
        fastbp.read_data(model_dir / "ids2.csv", model, index_col=0)
