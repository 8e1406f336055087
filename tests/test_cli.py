"""The ``fastbp train`` console script."""

import subprocess
import sys

import pytest

from fastbp.cli import main


def test_train_digits_prints_progress_accuracy_and_time(capsys):
    assert main(["train", "--epochs", "15", "--hidden-layer-sizes", "64"]) == 0
    out = capsys.readouterr().out
    assert out.count("Iteration ") == 15
    assert "test accuracy: " in out
    accuracy = float(out.split("test accuracy: ")[1].split()[0])
    assert 0.6 < accuracy <= 1.0
    assert "wall time: " in out


def test_train_toolkit_options(capsys):
    args = ["train", "--dataset", "tabular", "--epochs", "2", "--quiet",
            "--hidden-layer-sizes", "16,16", "--activation", "gelu", "--solver", "adamw",
            "--normalization", "batch", "--dropout", "0.1", "--residual",
            "--clip-grad-norm", "1.0", "--learning-rate", "cosine", "--dtype", "float64"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Iteration" not in out
    assert "float64" in out and "test accuracy" in out


@pytest.mark.parametrize("args, message", [
    (["--solver", "newton"], "invalid choice: 'newton'"),
    (["--hidden-layer-sizes", "0,3"], "expected a positive integer, got 0"),
    (["--epochs", "-1"], "expected a positive integer"),
    (["--dropout", "1.5"], "dropout rates must be in [0, 1)"),
    (["--dtype", "float16"], "invalid choice: 'float16'"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_invalid_options_exit_2_with_message(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_mnist_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FASTBP_DATA_DIR", raising=False)
    assert main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "fastbp: error:" in err and "FASTBP_DATA_DIR" in err


def test_console_script_entry_point():
    out = subprocess.run([sys.executable, "-m", "fastbp.cli", "train", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--hidden-layer-sizes" in out and "--normalization" in out
