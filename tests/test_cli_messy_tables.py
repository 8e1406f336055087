"""The command line on messy files: the findings of rev-288's review that
fix-295 fixed in the reading of tables and the check of outputs (each test
fails before its fix)."""

import gzip
import zipfile

import numpy as np
import pytest

from fastbp.cli import main


def _churn_text(n=40, seed=0):
    """A small classification file as text: tenure, plan and a class churn."""
    rng = np.random.default_rng(seed)
    lines = ["tenure,plan,churn"]
    for _ in range(n):
        tenure = int(rng.integers(1, 60))
        lines.append(f"{tenure},{rng.choice(['basic', 'pro'])},"
                     f"{'yes' if tenure < 20 else 'no'}")
    return "\n".join(lines) + "\n"


def _train(data, *options):
    return main(["train", "--data", str(data), "--target", "churn", "--epochs", "1",
                 "--quiet", *options])


def _error_line(err):
    """The ``fastbp: error:`` line of ``err``, which must be its only one."""
    lines = [line for line in err.splitlines() if line.startswith("fastbp: error:")]
    assert len(lines) == 1, err
    assert err.endswith(lines[0] + "\n"), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A model trained on a clean file."""
    folder = tmp_path_factory.mktemp("model")
    (folder / "c.csv").write_text(_churn_text())
    assert _train(folder / "c.csv", "--model-out", str(folder / "c.fastbp")) == 0
    return folder / "c.fastbp"


def _concatenated(path):
    """Two exports of the same table, one after the other (``cat``): the
    second header line becomes line 42."""
    path.write_text(_churn_text(seed=0) + _churn_text(seed=1))
    return path


def test_repeated_header_line_is_refused_at_train(tmp_path, capsys):
    # rev-288: trained, with 'tenure' one-hot encoded as text for its value
    # 'tenure' and a third class "churn".
    assert _train(_concatenated(tmp_path / "concat.csv")) == 2
    line = _error_line(capsys.readouterr().err)
    assert "concat.csv: the header line is repeated as data (lines [42]" in line
    assert "files concatenated?" in line and "remove" in line


def test_repeated_header_line_is_refused_in_valid(tmp_path, capsys):
    (tmp_path / "c.csv").write_text(_churn_text())
    assert _train(tmp_path / "c.csv", "--valid",
                  str(_concatenated(tmp_path / "v.csv"))) == 2
    assert "v.csv: the header line is repeated as data (lines [42]" in _error_line(
        capsys.readouterr().err)


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_repeated_header_line_is_refused_at_predict(model, tmp_path, capsys, command):
    options = ["--out", str(tmp_path / "p.csv")] if command == "predict" else []
    assert main([command, "--model", str(model), "--data",
                 str(_concatenated(tmp_path / "new.csv")), *options]) == 2
    assert "new.csv: the header line is repeated as data (lines [42]" in _error_line(
        capsys.readouterr().err)
    assert not (tmp_path / "p.csv").exists()


def test_repeated_header_line_after_blank_lines_names_its_line(tmp_path, capsys):
    # Blank lines are skipped by pandas: the line named is the file's.
    text = _churn_text(n=3) + "\n\n" + _churn_text(n=3)
    (tmp_path / "blank.csv").write_text(text)
    assert _train(tmp_path / "blank.csv") == 2
    assert "(lines [7]" in _error_line(capsys.readouterr().err)


def test_a_value_equal_to_its_column_name_alone_is_data(tmp_path):
    # Only a row that repeats every name is a header line: a plan named
    # "plan" on a row of numbers is a value.
    text = _churn_text() + "5,plan,yes\n7,plan,churn\n"
    (tmp_path / "ok.csv").write_text(text)
    assert _train(tmp_path / "ok.csv") == 0


def test_first_line_of_numbers_repeated_suggests_a_header(tmp_path, capsys):
    # A file without a header line whose first line comes again (Iris has
    # duplicate rows): its first line is data, and the advice says so too.
    rows = ["5.1,3.5,setosa", "4.9,3.0,setosa", "6.3,3.3,virginica", "5.1,3.5,setosa"]
    (tmp_path / "iris.csv").write_text("\n".join(rows) + "\n")
    assert main(["train", "--data", str(tmp_path / "iris.csv"), "--target", "setosa",
                 "--epochs", "1", "--quiet"]) == 2
    line = _error_line(capsys.readouterr().err)
    assert "(lines [4])" in line and "add a header line naming the columns" in line


def _plain(tmp_path):
    return _churn_text().encode()


def _gzip(tmp_path):
    return gzip.compress(_plain(tmp_path))


def _zip(tmp_path):
    with zipfile.ZipFile(tmp_path / "a.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("c.csv", _plain(tmp_path))
    return (tmp_path / "a.zip").read_bytes()


def _xls(tmp_path):
    # The OLE2 compound-file signature of an old Excel workbook, then bytes.
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 8


@pytest.mark.parametrize("content, expected", [
    (_gzip, "data.csv is a gzip file: name it .csv.gz (or .tsv.gz)"),
    (_zip, "data.csv is a zip archive (an Excel .xlsx workbook is one): export it as "
           "CSV, or unzip it"),
    (_xls, "data.csv is an Excel .xls workbook: export it as CSV")])
def test_binary_files_named_csv_are_named_for_what_they_are(tmp_path, capsys, content,
                                                             expected):
    # rev-288: "is not UTF-8 text ... encoding='latin-1'", which read garbage.
    (tmp_path / "data.csv").write_bytes(content(tmp_path))
    assert _train(tmp_path / "data.csv") == 2
    line = _error_line(capsys.readouterr().err)
    assert expected in line
    assert "UTF-8" not in line and "latin-1" not in line


def test_zip_named_csv_gz_is_named_a_zip_archive(tmp_path, capsys):
    (tmp_path / "data.csv.gz").write_bytes(_zip(tmp_path))
    assert _train(tmp_path / "data.csv.gz") == 2
    assert "data.csv.gz is a zip archive" in _error_line(capsys.readouterr().err)


def test_gzip_named_csv_gz_is_read(tmp_path):
    (tmp_path / "data.csv.gz").write_bytes(_gzip(tmp_path))
    assert _train(tmp_path / "data.csv.gz") == 0


@pytest.mark.parametrize("name", ["nc_copy.csv", "m.tsv.gz", "M.TXT"])
def test_model_out_named_as_a_table_is_refused(tmp_path, capsys, name):
    # rev-288: --model-out nc_copy.csv replaced that data file with the model.
    (tmp_path / "c.csv").write_text(_churn_text())
    existing = b"id,value\n1,2\n"
    (tmp_path / name).write_bytes(existing)
    assert _train(tmp_path / "c.csv", "--model-out", str(tmp_path / name)) == 2
    line = _error_line(capsys.readouterr().err)
    assert f"--model-out {tmp_path / name}:" in line and ".fastbp" in line
    assert (tmp_path / name).read_bytes() == existing


def test_model_out_named_as_a_new_table_is_refused(tmp_path, capsys):
    (tmp_path / "c.csv").write_text(_churn_text())
    assert _train(tmp_path / "c.csv", "--model-out", str(tmp_path / "m.csv")) == 2
    assert ".fastbp" in _error_line(capsys.readouterr().err)
    assert not (tmp_path / "m.csv").exists()


def test_semicolons_with_ragged_decimal_commas_get_the_separator_hint(tmp_path, capsys):
    # rev-288: pandas' "Error tokenizing data. C error: Expected 2 fields in
    # line 3, saw 3", and no word of ';' or decimal commas.
    (tmp_path / "de.csv").write_text("kunde;stadt;umsatz;preis;churn\n"
                                     "A;Berlin;12;13,5;ja\n"
                                     "B;Köln;13,5;14,25;nein\n"
                                     "C;Bonn;11;9;ja\n", encoding="utf-8")
    assert _train(tmp_path / "de.csv") == 2
    line = _error_line(capsys.readouterr().err)
    assert "separated by ';'" in line and "sep=';'" in line and "decimal=','" in line
    assert "C error" not in line
