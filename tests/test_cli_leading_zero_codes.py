"""Codes written with leading zeros: rev-289's findings that fix-298 fixed
(each test fails before its fix). The exponent of "1.5e-05" was taken for
a code, and a file so written was read a second time, every column as
text."""

import gzip

import numpy as np
import pytest

import fastbp
from fastbp.cli import main
from fastbp.cli_data import tables
from fastbp.cli_data.tables import _may_write_leading_zeros, keep_written_codes, read_table


def _write(path, text):
    """``text`` written to ``path`` as bytes (gzip-compressed for a .gz
    name), its line ends as given."""
    data = text.encode()
    if str(path).endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("name", ["d.csv", "d.csv.gz"])
@pytest.mark.parametrize("text", [
    "a,b,y\n1.5e-05,2,0\n0.5,3,1\n0.25,4,0\n0.125,5,1\n",
    "a,b,y\n1.5E+07,2,0\n3e-005,3,1\n",
    "a,b\r\n-2.5e-05,1e+07\r\n4.5E-09,7\r\n",
    "a\n1e-05",
    '"a","b"\n"1.5e-05","2.5E+05"\n',
])
def test_exponents_are_not_codes(tmp_path, name, text):
    path = _write(tmp_path / name, text)
    assert _may_write_leading_zeros(path) is False


@pytest.mark.parametrize("name", ["d.csv", "d.csv.gz"])
@pytest.mark.parametrize("text", [
    "a,zip,y\n1.5e-05,007,0\n0.5,02134,1\n",
    'a,zip\n1.5e-05,"02134"\n',
    "zip,a\n007,1e-05\n",  # a code at a line's start
    "a,zip\n1e-05,007",  # at the file's end, no line end
    "a,zip\r\n1E+05,007\r\n",
    "a,zip\n1e-05,-007\n",  # a signed code
    "a,zip\n1e-05, 007\n",
])
def test_codes_beside_exponents_are_found(tmp_path, name, text):
    path = _write(tmp_path / name, text)
    assert _may_write_leading_zeros(path) is True


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7])
def test_the_scan_sees_across_its_chunks(tmp_path, monkeypatch, size):
    # A code's zero, the byte after it and the two before may lie in
    # different chunks: every split of these lines is tried.
    monkeypatch.setattr(tables, "_SCAN_CHUNK", size, raising=False)
    exponents = _write(tmp_path / "e.csv", "a,b\n1.5e-05,2\n3E+07,1e-005\n")
    code = _write(tmp_path / "c.csv", "a,b\n1.5e-05,2\n3E+07,007\n")
    assert _may_write_leading_zeros(exponents) is False
    assert _may_write_leading_zeros(code) is True


def _recorded_reads(monkeypatch):
    """The keyword arguments of each call of the module's ``_read_csv``."""
    calls = []
    read = tables._read_csv

    def recording(path, **options):
        calls.append(options)
        return read(path, **options)

    monkeypatch.setattr(tables, "_read_csv", recording)
    return calls


@pytest.mark.parametrize("text, index", [
    ("x1,zip,x2,n,y\n0.5,007,1.5e-05,3,a\n0.25,02134,2.5,4,b\n0.125,10001,3.5,5,a\n",
     [0, 1, 2]),
    # A trailing comma on each data line: no row names all the same.
    ("x1,zip,x2,n,y\n0.5,007,1.5e-05,3,a,\n0.25,02134,2.5,4,b,\n"
     "0.125,10001,3.5,5,a,\n", [0, 1, 2]),
    # Row names (R's write.table): a header one field short.
    ('"x1","zip","x2","n","y"\n"r1",0.5,007,1.5e-05,3,"a"\n"r2",0.25,02134,2.5,4,"b"\n'
     '"r3",0.125,10001,3.5,5,"a"\n', ["r1", "r2", "r3"]),
])
def test_codes_are_read_again_alone(tmp_path, monkeypatch, text, index):
    path = _write(tmp_path / "d.csv", text)
    frame = read_table(path)
    calls = _recorded_reads(monkeypatch)
    kept, codes = keep_written_codes(frame, path)
    assert codes == ["zip"]
    assert kept["zip"].tolist() == ["007", "02134", "10001"]
    assert kept["n"].tolist() == [3, 4, 5]  # whole numbers, no leading zero
    assert kept["x1"].tolist() == [0.5, 0.25, 0.125]
    assert kept["x2"].tolist() == [1.5e-05, 2.5, 3.5]
    assert list(kept.index) == index
    # Only the whole-number columns, and those read as text.
    text_reads = [c for c in calls if c.get("dtype") is str]
    assert text_reads and all(
        [h for h in ("x1", "zip", "x2", "n", "y") if c["usecols"](h)] == ["zip", "n"]
        for c in text_reads), calls
    # The frame read first is left as it was.
    assert frame["zip"].tolist() == [7, 2134, 10001]


def test_a_file_of_exponents_trains_as_numbers_and_is_read_once(tmp_path, monkeypatch):
    # pandas writes small floats with an exponent ("1.5e-05"): training
    # read such a file a second time, every column as text.
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3)) * np.array([1e-6, 1.0, 1e8])
    label = np.where(x[:, 1] > 0, "yes", "no")
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "k": np.arange(60) % 5,
                  "label": label}).to_csv(tmp_path / "e.csv", index=False)
    assert "e-0" in (tmp_path / "e.csv").read_text()
    calls = _recorded_reads(monkeypatch)
    model = tmp_path / "m.fastbp"
    assert main(["train", "--data", str(tmp_path / "e.csv"), "--target", "label",
                 "--epochs", "1", "--quiet", "--model-out", str(model)]) == 0
    # (The header line alone is read as text too, for its repeated names.)
    assert not [c for c in calls if c.get("dtype") is str and "nrows" not in c], calls
    pipe = fastbp.load(model)
    columns = {name: list(cols) for name, _, cols in pipe[0].transformers_}
    assert columns["numeric"] == ["a", "b", "c", "k"], columns
    assert "categorical" not in columns or not columns["categorical"], columns


def test_the_scan_takes_a_fraction_of_a_large_file_in_memory(tmp_path):
    # Its flags took about 6 times its 16 MiB chunks (100 MB on a file with
    # no code to stop at), more than the columns it spares reading again.
    import tracemalloc

    path = tmp_path / "big.csv"
    path.write_bytes(b"a,b\n" + b"1.5e-05,2\n" * 2_400_000)  # 24 MB, no code
    tracemalloc.start()
    try:
        assert _may_write_leading_zeros(str(path)) is False
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 48e6, peak


def test_codes_of_a_file_with_row_names_and_only_code_columns(tmp_path):
    # Every column a candidate, in a file with row names: pandas reads a
    # usecols list naming every column as if the file had no row names,
    # each value under the next name; the columns are asked for by a
    # callable, as the first read took them (lead, stop 53).
    path = _write(tmp_path / "r.csv", '"zip","n"\n"r1",007,3\n"r2",02134,4\n"r3",10001,5\n')
    frame = read_table(path)
    kept, codes = keep_written_codes(frame, path)
    assert codes == ["zip"]
    assert kept["zip"].tolist() == ["007", "02134", "10001"]
    assert kept["n"].tolist() == [3, 4, 5]
    assert list(kept.index) == ["r1", "r2", "r3"]
