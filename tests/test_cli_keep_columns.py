"""``fastbp predict --keep`` reads only the kept columns again as text
(rev-289: it read every column of the file as text to copy one, 333 MB more
for a 55 MB file), and still copies them as the file writes them, whatever
the file's layout (a trailing comma on each data line, R's row names)."""

import numpy as np
import pandas as pd
import pytest

import fastbp.cli_data.predict as predict_module
from fastbp.cli import main


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("keep53")
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"x": rng.standard_normal(60), "w": rng.standard_normal(60),
                          "y": np.arange(60) % 2})
    frame.to_csv(tmp / "train.csv", index=False)
    assert main(["train", "--data", str(tmp / "train.csv"), "--target", "y", "--epochs", "2",
                 "--hidden-layer-sizes", "4", "--quiet", "--model-out",
                 str(tmp / "m.fastbp")]) == 0
    return tmp


# x written as the file writes it: "1e2" and "007.50" are what --keep copies.
_ROWS = [("1e2", "0.5"), ("007.50", "-1.25"), ("3", "2")]


def _write(path, layout):
    # "note", a column the model does not read, is not read again.
    lines = ["x,note,w"]
    for i, (x, w) in enumerate(_ROWS):
        if layout == "plain":
            lines.append(f"{x},n{i},{w}")
        elif layout == "trailing":
            lines.append(f"{x},n{i},{w},")
        else:
            lines.append(f"r{i},{x},n{i},{w}")
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("layout", ["plain", "trailing", "rownames"])
def test_keep_reads_only_the_kept_columns_as_written(model_dir, monkeypatch, layout):
    data, out = model_dir / f"{layout}.csv", model_dir / f"{layout}_out.csv"
    _write(data, layout)
    reads = []
    real = predict_module._read_csv

    def recording(path, **options):
        frame = real(path, **options)
        if options.get("dtype") is str and options.get("nrows") != 0:
            reads.append(list(frame.columns))
        return frame

    monkeypatch.setattr(predict_module, "_read_csv", recording)
    assert main(["predict", "--model", str(model_dir / "m.fastbp"), "--data", str(data),
                 "--out", str(out), "--keep", "x", "--keep", "note"]) == 0
    # The text read held x and at most the header's last column (w), which
    # tells a trailing comma from row names; not every column.
    assert reads and all(set(cols) <= {"x", "w"} for cols in reads), reads
    written = pd.read_csv(out, dtype=str)
    assert written["x"].tolist() == [x for x, _ in _ROWS]
    assert written["note"].tolist() == [f"n{i}" for i in range(len(_ROWS))]
    # Predictions as of the same rows without the extra column or --keep.
    bare, bare_out = model_dir / "bare.csv", model_dir / "bare_out.csv"
    bare.write_text("x,w\n" + "".join(f"{x},{w}\n" for x, w in _ROWS))
    assert main(["predict", "--model", str(model_dir / "m.fastbp"), "--data", str(bare),
                 "--out", str(bare_out)]) == 0
    assert written["y"].tolist() == pd.read_csv(bare_out, dtype=str)["y"].tolist()


def test_keep_matches_a_name_written_decomposed(model_dir):
    # The model's column "x" is plain ASCII; a kept column named in NFD
    # ("größe" decomposed) is matched by its composed form, as before.
    import unicodedata

    name = unicodedata.normalize("NFD", "größe")
    data = model_dir / "nfd.csv"
    data.write_text(f"x,w,{name}\n1e2,0.5,a\n2,1,b\n")
    out = model_dir / "nfd_out.csv"
    assert main(["predict", "--model", str(model_dir / "m.fastbp"), "--data", str(data),
                 "--out", str(out), "--keep", "x", "--keep", name]) == 0
    written = pd.read_csv(out, dtype=str)
    assert written["x"].tolist() == ["1e2", "2"]
