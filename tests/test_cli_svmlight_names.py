"""``fastbp train`` on a file named as svmlight/libsvm (``.svm``,
``.libsvm``, ``.svmlight``) says what the file is and how to convert it,
as it does for such a file named ``.txt`` (fix-277), rather than only that
CSV files are read (rev-284)."""

import pytest
from sklearn.datasets import dump_svmlight_file

from fastbp.cli import main


@pytest.mark.parametrize("suffix", [".svm", ".libsvm", ".svmlight", ".svm.gz"])
def test_an_svmlight_name_is_answered_with_the_conversion(tmp_path, capsys, suffix):
    path = tmp_path / f"d{suffix}"
    dump_svmlight_file([[0.5, 0.0], [0.0, 1.5]], [1, 0], str(path))
    assert main(["train", "--data", str(path), "--target", "y", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "looks like an svmlight/libsvm file" in err
    assert "load_svmlight_file" in err and "only CSV files are read" not in err


def test_another_name_is_still_told_csv_only(tmp_path, capsys):
    path = tmp_path / "d.parquet"
    path.write_bytes(b"PAR1")
    assert main(["train", "--data", str(path), "--target", "y", "--quiet"]) == 2
    assert "only CSV files are read" in capsys.readouterr().err
