"""The command line without its optional dependencies (fix-226, after
rev-225): a missing pandas or skops is named with the extra that installs
it, and a missing skops is found before training, not after."""

import sys

import numpy as np
import pytest

from fastbp.cli import main


def _churn(path, n=120, seed=0):
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"age": rng.integers(18, 80, n),
                          "colour": rng.choice(["red", "green", "blue"], n)})
    frame["churn"] = np.where(frame.age + rng.normal(0, 10, n) > 50, "leaves", "stays")
    frame.to_csv(path, index=False)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A model trained (with pandas and skops present) and its data file."""
    folder = tmp_path_factory.mktemp("extras")
    _churn(folder / "c.csv")
    assert main(["train", "--data", str(folder / "c.csv"), "--target", "churn",
                 "--epochs", "2", "--quiet", "--model-out", str(folder / "c.fastbp")]) == 0
    return folder / "c.fastbp", folder / "c.csv"


def _commands(model_path, data, tmp_path):
    return {
        "train": ["train", "--data", str(data), "--target", "churn", "--epochs", "2"],
        "predict": ["predict", "--model", str(model_path), "--data", str(data),
                    "--out", str(tmp_path / "p.csv")],
        "evaluate": ["evaluate", "--model", str(model_path), "--data", str(data)],
    }


@pytest.mark.parametrize("command", ["train", "predict", "evaluate"])
def test_missing_pandas_names_the_extra(command, model, tmp_path, monkeypatch, capsys):
    model_path, data = model
    argv = _commands(model_path, data, tmp_path)[command]
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "pandas", None)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert 'reading data files needs pandas: pip install "fastbp[cli]"' in err
    assert "None in sys.modules" not in err
    assert "Traceback" not in out + err
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("source", [["--data", "DATA", "--target", "churn"],
                                    ["--dataset", "digits"]])
def test_missing_skops_fails_before_training(source, model, tmp_path, monkeypatch, capsys):
    _, data = model
    argv = ["train", *[str(data) if a == "DATA" else a for a in source], "--epochs", "2",
            "--model-out", str(tmp_path / "m.fastbp")]
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert 'fastbp: error: --model-out needs skops to save the model: pip install ' \
           '"fastbp[cli]"' in err
    # Nothing read, nothing trained: the check comes first.
    assert "epoch" not in out + err
    assert "trained" not in out + err
    assert "data " not in out and "dataset " not in out
    assert not (tmp_path / "m.fastbp").exists()


def test_skops_present_trains_and_saves(model):
    """The check passes where skops is installed (the fixture saved a model)."""
    model_path, _ = model
    assert model_path.exists()


def test_missing_pandas_fails_history_out_before_training(tmp_path, monkeypatch, capsys):
    # rev-233: --history-out is written after training, with pandas; a
    # digits run without pandas trained, then failed to write it ("reading
    # data files needs pandas").
    monkeypatch.setitem(sys.modules, "pandas", None)
    argv = ["train", "--dataset", "digits", "--epochs", "2",
            "--history-out", str(tmp_path / "h.csv")]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert 'writing --history-out needs pandas: pip install "fastbp[cli]"' in err
    assert "epoch" not in out and "accuracy" not in out, out
    assert not (tmp_path / "h.csv").exists()
