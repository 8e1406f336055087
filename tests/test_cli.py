"""The ``fastbp train`` console script."""

import os
import subprocess
import sys

import pytest

from fastbp.cli import main


def test_train_digits_prints_progress_accuracy_and_time(capsys):
    assert main(["train", "--epochs", "15", "--hidden-layer-sizes", "64"]) == 0
    out = capsys.readouterr().out
    assert out.count("epoch ") >= 15 and "epoch 15/15 - " in out
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
    assert "epoch 1/" not in out
    assert "float64" in out and "test accuracy" in out


@pytest.mark.parametrize("args, message", [
    (["--solver", "newton"], "invalid choice: 'newton'"),
    (["--hidden-layer-sizes", "0,3"], "expected a positive integer, got 0"),
    (["--epochs", "-1"], "expected a positive integer"),
    (["--dropout", "1.5"], "dropout rates must be in [0, 1)"),
    (["--dtype", "float16"], "invalid choice: 'float16'"),
    (["--bogus"], "fastbp train: error: unrecognized arguments: --bogus"),
])
def test_invalid_options_exit_2_with_message(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    # helper-43: the usage shown is the subcommand's, whose options these are.
    assert err.startswith("usage: fastbp train ")


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "3", "--set", "max_iter=5"], "--epochs and --set max_iter=... both set "
                                               "max_iter: give it once"),
    (["--validation-fraction", "0.2", "--set", "validation_fraction=0.3"],
     "--validation-fraction and --set validation_fraction=... both set"),
    (["--solver", "sgd", "--set", "solver=adam"], "--solver and --set solver=..."),
])
def test_an_option_and_a_set_of_its_parameter_are_refused(argv, message, capsys):
    # helper-47: the later one won without a word (--epochs 3 --set
    # max_iter=5 trained 5 epochs). A --set of a parameter whose option is
    # left at its default still applies.
    assert main(["train", *argv, "--quiet"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("pair, message", [
    ("hiden_layer_sizes=3", "--set hiden_layer_sizes=...: MLPClassifier has no parameter "
                            "'hiden_layer_sizes'; did you mean hidden_layer_sizes?"),
    ("zzz=1", "MLPClassifier has no parameter 'zzz'; its parameters: activation, alpha,"),
])
def test_set_names_an_unknown_parameter_and_what_was_meant(pair, message, capsys):
    # helper-43: Python's "__init__() got an unexpected keyword argument"
    # named neither --set nor the parameter meant.
    assert main(["train", "--set", pair, "--epochs", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastbp: error: ") and message in err


def test_missing_mnist_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FASTBP_DATA_DIR", raising=False)
    assert main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "fastbp: error:" in err and "FASTBP_DATA_DIR" in err


def test_missing_mnist_errors_speak_of_the_command_line(tmp_path, capsys, monkeypatch):
    # helper-106: the errors described load_mnist's data_dir and None, and
    # the hint appended to each said to pass --data-dir where it was given.
    monkeypatch.delenv("FASTBP_DATA_DIR", raising=False)
    for data_dir, expected in (([str(tmp_path / "nowhere")], "(from --data-dir '"),
                               ([""], "--data-dir is an empty string"),
                               ([], "no --data-dir and the environment variable")):
        assert main(["train", "--dataset", "mnist", "--epochs", "1",
                     *(["--data-dir", *data_dir] if data_dir else [])]) == 2
        err = capsys.readouterr().err
        assert err.startswith("fastbp: error: MNIST: ") and expected in err
        assert "pass it with --data-dir or set the environment variable FASTBP_DATA_DIR" in err
        assert "(pass the directory with --data-dir" not in err  # the hint said it twice
        assert not any(api in err for api in ("load_mnist(", "data_dir", "None"))


def test_console_script_entry_point():
    out = subprocess.run([sys.executable, "-m", "fastbp.cli", "train", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--hidden-layer-sizes" in out and "--normalization" in out


# ---------------------------------------------------------------------------
# your own data: train -> predict -> evaluate on CSV files
# ---------------------------------------------------------------------------

import numpy as np  # noqa: E402


def _write_csv(path, n, task, seed, drop=None, extra=None):
    import pandas as pd
    rng = np.random.default_rng(seed)
    x1, x2 = rng.standard_normal(n), rng.standard_normal(n)
    colour = rng.choice(["red", "green", "blue"], n)
    shift = np.select([colour == "red", colour == "green"], [1.0, -1.0], 0.0)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "colour": colour})
    if task == "classification":
        frame["label"] = np.where(x1 + shift > 0, "yes", "no")
    else:
        frame["label"] = 3 * x1 - x2 + 2 * shift + 0.1 * rng.standard_normal(n)
    if drop:
        frame = frame.drop(columns=drop)
    if extra:
        frame[extra] = 0.0
    frame.to_csv(path, index=False)
    return frame


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_train_predict_evaluate_on_csv(tmp_path, capsys, task):
    train_csv, test_csv = tmp_path / "train.csv", tmp_path / "test.csv"
    _write_csv(train_csv, 300, task, 0)
    test = _write_csv(test_csv, 100, task, 1)
    model, history, plot = tmp_path / "m.fastbp", tmp_path / "h.csv", tmp_path / "h.png"
    assert main(["train", "--data", str(train_csv), "--target", "label", "--epochs", "40",
                 "--hidden-layer-sizes", "16", "--validation-fraction", "0.2",
                 "--learning-rate-init", "0.01",
                 "--set", "n_iter_no_change=100", "--valid", str(test_csv),
                 "--model-out", str(model), "--history-out", str(history),
                 "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert f"({task})" in out
    assert "epoch 40/40 - " in out and "val_score" in out
    assert model.exists() and plot.stat().st_size > 1000
    import pandas as pd

    hist = pd.read_csv(history)
    assert list(hist["epoch"]) == list(range(1, 41)) and "grad_norm_layer1" in hist
    preds = tmp_path / "p.csv"
    assert main(["predict", "--model", str(model), "--data", str(test_csv),
                 "--out", str(preds)]) == 0
    predicted = pd.read_csv(preds)["label"]
    assert len(predicted) == 100
    assert main(["evaluate", "--model", str(model), "--data", str(test_csv)]) == 0
    out = capsys.readouterr().out
    if task == "classification":
        accuracy = float(out.split("accuracy: ")[1].split()[0])
        assert accuracy > 0.8 and "confusion matrix" in out and "precision" in out
        assert (predicted == test["label"]).mean() == pytest.approx(accuracy)
        assert main(["predict", "--model", str(model), "--data", str(test_csv),
                     "--out", str(preds), "--proba"]) == 0
        proba = pd.read_csv(preds)
        assert list(proba.columns) == ["proba_no", "proba_yes"]
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        # "-" is standard output: the CSV alone there, the status on stderr
        # (before, a file named "-" was written).
        capsys.readouterr()
        assert main(["predict", "--model", str(model), "--data", str(test_csv),
                     "--out", "-", "--proba"]) == 0
        captured = capsys.readouterr()
        assert captured.out == preds.read_text()
        assert "100 predictions written to standard output" in captured.err
        assert not os.path.exists("-")
    else:
        r2 = float(out.split("R2: ")[1].split()[0])
        assert r2 > 0.8 and "MAE" in out and "RMSE" in out


@pytest.mark.parametrize("args, message", [
    (["train", "--data", "{train}"], "--data needs --target"),
    (["train", "--data", "{train}", "--target", "nope"], "has no column 'nope'"),
    (["train", "--data", "{missing}", "--target", "label"], "no such file"),
    (["train", "--data", "{train}", "--target", "label", "--set", "bogus=1"], "bogus"),
    (["train", "--data", "{train}", "--target", "label", "--set", "novalue"],
     "--set expects key=value"),
    (["predict", "--model", "{model}", "--data", "{nocolour}", "--out", "{out}"],
     "missing ['colour']"),
    (["predict", "--model", "{model}", "--data", "{extra}", "--out", "{out}"],
     "unexpected ['surprise']"),
    (["predict", "--model", "{train}", "--data", "{train}", "--out", "{out}"],
     "not a fastbp model file"),
    (["evaluate", "--model", "{model}", "--data", "{nolabel}"], "no target column 'label'"),
    (["predict", "--model", "{regmodel}", "--data", "{train}", "--out", "{out}", "--proba"],
     "--proba needs a classifier"),
    # Output paths are checked before any work, and named.
    (["predict", "--model", "{model}", "--data", "{train}", "--out", "{nodir}/p.csv"],
     "the directory"),
    (["predict", "--model", "{model}", "--data", "{train}", "--out", "{adir}"],
     "--out {adir}: it is a directory"),
    (["train", "--data", "{train}", "--target", "label", "--history-out", "{nodir}/h.csv"],
     "--history-out"),
    (["train", "--data", "{train}", "--target", "label", "--model-out", "{adir}"],
     "--model-out {adir}: it is a directory"),
    (["train", "--data", "{train}", "--target", "label", "--plot", "{nodir}/h.png"],
     "--plot"),
    # Missing values, named by column and line.
    (["train", "--data", "{nantarget}", "--target", "label"],
     "the target column 'label' has 1 missing value(s) (lines [5])"),
    (["train", "--data", "{nanfeature}", "--target", "label"],
     "numeric column(s) ['x2'] have missing values"),
    (["evaluate", "--model", "{model}", "--data", "{nanfeature}"],
     "numeric column(s) ['x2'] have missing values"),
    (["train", "--data", "{train}", "--target", "label", "--model-out", "{nodir}/../m.fastbp"],
     "the directory {nodir}/.. does not exist"),
    (["train", "--data", "{train}", "--target", "label", "--model-out", ""],
     "--model-out: an empty path"),
    (["train", "--data", "{reg}", "--target", "label", "--task", "classification"],
     "--task classification needs class labels"),
    (["train", "--data", "{regq}", "--target", "label"],
     "the target column 'label' holds numbers but for 1 text value(s) ('?'), so its task is "
     "unclear"),
    (["train", "--data", "{inffeature}", "--target", "label"],
     "numeric column(s) ['x2'] hold infinite values"),
    (["train", "--data", "{train}", "--target", "label", "--solver", "lbfgs",
      "--validation-fraction", "0.2"], "--validation-fraction (early stopping) needs a "
                                       "stochastic solver"),
    (["train", "--data", "{oneclass}", "--target", "label"],
     "the target column 'label' holds a single class ('yes'); a classifier needs at least two"),
    (["train", "--data", "{train}", "--target", "label", "--task", "regression"],
     "--task regression needs a numeric target, and the column 'label' holds text"),
    # The validation file and the plot's format, before training.
    (["train", "--data", "{train}", "--target", "label", "--valid", "{missing}"],
     "no such file"),
    (["train", "--data", "{train}", "--target", "label", "--valid", "{nocolour}"],
     "missing ['colour']"),
    (["train", "--data", "{train}", "--target", "label", "--plot", "{adir}/h.xyz"],
     "--plot {adir}/h.xyz: the file name must end in one of"),
    (["predict", "--model", "{missing}", "--data", "{train}", "--out", "{out}"],
     "--model {missing}: no such file"),
    # LaTeX source that needs a TeX installation: refused before training.
    (["train", "--data", "{train}", "--target", "label", "--plot", "{adir}/h.pgf"],
     "--plot {adir}/h.pgf: the file name must end in one of"),
    (["train", "--data", "{semicolons}", "--target", "label"], "seem separated by ';'"),
    (["train", "--data", "{noheader}", "--target", "label"],
     "its first line holds numbers, not column names: add a header line"),
    (["predict", "--model", "{model}", "--data", "{qmark}", "--out", "{out}"],
     "column 'x2' was numeric in training and holds text here ('?')"),
    # The built-in datasets' options, which --data would ignore.
    (["train", "--data", "{train}", "--target", "label", "--dataset", "digits"],
     "--dataset applies to the built-in datasets; --data trains on your file"),
    (["train", "--data", "{train}", "--target", "label", "--test-size", "0.5"],
     "--test-size applies to the built-in datasets"),
    (["train", "--data", "{train}", "--target", "label", "--data-dir", "{adir}"],
     "--data-dir applies to the built-in datasets"),
    (["train", "--dataset", "mnist", "--test-size", "0.5"], "MNIST has its own test set"),
    (["train", "--data-dir", "{adir}"], "--data-dir applies to --dataset mnist"),
    # helper-55: --data's own options were ignored on a built-in dataset.
    (["train", "--valid", "{missing}"], "--valid applies to --data"),
    (["train", "--dataset", "digits", "--task", "regression"], "--task applies to --data"),
])
def test_csv_errors_exit_2_with_a_clear_message(tmp_path, capsys, args, message):
    paths = {"train": tmp_path / "train.csv", "missing": tmp_path / "missing.csv",
             "model": tmp_path / "m.fastbp", "regmodel": tmp_path / "r.fastbp",
             "nocolour": tmp_path / "nocolour.csv", "extra": tmp_path / "extra.csv",
             "nolabel": tmp_path / "nolabel.csv", "out": tmp_path / "out.csv",
             "nodir": tmp_path / "nodir", "adir": tmp_path / "adir",
             "nantarget": tmp_path / "nantarget.csv", "nanfeature": tmp_path / "nanfeat.csv",
             "reg": tmp_path / "reg.csv", "semicolons": tmp_path / "semi.csv",
             "qmark": tmp_path / "qmark.csv", "noheader": tmp_path / "noheader.csv",
             "oneclass": tmp_path / "oneclass.csv", "regq": tmp_path / "regq.csv",
             "inffeature": tmp_path / "inffeature.csv"}
    paths["adir"].mkdir()
    frame = _write_csv(paths["train"], 60, "classification", 0)
    frame.loc[3, "label"] = None
    frame.to_csv(paths["nantarget"], index=False)
    frame = _write_csv(paths["nanfeature"], 60, "classification", 0)
    frame.loc[7, "x2"] = np.nan
    frame.to_csv(paths["nanfeature"], index=False)
    _write_csv(paths["nocolour"], 10, "classification", 1, drop=["colour"])
    _write_csv(paths["extra"], 10, "classification", 1, extra="surprise")
    _write_csv(paths["nolabel"], 10, "classification", 1, drop=["label"])
    reg = paths["reg"]
    _write_csv(reg, 60, "regression", 0)
    frame = _write_csv(paths["regq"], 60, "regression", 0).astype({"label": object})
    frame.loc[[4, 8], "label"] = "?"
    frame.to_csv(paths["regq"], index=False)
    frame = _write_csv(paths["inffeature"], 60, "classification", 0)
    frame.loc[5, "x2"] = np.inf
    frame.to_csv(paths["inffeature"], index=False)
    frame = _write_csv(paths["oneclass"], 10, "classification", 1)
    frame.assign(label="yes").to_csv(paths["oneclass"], index=False)
    frame = _write_csv(paths["qmark"], 10, "classification", 1).astype({"x2": object})
    frame.loc[4, "x2"] = "?"
    frame.to_csv(paths["qmark"], index=False)
    frame.to_csv(paths["semicolons"], index=False, sep=";")
    frame[["x1", "x2"]].to_csv(paths["noheader"], index=False, header=False)
    assert main(["train", "--data", str(paths["train"]), "--target", "label", "--epochs", "2",
                 "--quiet", "--model-out", str(paths["model"])]) == 0
    assert main(["train", "--data", str(reg), "--target", "label", "--epochs", "2",
                 "--quiet", "--model-out", str(paths["regmodel"])]) == 0
    capsys.readouterr()
    names = {k: str(v) for k, v in paths.items()}
    argv = [a.format(**names) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastbp: error: ") and message.format(**names) in err, err


@pytest.mark.parametrize("args, message", [
    (["train", "--model-out", "{train}"], "--model-out {train} is the same file as --data"),
    (["train", "--history-out", "{adir}/../train.csv"],
     "--history-out {adir}/../train.csv is the same file as --data {train}"),
    (["train", "--valid", "{valid}", "--plot", "{valid}"],
     "--plot {valid} is the same file as --valid"),
    (["train", "--model-out", "{out}", "--history-out", "{out}"],
     "--history-out {out} is the same file as --model-out {out}"),
    (["predict", "--out", "{train}"], "--out {train} is the same file as --data"),
    (["predict", "--out", "{model}"], "--out {model} is the same file as --model"),
    (["predict", "--out", "{link}"], "--out {link} is the same file as --data {train}"),
])
def test_outputs_that_would_overwrite_an_input_are_refused(tmp_path, capsys, args, message):
    # Before, each of these trained (or predicted) and then wrote over the
    # data, the model or the other output.
    paths = {"train": tmp_path / "train.csv", "valid": tmp_path / "valid.csv",
             "model": tmp_path / "m.fastbp", "out": tmp_path / "out.csv",
             "adir": tmp_path / "adir", "link": tmp_path / "link.csv"}
    paths["adir"].mkdir()
    _write_csv(paths["train"], 60, "classification", 0)
    _write_csv(paths["valid"], 20, "classification", 1)
    paths["link"].symlink_to(paths["train"])
    assert main(["train", "--data", str(paths["train"]), "--target", "label", "--epochs", "2",
                 "--quiet", "--model-out", str(paths["model"])]) == 0
    before = {k: p.read_bytes() for k, p in paths.items() if p.is_file()}
    capsys.readouterr()
    names = {k: str(v) for k, v in paths.items()}
    command, *rest = [a.format(**names) for a in args]
    common = (["--data", names["train"], "--target", "label", "--epochs", "2", "--quiet"]
              if command == "train" else ["--model", names["model"], "--data", names["train"]])
    assert main([command, *common, *rest]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("fastbp: error: ") and message.format(**names) in err, err
    assert "epoch" not in out and "predictions" not in out
    assert {k: p.read_bytes() for k, p in paths.items() if p.is_file()} == before


@pytest.mark.parametrize("option, name", [("--model-out", "m.fastbp"),
                                          ("--history-out", "h.csv"), ("--plot", "h.png")])
def test_an_output_that_is_not_a_regular_file_is_refused_before_training(
        tmp_path, capsys, option, name):
    # Before, --model-out replaced a named pipe (or, as root, /dev/null)
    # with a regular file after training, and the history and plot were
    # written into the pipe. A named pipe stands for any special file here.
    import fcntl

    train_csv, fifo = tmp_path / "train.csv", tmp_path / name
    _write_csv(train_csv, 60, "classification", 0)
    os.mkfifo(fifo)
    link = tmp_path / f"link-{name}"
    link.symlink_to(fifo)
    # A reader holds the pipe open with room to spare, so that a write the
    # check misses cannot block the test.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        fcntl.fcntl(reader, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
        for path in (fifo, link):
            assert main(["train", "--data", str(train_csv), "--target", "label",
                         "--epochs", "2", "--quiet", option, str(path)]) == 2
            out, err = capsys.readouterr()
            assert err == (f"fastbp: error: {option} {path}: it is a named pipe (FIFO), not a "
                           "regular file; give the name of a file to write\n"), err
            assert "trained" not in out
            assert fifo.is_fifo() and link.is_symlink()
    finally:
        os.close(reader)


def test_predict_out_may_be_a_named_pipe(tmp_path, capsys):
    # predict writes --out through, as open() does (/dev/stdout): the node stays.
    import pandas as pd
    train_csv, model, fifo = tmp_path / "train.csv", tmp_path / "m.fastbp", tmp_path / "p"
    _write_csv(train_csv, 60, "classification", 0)
    assert main(["train", "--data", str(train_csv), "--target", "label", "--epochs", "2",
                 "--quiet", "--model-out", str(model)]) == 0
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert main(["predict", "--model", str(model), "--data", str(train_csv),
                     "--out", str(fifo)]) == 0
        with os.fdopen(reader, "rb", closefd=False) as stream:
            assert len(pd.read_csv(stream)) == 60
    finally:
        os.close(reader)
    assert fifo.is_fifo()


def test_repeated_header_names_are_refused_in_every_file_read(tmp_path, capsys):
    # Before, pandas read a second 'label' as 'label.1': --target label
    # trained on the first, with the real labels leaking in as a feature;
    # and 'x1,x1' trained on 'x1' and 'x1.1' without a word.
    import pandas as pd
    good, model = tmp_path / "good.csv", tmp_path / "m.fastbp"
    frame = _write_csv(good, 60, "classification", 0)
    assert main(["train", "--data", str(good), "--target", "label", "--epochs", "2",
                 "--quiet", "--model-out", str(model)]) == 0
    target_twice, feature_twice = tmp_path / "target2.csv", tmp_path / "feature2.csv"
    frame.assign(other=frame["label"].iloc[::-1].to_numpy()).to_csv(
        target_twice, index=False, header=["x1", "x2", "colour", "label", "label"])
    frame.assign(x3=frame["x1"]).to_csv(feature_twice, index=False,
                                        header=["x1", "x2", "colour", "label", "x1"])
    capsys.readouterr()
    for path, names in ((target_twice, "['label']"), (feature_twice, "['x1']")):
        for argv in (["train", "--data", str(path), "--target", "label"],
                     ["train", "--data", str(good), "--target", "label", "--valid", str(path)],
                     ["predict", "--model", str(model), "--data", str(path),
                      "--out", str(tmp_path / "p.csv")],
                     ["evaluate", "--model", str(model), "--data", str(path)]):
            assert main(argv) == 2, argv
            out, err = capsys.readouterr()
            assert err.startswith(f"fastbp: error: {path}: the header line names the "
                                  f"column(s) {names} more than once"), err
            assert "epoch" not in out and "accuracy" not in out
    # helper-50: names that pandas reads as missing values ('null', 'NA')
    # were dropped before the count, and so not refused.
    frame.assign(other=frame["x1"]).to_csv(tmp_path / "null2.csv", index=False,
                                           header=["null", "x2", "colour", "label", "null"])
    assert main(["train", "--data", str(tmp_path / "null2.csv"), "--target", "label"]) == 2
    assert "names the column(s) ['null'] more than once" in capsys.readouterr().err
    # A column really named 'x1.1' beside 'x1' is two columns, and is read.
    pd.read_csv(good).assign(**{"x1.1": 0.5}).to_csv(tmp_path / "dotted.csv", index=False)
    assert main(["train", "--data", str(tmp_path / "dotted.csv"), "--target", "label",
                 "--epochs", "1", "--quiet"]) == 0
    assert "4 feature columns" in capsys.readouterr().out


@pytest.mark.parametrize("option, name", [("--model-out", "m.fastbp"),
                                          ("--history-out", "h.csv"), ("--plot", "h.png")])
def test_a_read_only_output_file_is_refused_before_training(tmp_path, capsys, monkeypatch,
                                                             option, name):
    # Before, only the directory was checked: a read-only --model-out failed
    # after training, losing the model. os.access stands in for the file's
    # mode, which root (who may run this) ignores.
    train_csv, output = tmp_path / "train.csv", tmp_path / name
    _write_csv(train_csv, 60, "classification", 0)
    output.write_bytes(b"kept")
    access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: (
        False if os.fspath(path) == str(output) and mode & os.W_OK
        else access(path, mode, **kw)))
    assert main(["train", "--data", str(train_csv), "--target", "label", "--epochs", "2",
                 "--quiet", option, str(output)]) == 2
    out, err = capsys.readouterr()
    assert err == (f"fastbp: error: {option} {output}: the file exists and is read-only; "
                   "make it writable or give another path\n"), err
    assert "trained" not in out and output.read_bytes() == b"kept"
    # A directory that is a file: named as such (it "did not exist").
    assert main(["train", "--data", str(train_csv), "--target", "label",
                 option, f"{train_csv}/{name}"]) == 2
    assert (f"{option} {train_csv}/{name}: {train_csv} is a file, not a directory"
            in capsys.readouterr().err)


@pytest.mark.parametrize("failing", ["--model-out", "--plot"])
def test_an_output_that_fails_after_training_spares_the_others(tmp_path, capsys, monkeypatch,
                                                               failing):
    # Before, the first failure ended the command: a model that could not
    # be saved skipped --history-out and --plot (and the --valid scores).
    import fastbp
    import fastbp.cli_data.outputs as cli_outputs

    train_csv = tmp_path / "train.csv"
    _write_csv(train_csv, 60, "classification", 0)
    paths = {"--model-out": tmp_path / "m.fastbp", "--history-out": tmp_path / "h.csv",
             "--plot": tmp_path / "h.png"}

    def fail(*args):
        raise PermissionError(13, "Permission denied", str(paths[failing]))
    monkeypatch.setattr(fastbp, "save", fail) if failing == "--model-out" else \
        monkeypatch.setattr(cli_outputs, "write_plot", fail)
    assert main(["train", "--data", str(train_csv), "--target", "label", "--epochs", "2",
                 "--quiet", "--valid", str(train_csv),
                 *[a for option, path in paths.items() for a in (option, str(path))]]) == 2
    out, err = capsys.readouterr()
    assert (f"fastbp: error: could not write {failing} {paths[failing]}: "
            "Permission denied\n") in err, err
    assert "accuracy: " in out
    for option, path in paths.items():
        assert path.exists() == (option != failing), option


def _interrupt_at(monkeypatch, step):
    """Make the per-epoch printer of the next fits press Ctrl-C once
    ``step`` epochs (or L-BFGS iterations) are complete."""
    import fastbp.cli_data.train as cli_train

    printer = cli_train.epoch_printer

    def epoch_printer(stream=None, unit="epoch"):
        show = printer(stream, unit)

        def on_epoch_end(epoch, max_iter, history):
            show(epoch, max_iter, history)
            if epoch == step:
                raise KeyboardInterrupt
        return on_epoch_end
    monkeypatch.setattr(cli_train, "epoch_printer", epoch_printer)


@pytest.mark.parametrize("solver, unit", [("adam", "epochs"), ("lbfgs", "iterations")])
def test_an_interrupted_fit_saves_its_model_and_says_it_is_partly_trained(
        tmp_path, capsys, monkeypatch, solver, unit):
    # Before, Ctrl-C during the fit printed a UserWarning line, saved the
    # model and exited 0: 'train && deploy' shipped a partly trained model.
    train_csv, model = tmp_path / "train.csv", tmp_path / "m.fastbp"
    _write_csv(train_csv, 60, "classification", 0)
    _interrupt_at(monkeypatch, 3)
    common = ["train", "--data", str(train_csv), "--target", "label", "--epochs", "50",
              "--solver", solver, "--history-out", str(tmp_path / "h.csv")]
    assert main([*common, "--model-out", str(model)]) == 130
    out, err = capsys.readouterr()
    assert f"model saved to {model}" in out and fastbp_load(model)[-1].n_iter_ == 3
    assert err.endswith(f"fastbp: training interrupted after 3 of 50 {unit}: the model saved "
                        "is partly trained\n"), err
    assert "UserWarning" not in err and "note:" not in err
    assert main(common) == 130
    assert capsys.readouterr().err.endswith(f"fastbp: training interrupted after 3 of 50 "
                                            f"{unit}: the model (not saved) is partly trained\n")
    # The built-in datasets too.
    assert main(["train", "--epochs", "50", "--hidden-layer-sizes", "8", "--solver", solver,
                 "--model-out", str(model)]) == 130
    assert capsys.readouterr().err.endswith("the model saved is partly trained\n")


def test_ctrl_c_in_the_first_epoch_exits_130_and_saves_nothing(tmp_path, capsys,
                                                                monkeypatch):
    # helper-50: with no epoch complete, loss_ was None, and formatting it
    # failed: "fastbp: error: unsupported format string passed to
    # NoneType.__format__", exit 2. helper-71: such a fit kept an untrained
    # model, saved as "partly trained"; now nothing is trained, so nothing
    # is saved, and the interrupt ends the command.
    import fastbp.cli as cli
    from fastbp.training.optimizers import StochasticOptimizer

    def ctrl_c(self):
        raise KeyboardInterrupt
    monkeypatch.setattr(StochasticOptimizer, "epoch_starts", ctrl_c)
    train_csv, model = tmp_path / "train.csv", tmp_path / "m.fastbp"
    _write_csv(train_csv, 60, "classification", 0)
    assert cli.run(["train", "--data", str(train_csv), "--target", "label", "--epochs", "50",
                    "--model-out", str(model)]) == 130
    out, err = capsys.readouterr()
    assert err.endswith("fastbp: interrupted\n"), err
    assert "trained" not in out and not model.exists()
    assert cli.run(["train", "--epochs", "50", "--hidden-layer-sizes", "8",
                    "--model-out", str(model)]) == 130
    assert capsys.readouterr().err.endswith("fastbp: interrupted\n")
    assert not model.exists()


def test_ctrl_c_while_writing_the_history_leaves_the_old_file(tmp_path, capsys, monkeypatch):
    # helper-50: --history-out (and predict --out) were written in place: a
    # Ctrl-C midway left a truncated CSV that reads as a complete one.
    import pandas as pd

    import fastbp.cli as cli

    train_csv, history = tmp_path / "train.csv", tmp_path / "h.csv"
    _write_csv(train_csv, 60, "classification", 0)
    history.write_text("old\n")
    write = pd.DataFrame.to_csv

    def interrupted(frame, path, **kw):
        with open(path, "w") as fh:
            fh.write("epoch,loss\n1,0.")
        raise KeyboardInterrupt
    monkeypatch.setattr(pd.DataFrame, "to_csv", interrupted)
    assert cli.run(["train", "--data", str(train_csv), "--target", "label", "--epochs", "2",
                    "--quiet", "--history-out", str(history)]) == 130
    assert history.read_text() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["h.csv", "train.csv"]  # no temporary file
    monkeypatch.setattr(pd.DataFrame, "to_csv", write)
    assert cli.run(["train", "--data", str(train_csv), "--target", "label", "--epochs", "2",
                    "--quiet", "--history-out", str(history)]) == 0
    assert pd.read_csv(history)["epoch"].tolist() == [1, 2]


def test_ctrl_c_outside_a_fit_is_one_line_and_leaves_no_half_written_model(
        tmp_path, capsys, monkeypatch):
    # Before, Ctrl-C while reading the data or saving the model printed a
    # KeyboardInterrupt traceback.
    import fastbp.cli as cli

    train_csv, model = tmp_path / "train.csv", tmp_path / "m.fastbp"
    _write_csv(train_csv, 60, "classification", 0)
    argv = ["train", "--data", str(train_csv), "--target", "label", "--epochs", "2",
            "--quiet", "--model-out", str(model)]
    assert cli.run(argv) == 0
    before = model.read_bytes()
    capsys.readouterr()

    def ctrl_c(*args):
        raise KeyboardInterrupt

    def run(argv):
        try:
            return cli.run(argv)
        except KeyboardInterrupt:  # would end the test session
            pytest.fail("Ctrl-C escaped fastbp.cli.run as a KeyboardInterrupt")
    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", ctrl_c)  # while the model is being written
        assert run([*argv, "--epochs", "3"]) == 130
    assert capsys.readouterr().err.endswith("\nfastbp: interrupted\n")
    assert model.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.fastbp", "train.csv"]  # no temporary file
    monkeypatch.setattr(cli, "train", ctrl_c)
    assert run(["train"]) == 130
    assert capsys.readouterr().err == "fastbp: interrupted\n"


def test_sigint_during_training_exits_130_with_the_model_saved(tmp_path):
    # A real Ctrl-C (SIGINT) in a process of its own, once an epoch is printed.
    import signal

    import pandas  # noqa: F401 - the CSV reading needs it
    train_csv, model = tmp_path / "train.csv", tmp_path / "m.fastbp"
    _write_csv(train_csv, 2000, "classification", 0)
    # No stopping rule: its own convergence ended this fit after about 100
    # epochs (0.08 s), sooner than a loaded machine sent the signal (exit 0).
    proc = subprocess.Popen([sys.executable, "-m", "fastbp", "train", "--data", str(train_csv),
                             "--target", "label", "--epochs", "100000", "--batch-size", "8",
                             "--set", "n_iter_no_change=1000000",
                             "--model-out", str(model)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("epoch 2/"):
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert f"model saved to {model}" in out and model.exists()
    assert "Traceback" not in err
    assert "of 100000 epochs: the model saved is partly trained" in err.splitlines()[-1], err


def test_tab_separated_files_are_read_as_tsv_and_named_as_csv(tmp_path, capsys):
    # Before, a .tsv file was refused ("only CSV files are read"), and a
    # tab-separated .csv file failed with "has no column 'label' (columns:
    # ['x1\\tx2\\tcolour\\tlabel'])" and no hint.
    import pandas as pd
    frame = _write_csv(tmp_path / "t.csv", 120, "classification", 0)
    frame["label"] = np.where(frame["label"] == "yes", "007", "012")  # codes, kept as written
    frame.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    frame.to_csv(tmp_path / "t.tsv.gz", sep="\t", index=False)
    model, out = tmp_path / "m.fastbp", tmp_path / "p.csv"
    assert main(["train", "--data", str(tmp_path / "t.tsv"), "--target", "label", "--epochs",
                 "20", "--quiet", "--valid", str(tmp_path / "t.tsv.gz"),
                 "--model-out", str(model)]) == 0
    assert "3 feature columns, target 'label' (classification)" in capsys.readouterr().out
    assert fastbp_load(model).classes_.tolist() == ["007", "012"]
    assert main(["predict", "--model", str(model), "--data", str(tmp_path / "t.tsv.gz"),
                 "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) == 120
    assert main(["evaluate", "--model", str(model), "--data", str(tmp_path / "t.tsv")]) == 0
    frame.to_csv(tmp_path / "commas.tsv", index=False)
    capsys.readouterr()
    assert main(["train", "--data", str(tmp_path / "commas.tsv"), "--target", "label"]) == 2
    assert ("its fields seem separated by commas, and fastbp reads a .tsv file "
            "tab-separated; name it .csv" in capsys.readouterr().err)  # helper-55
    frame.to_csv(tmp_path / "tabs.csv", sep="\t", index=False)
    capsys.readouterr()
    assert main(["train", "--data", str(tmp_path / "tabs.csv"), "--target", "label"]) == 2
    assert ("its fields seem separated by tabs, and fastbp reads a .csv or .txt file "
            "comma-separated; name it .tsv (or .tsv.gz), which is read tab-separated"
            in capsys.readouterr().err)


def test_plot_is_titled_after_the_model(tmp_path, monkeypatch):
    # helper-119: the display titled any figure holding only the given Axes,
    # the caller's too; it now titles only a figure of its own, and --plot,
    # which draws on a Figure it makes, names the model itself as before.
    from matplotlib.figure import Figure

    titles = []
    savefig = Figure.savefig

    def recording(figure, *args, **kwargs):
        titles.append(figure._suptitle and figure._suptitle.get_text())
        return savefig(figure, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", recording)
    _write_csv(tmp_path / "t.csv", 60, "classification", 0)
    assert main(["train", "--data", str(tmp_path / "t.csv"), "--target", "label",
                 "--epochs", "2", "--quiet", "--plot", str(tmp_path / "h.png")]) == 0
    assert titles == ["MLPClassifier"]


def test_plot_keeps_the_callers_matplotlib_backend(tmp_path):
    # helper-54: --plot switched matplotlib to Agg (in a notebook, later
    # figures stopped showing inline) and drew through pyplot.
    import pandas  # noqa: F401 - the CSV reading needs it
    import matplotlib
    import matplotlib.pyplot as plt

    _write_csv(tmp_path / "t.csv", 60, "classification", 0)
    figures = plt.get_fignums()
    backend = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        assert main(["train", "--data", str(tmp_path / "t.csv"), "--target", "label",
                     "--epochs", "2", "--quiet", "--plot", str(tmp_path / "h.png")]) == 0
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(backend)
    with open(tmp_path / "h.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"  # by the name, whatever the backend
    assert plt.get_fignums() == figures


def test_outputs_are_written_as_their_names_say(tmp_path):
    # Before, a .tsv output was written comma-separated, and a .csv.gz one
    # as plain text under a .gz name (pandas inferred the compression from
    # the temporary file's name), which pandas then failed to read back.
    import pandas as pd
    frame = _write_csv(tmp_path / "t.csv", 120, "classification", 0)
    model = tmp_path / "m.fastbp"
    assert main(["train", "--data", str(tmp_path / "t.csv"), "--target", "label", "--epochs",
                 "3", "--quiet", "--model-out", str(model),
                 "--history-out", str(tmp_path / "h.tsv")]) == 0
    history = pd.read_csv(tmp_path / "h.tsv", sep="\t")
    assert history.columns[:2].tolist() == ["epoch", "loss"] and len(history) == 3
    expected = fastbp_load(model).predict(frame.drop(columns="label"))
    for name, sep in [("p.tsv", "\t"), ("p.csv.gz", ","), ("p.tsv.gz", "\t"), ("p.csv", ",")]:
        assert main(["predict", "--model", str(model), "--data", str(tmp_path / "t.csv"),
                     "--out", str(tmp_path / name)]) == 0
        written = pd.read_csv(tmp_path / name, sep=sep)
        assert written.columns.tolist() == ["label"], name
        np.testing.assert_array_equal(written["label"], expected)
    with open(tmp_path / "p.csv.gz", "rb") as f:
        assert f.read(2) == b"\x1f\x8b"  # gzip's magic number


@pytest.mark.parametrize("values, message", [
    (lambda v: [f"{x:,.2f}" for x in v], "300 distinct values in 300 rows, nearly one class "
     "per row: it looks like numbers written as text ('38,913.77', "),
    (lambda v: [f"{x / 1000:.1f}%" for x in v], "it looks like numbers written as text "
     "('38.9%', "),
    (lambda v: [f"cust-{i:04d}" for i in range(len(v))], "it looks like an ID or free text "
     "('cust-0000', "),
    (lambda v: np.round(v).astype(int), "300 distinct numbers in 300 rows, nearly one class "
     "per row: pass --task regression if it is a quantity"),
], ids=["thousands", "percent", "id", "integers"])
def test_a_target_with_one_class_per_row_is_refused(tmp_path, capsys, values, message):
    # Before, a price written '38,913.77' (text) trained 300 classes out of
    # 300 rows without a word.
    import pandas as pd
    rng = np.random.default_rng(0)
    amount = np.concatenate([[38913.77], rng.uniform(1000, 90000, 299)])
    x = rng.standard_normal(300)
    pd.DataFrame({"x": x, "price": values(amount)}).to_csv(tmp_path / "t.csv", index=False)
    argv = ["train", "--data", str(tmp_path / "t.csv"), "--target", "price", "--epochs", "1",
            "--quiet"]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err.startswith("fastbp: error: the target column 'price' holds ") and \
        message in err and err.endswith(
            ", or pass --task classification if every value is a class label\n"), err
    assert "trained" not in out
    assert main([*argv, "--task", "classification"]) == 0  # as asked


def test_a_text_feature_with_one_value_per_row_gets_a_note(tmp_path, capsys):
    # Before, an income written '38,913.77' became 300 one-hot columns
    # without a note. Ordinary categories, even many, get none.
    import pandas as pd
    rng = np.random.default_rng(0)
    income = np.concatenate([[38913.77], rng.uniform(1000, 90000, 299)])
    frame = pd.DataFrame({"income": [f"{x:,.2f}" for x in income],
                          "city": [f"city{i}" for i in rng.integers(0, 60, 300)],
                          "colour": rng.choice(["red", "green"], 300),
                          "label": rng.choice(["yes", "no"], 300)})
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert main(["train", "--data", str(tmp_path / "t.csv"), "--target", "label",
                 "--epochs", "1", "--quiet"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "distinct" in line]
    assert len(notes) == 1 and notes[0].startswith(
        "note: column 'income' holds 300 distinct text values in 300 rows, and is one-hot "
        "encoded into as many columns; it looks like numbers written as text ('38,913.77', ")
    assert notes[0].endswith(": thousands separators, '%' or a currency sign): write numbers "
                             "as plain numbers (38913.77) so that the column is "
                             "standardised"), notes


def test_validation_file_is_checked_before_training(tmp_path, capsys):
    # A problem with --valid costs no training: it is found first.
    train_csv = tmp_path / "train.csv"
    _write_csv(train_csv, 60, "classification", 0)
    assert main(["train", "--data", str(train_csv), "--target", "label", "--epochs", "2",
                 "--valid", str(tmp_path / "nope.csv"),
                 "--model-out", str(tmp_path / "m.fastbp")]) == 2
    out, err = capsys.readouterr()
    assert "epoch" not in out and "no such file" in err


def test_codes_that_look_numeric_stay_categories_and_dtype_is_kept(tmp_path, capsys):
    # Training sees the codes "1", "2" and "A" (text); a file to predict that
    # holds only "1" and "2" is read as the same categories, not as numbers.
    import pandas as pd
    import fastbp

    rng = np.random.default_rng(0)
    n = 200
    code = rng.choice(["1", "2", "A"], n)
    x = rng.standard_normal(n)
    label = np.where((code == "1") | (x > 1), "yes", "no")
    flag = x > 0  # a bool column: one-hot encoded, read back as True and False
    label = np.where((code == "1") | (x > 1) | (flag & (code == "2")), "yes", "no")
    pd.DataFrame({"x": x, "code": code, "flag": flag, "label": label}).to_csv(
        tmp_path / "t.csv", index=False)
    keep = code != "A"
    pd.DataFrame({"x": x[keep], "code": code[keep], "flag": flag[keep]}).to_csv(
        tmp_path / "p.csv", index=False)
    for dtype in ("float32", "float64"):
        model = tmp_path / f"m{dtype}.fastbp"
        assert main(["train", "--data", str(tmp_path / "t.csv"), "--target", "label",
                     "--epochs", "30", "--quiet", "--hidden-layer-sizes", "8",
                     "--learning-rate-init", "0.02", "--dtype", dtype,
                     "--model-out", str(model)]) == 0
        pipe = fastbp.load(model)
        assert pipe[-1].coefs_[0].dtype == np.dtype(dtype)
        out = tmp_path / "out.csv"
        assert main(["predict", "--model", str(model), "--data", str(tmp_path / "p.csv"),
                     "--out", str(out)]) == 0
        predicted = pd.read_csv(out)["label"].to_numpy()
        expected = pipe.predict(pd.DataFrame({"x": x[keep], "code": code[keep],
                                              "flag": flag[keep]}))
        np.testing.assert_array_equal(predicted, expected)
        assert (predicted == label[keep]).mean() > 0.85
        # Every one-hot column of a row is set: no value was an unknown category.
        onehot = pipe[0].transform(pd.read_csv(tmp_path / "p.csv", dtype={"code": str}))
        assert np.all(onehot[:, 1:].sum(axis=1) == 2)


def test_target_codes_keep_their_leading_zeros(tmp_path, capsys):
    # Before, "007" became the class 7: predictions lost the zeros, and
    # evaluate compared 7 with "007".
    import pandas as pd
    frame = _write_csv(tmp_path / "t.csv", 120, "classification", 0)
    frame["label"] = np.where(frame["label"] == "yes", "007", "012")
    frame.to_csv(tmp_path / "t.csv", index=False)
    model, out = tmp_path / "m.fastbp", tmp_path / "p.csv"
    assert main(["train", "--data", str(tmp_path / "t.csv"), "--target", "label", "--epochs",
                 "30", "--quiet", "--model-out", str(model), "--valid",
                 str(tmp_path / "t.csv")]) == 0
    assert fastbp_load(model).classes_.tolist() == ["007", "012"]
    assert main(["predict", "--model", str(model), "--data", str(tmp_path / "t.csv"),
                 "--out", str(out)]) == 0
    written = pd.read_csv(out, dtype=str)["label"]
    assert set(written) <= {"007", "012"} and len(written) == 120
    capsys.readouterr()
    assert main(["evaluate", "--model", str(model), "--data", str(tmp_path / "t.csv")]) == 0
    assert float(capsys.readouterr().out.split("accuracy: ")[1].split()[0]) > 0.7


@pytest.mark.parametrize("text, written", [
    (b"a,b\n007,1\n", True), (b"a,b\n7,1\n", False), (b"a,b\n0.5,0\n", False),
    (b'a,b\n"012",1\n', True), (b"a,b\n1, 05\n", True), (b"a,b\n+012,1\n", True),
    (b"a\n0\n0\n", False), (b"a,b\n10,100\n", False), (b"a\tb\n1\t02\n", True),
])
def test_the_scan_for_leading_zeros_finds_what_the_second_read_needs(tmp_path, text,
                                                                    written):
    # The file is read again as text only where a field may start with a
    # leading zero: a file of integers without any (pixels) is read once.
    import gzip

    from fastbp.cli_data.tables import _may_write_leading_zeros

    (tmp_path / "d.csv").write_bytes(text)
    assert _may_write_leading_zeros(str(tmp_path / "d.csv")) is written
    with gzip.open(tmp_path / "d.csv.gz", "wb") as fh:
        fh.write(text)
    assert _may_write_leading_zeros(str(tmp_path / "d.csv.gz")) is written


def test_many_distinct_codes_kept_as_text_are_not_called_numbers(tmp_path, capsys):
    # helper-50: 300 zip codes written with leading zeros (kept as text on
    # purpose) got the advice to "write numbers as plain numbers"; and a
    # column named 'self' holding such codes failed in DataFrame.assign.
    frame = _write_csv(tmp_path / "t.csv", 300, "classification", 0)
    zips = np.array([f"{v:05d}" for v in range(300)])
    frame["self"] = zips
    frame.to_csv(tmp_path / "z.csv", index=False)
    assert main(["train", "--data", str(tmp_path / "z.csv"), "--target", "label",
                 "--epochs", "1", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "column 'self' holds 300 distinct text values" in err
    assert "drop the column if it is an ID" in err and "plain numbers" not in err


def test_feature_codes_keep_their_leading_zeros(tmp_path, capsys):
    # Before, a zip column '02134', '00501', '10001' was read as numbers and
    # standardised, while a target written so was kept as codes.
    import pandas as pd
    import fastbp

    frame = _write_csv(tmp_path / "t.csv", 120, "classification", 0)
    zips = np.array(["02134", "00501", "10001"])[np.arange(120) % 3]
    frame.assign(zip=zips).to_csv(tmp_path / "t.csv", index=False)
    # One zip missing: a whole-number column with a gap (floats to pandas).
    frame.assign(zip=np.where(np.arange(120) == 5, "", zips)).to_csv(tmp_path / "gap.csv",
                                                                    index=False)
    # A file to predict whose zips have no leading zero: still codes.
    frame.assign(zip="10001").drop(columns="label").to_csv(tmp_path / "p.csv", index=False)
    for data in ("t.csv", "gap.csv"):
        model = tmp_path / f"m-{data}.fastbp"
        assert main(["train", "--data", str(tmp_path / data), "--target", "label",
                     "--epochs", "2", "--quiet", "--model-out", str(model),
                     "--valid", str(tmp_path / "t.csv")]) == 0
        pipe = fastbp.load(model)
        columns = {name: list(cols) for name, _, cols in pipe[0].transformers_}
        assert columns["numeric"] == ["x1", "x2"], columns
        assert columns["categorical"] == ["colour", "zip"], columns
        categories = pipe[0].named_transformers_["categorical"].categories_[1]
        assert {"00501", "02134", "10001"} <= set(categories), categories
        assert main(["predict", "--model", str(model), "--data", str(tmp_path / "p.csv"),
                     "--out", str(tmp_path / "out.csv")]) == 0
        assert "never saw" not in capsys.readouterr().err
        assert len(pd.read_csv(tmp_path / "out.csv")) == 120
    # Plain numbers stay numbers (no leading zero, or a lone 0).
    frame.assign(count=np.arange(120) % 7).to_csv(tmp_path / "n.csv", index=False)
    assert main(["train", "--data", str(tmp_path / "n.csv"), "--target", "label",
                 "--epochs", "1", "--quiet", "--model-out", str(tmp_path / "n.fastbp")]) == 0
    pipe = fastbp.load(tmp_path / "n.fastbp")
    assert "count" in list(pipe[0].transformers_[0][2])


def test_blank_lines_and_trailing_commas_are_read_as_written(tmp_path, capsys):
    # Before: a trailing comma made the first column the index (every name
    # shifted: "numeric column(s) ['t'] have missing values"), and a blank
    # line put the missing target of line 6 on "line 5".
    (tmp_path / "trail.csv").write_text("a,b,t\n" + "".join(
        f"{i / 10},{-i / 7},{'yes' if i % 2 else 'no'},\n" for i in range(30)))
    assert main(["train", "--data", str(tmp_path / "trail.csv"), "--target", "t",
                 "--epochs", "1", "--quiet"]) == 0
    assert "2 feature columns, target 't' (classification)" in capsys.readouterr().out
    # A trailing comma on the header line too: pandas named the empty field
    # "Unnamed: 3", and train blamed that column's missing values.
    (tmp_path / "trail2.csv").write_text("a,b,t,\n" + "".join(
        f"{i / 10},{-i / 7},{'yes' if i % 2 else 'no'},\n" for i in range(30)))
    assert main(["train", "--data", str(tmp_path / "trail2.csv"), "--target", "t",
                 "--epochs", "1", "--quiet"]) == 0
    assert "2 feature columns, target 't' (classification)" in capsys.readouterr().out
    (tmp_path / "blank.csv").write_text(
        "a,b,t\n0.1,0.2,yes\n0.3,0.1,no\n\n0.6,1.7,yes\n,,\n0.1,0.5,no\n")
    assert main(["train", "--data", str(tmp_path / "blank.csv"), "--target", "t"]) == 2
    assert "has 1 missing value(s) (lines [6])" in capsys.readouterr().err


def test_evaluate_names_text_among_numeric_labels(tmp_path, capsys):
    import pandas  # noqa: F401 - the CSV reading needs it
    frame = _write_csv(tmp_path / "t.csv", 60, "classification", 0)
    frame["label"] = (frame["label"] == "yes").astype(int)
    frame.to_csv(tmp_path / "t.csv", index=False)
    model = tmp_path / "m.fastbp"
    assert main(["train", "--data", str(tmp_path / "t.csv"), "--target", "label", "--epochs",
                 "2", "--quiet", "--model-out", str(model)]) == 0
    frame = frame.astype({"label": object})
    frame.loc[3, "label"] = "?"
    frame.to_csv(tmp_path / "q.csv", index=False)
    capsys.readouterr()
    assert main(["evaluate", "--model", str(model), "--data", str(tmp_path / "q.csv")]) == 2
    assert ("the target column 'label' holds text ('?') where the model's classes are "
            "numbers ([0, 1])") in capsys.readouterr().err
    frame.loc[3, "label"] = 1
    frame.to_csv(tmp_path / "q.csv", index=False)
    assert main(["evaluate", "--model", str(model), "--data", str(tmp_path / "q.csv")]) == 0


def test_row_names_stay_an_index_and_trailing_commas_keep_codes(tmp_path, capsys):
    # R's write.table: a header one field shorter, the rows named. Reading
    # every file without an index put the names in column 'a' and shifted
    # the rest; and a trailing-comma file lost its target's leading zeros.
    rows = [(i / 10, -i / 7, "001" if i % 2 else "000") for i in range(30)]
    (tmp_path / "named.csv").write_text(
        "a,b,t\n" + "".join(f"r{i},{a},{b},{t}\n" for i, (a, b, t) in enumerate(rows)))
    model = tmp_path / "m.fastbp"
    assert main(["train", "--data", str(tmp_path / "named.csv"), "--target", "t", "--epochs",
                 "1", "--quiet", "--model-out", str(model)]) == 0
    assert "30 rows, 2 feature columns, target 't' (classification)" in capsys.readouterr().out
    assert fastbp_load(model).classes_.tolist() == ["000", "001"]
    (tmp_path / "trail.csv").write_text(
        "a,b,t\n" + "".join(f"{a},{b},{t},\n" for a, b, t in rows))
    assert main(["train", "--data", str(tmp_path / "trail.csv"), "--target", "t", "--epochs",
                 "1", "--quiet", "--model-out", str(model)]) == 0
    assert fastbp_load(model).classes_.tolist() == ["000", "001"]


def test_lbfgs_early_stopping_error_names_the_option_given(tmp_path, capsys):
    _write_csv(tmp_path / "t.csv", 30, "classification", 0)
    for option in (["--early-stopping"], ["--set", "early_stopping=True"]):
        assert main(["train", "--data", str(tmp_path / "t.csv"), "--target", "label",
                     "--solver", "lbfgs", *option]) == 2
        assert f"{' '.join(option)} (early stopping) needs a stochastic solver" in \
            capsys.readouterr().err
    assert main(["train", "--solver", "lbfgs", "--early-stopping"]) == 2
    err = capsys.readouterr().err
    assert "--early-stopping (early stopping)" in err and "--valid" not in err


def test_an_infinite_regression_target_is_named(tmp_path, capsys):
    frame = _write_csv(tmp_path / "r.csv", 30, "regression", 0)
    frame.loc[6, "label"] = np.inf
    frame.to_csv(tmp_path / "r.csv", index=False)
    assert main(["train", "--data", str(tmp_path / "r.csv"), "--target", "label"]) == 2
    assert ("the target column 'label' holds 1 infinite value(s) (lines [8])"
            in capsys.readouterr().err)


def fastbp_load(path):
    import fastbp

    return fastbp.load(path)


def test_a_numeric_column_with_stray_text_gets_a_note(tmp_path, capsys):
    frame = _write_csv(tmp_path / "t.csv", 100, "classification", 0).astype({"x2": object})
    frame.loc[[3, 9], "x2"] = "?"
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert main(["train", "--data", str(tmp_path / "t.csv"), "--target", "label",
                 "--epochs", "2", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "note: column 'x2' holds numbers but for 1 text value(s) ('?')" in err


def test_other_failures_exit_2_with_one_line(tmp_path, capsys, monkeypatch):
    # A RuntimeError (device="cuda" without a GPU) or an OSError from deep
    # inside a command is one line and exit status 2, not a traceback.
    import fastbp.cli as cli

    for exc in (RuntimeError("no usable GPU"),
                IsADirectoryError(21, "Is a directory", "out")):
        def fail(args, exc=exc):
            raise exc
        monkeypatch.setattr(cli, "train", fail)
        assert main(["train"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("fastbp: error: "), err
    assert "out: Is a directory" in err


def test_booleans_as_a_shell_user_writes_them():
    from fastbp.cli_data.options import parse_settings

    assert parse_settings(["early_stopping=true", "shuffle=False", "nesterovs_momentum=TRUE",
                           "alpha=0.1", "solver=sgd"]) == {
        "early_stopping": True, "shuffle": False, "nesterovs_momentum": True, "alpha": 0.1,
        "solver": "sgd"}


def test_a_fit_that_hits_the_epoch_limit_gets_a_one_line_note(tmp_path, capsys):
    train_csv = tmp_path / "train.csv"
    _write_csv(train_csv, 60, "classification", 0)
    assert main(["train", "--data", str(train_csv), "--target", "label", "--epochs", "2",
                 "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "note: training stopped at the epoch limit (2)" in err
    assert "ConvergenceWarning" not in err and "warnings.warn" not in err


def test_the_epoch_limit_is_a_note_even_when_warnings_are_errors(tmp_path):
    # helper-136: under PYTHONWARNINGS=error (or python -W error) the fit's
    # ConvergenceWarning was raised out of it: a traceback, exit status 1,
    # no model saved and no note (helper-123's review).
    train_csv, model = tmp_path / "train.csv", tmp_path / "m.fastbp"
    _write_csv(train_csv, 60, "classification", 0)
    env = dict(os.environ, PYTHONWARNINGS="error")
    for solver in ("adam", "lbfgs"):
        proc = subprocess.run([sys.executable, "-m", "fastbp", "train", "--data",
                               str(train_csv), "--target", "label", "--epochs", "2", "--quiet",
                               "--solver", solver, "--model-out", str(model)],
                              capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr
        assert "note: " in proc.stderr and "--epochs" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr and "ConvergenceWarning" not in proc.stderr
        assert model.exists()
        model.unlink()


def test_predict_to_a_closed_standard_output_is_an_error(tmp_path, capsys, monkeypatch):
    # helper-136: `fastbp predict --out - >&-` ended in a traceback
    # (sys.stdout is None there, and to_csv(None) wrote nothing), exit
    # status 1 (helper-123's review).
    train_csv, model = tmp_path / "train.csv", tmp_path / "m.fastbp"
    _write_csv(train_csv, 60, "classification", 0)
    assert main(["train", "--data", str(train_csv), "--target", "label", "--epochs", "2",
                 "--quiet", "--model-out", str(model)]) == 0
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdout", None)
    assert main(["predict", "--model", str(model), "--data", str(train_csv),
                 "--out", "-"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastbp: error: --out -: standard output is closed"), err
    assert len(err.splitlines()) == 1, err


def _train_on_a_linear_target(tmp_path, target, scale, offset, *options):
    """``fastbp train`` on 200 rows of two standard-normal features and
    ``target = scale * a + offset``, in a process of its own: pytest records
    warnings rather than showing them."""
    import pandas as pd
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(200), rng.standard_normal(200)
    path = tmp_path / "reg.csv"
    pd.DataFrame({"a": a, "b": b, target: scale * a + offset}).to_csv(path, index=False)
    return subprocess.run([sys.executable, "-m", "fastbp", "train", "--data", str(path),
                           "--target", target, "--quiet", *options], capture_output=True,
                          text=True, timeout=600)


def test_other_warnings_show_at_once_even_when_the_fit_fails(tmp_path):
    # The exploding-gradient warning that explains a divergence is shown
    # (only ConvergenceWarning becomes a note, after a fit that succeeds).
    # The target as read: standardised (fix-294's default), it trains.
    proc = _train_on_a_linear_target(tmp_path, "y", 3, 1, "--epochs", "20", "--solver", "sgd",
                                     "--set", "learning_rate_init=0.5", "--no-scale-target")
    assert proc.returncode == 2
    err = proc.stderr
    assert "warning: GradientWarning: " in err and "exploding" in err, err
    assert ".py:" not in err and "warnings.warn" not in err, err  # no source lines
    assert "fastbp: error: Training diverged" in err and "note:" not in err


# Advice in the library's words, none of them in the command line's.
_PYTHON_ADVICE = ("learning_rate_init", "clip_grad_norm", "lower gamma", "with gamma=",
                  "learning_rate=", "standardise X", "StandardScaler",
                  "standardise the input", "early_stopping")


def test_divergence_and_gradient_advice_name_the_options(tmp_path):
    # helper-134: a diverging fit advised lower learning_rate_init, set
    # clip_grad_norm and standardise X (with sklearn's StandardScaler) to a
    # command-line user, whose X train had standardised already.
    # The target as read (fix-294: standardised by default, which needs no
    # such advice), whose advice is to standardise it.
    proc = _train_on_a_linear_target(tmp_path, "t", 1000, 5000, "--solver", "sgd",
                                     "--learning-rate-init", "1.0", "--epochs", "5",
                                     "--no-scale-target")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    warning = [line for line in lines if line.startswith("warning: GradientWarning: ")]
    error = [line for line in lines if line.startswith("fastbp: error: Training diverged")]
    assert len(warning) == 1 and len(error) == 1, proc.stderr
    assert ("Remedies: --clip-grad-norm 1.0, a smaller --learning-rate-init, "
            "--normalization batch or layer, --alpha with a value above 0, or standardise "
            "the target column 't'") in warning[0], warning
    assert ("To fix it, lower --learning-rate-init (now 1), set --clip-grad-norm (for "
            "example 1.0) or standardise the target column 't'") in error[0], error
    for text in _PYTHON_ADVICE:
        assert text not in warning[0] + error[0], text


def test_divergence_advice_of_a_classifier_drops_standardising(tmp_path, capsys):
    # helper-134: a classifier's target needs no scaling, and its X is
    # standardised: the advice ends with the options; gamma, without an
    # option of its own, is --set gamma=...
    import pandas as pd
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(200), rng.standard_normal(200)
    path = tmp_path / "cls.csv"
    pd.DataFrame({"a": a, "b": b, "t": np.where(a > 0, "x", "y")}).to_csv(path, index=False)
    code = main(["train", "--data", str(path), "--target", "t", "--solver", "sgd",
                 "--learning-rate-init", "0.1", "--learning-rate", "exponential",
                 "--set", "gamma=1000", "--epochs", "8", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    error = [line for line in err.splitlines() if line.startswith("fastbp: error:")]
    assert len(error) == 1 and "Training diverged" in error[0], err
    assert "which --learning-rate exponential with --set gamma=1000 raised above " \
           "--learning-rate-init (0.1)" in error[0], error
    assert error[0].endswith("To fix it, lower --set gamma=... (below 1 to decay the rate), "
                             "lower --learning-rate-init (now 0.1) or set --clip-grad-norm "
                             "(for example 1.0)."), error
    for text in _PYTHON_ADVICE:
        assert text not in error[0], text


def test_command_line_advice_translates_each_phrasing():
    # helper-134: the remedies of every GradientWarning and of L-BFGS's
    # divergence, as the command line words them.
    import argparse

    import fastbp
    from fastbp.cli_data.options import command_line_advice
    from fastbp.training import diagnostics

    reg, clf = fastbp.MLPRegressor(), fastbp.MLPClassifier()
    args = argparse.Namespace(set=None)
    assert command_line_advice(diagnostics._VANISHING_REMEDIES, clf, args) == (
        "Remedies: --activation relu (or leaky_relu, elu, gelu) with --init "
        "he_uniform/he_normal, --normalization batch or layer, --residual, fewer layers, "
        "or a larger --learning-rate-init.")
    # Clipping on: the first remedy, standardising, goes with its comma.
    assert command_line_advice(diagnostics._EXPLODING_REMEDIES_CLIPPED, clf, args) == (
        "Remedies: --normalization batch or layer, a smaller --learning-rate-init, "
        "or --alpha with a value above 0.")
    assert "(standardise" not in command_line_advice(diagnostics._VANISHING_INPUT, clf, args)
    # A parameter set with --set is advised as --set: its option too is refused.
    given = argparse.Namespace(set=["learning_rate_init=0.5"])
    assert command_line_advice(diagnostics._DEAD_REMEDIES, clf, given).endswith(
        "Remedies: a smaller --set learning_rate_init=..., --clip-grad-norm 1.0, "
        "--activation leaky_relu or elu (which never die), or --normalization batch.")
    lbfgs = ("Training diverged: with solver='lbfgs' the loss is nan at the starting "
             "weights, so L-BFGS cannot take a step. The model keeps its state from before "
             "this call. To fix it, standardise X (and y for a regressor), for example with "
             "sklearn.preprocessing.StandardScaler. The penalty may be the cause: alpha=5.")
    assert command_line_advice(lbfgs, reg, args, target="price") == (
        "Training diverged: with --solver lbfgs the loss is nan at the starting weights, so "
        "L-BFGS cannot take a step. The model keeps its state from before this call. To "
        "fix it, standardise the target column 'price' (fastbp train standardises the "
        "numeric feature columns, not the target). The penalty may be the cause: --alpha 5.")
    assert command_line_advice(lbfgs, clf, args).endswith(
        "before this call. The penalty may be the cause: --alpha 5.")


def test_command_line_advice_keeps_the_alternatives_of_a_set_parameter():
    # helper-144: a parameter given with --set was advised as --set
    # activation=relu) -- its alternatives dropped, a ")" left over -- and
    # "alpha > 0" as "--alpha > 0", which a shell turns into a redirect.
    import argparse

    import fastbp
    from fastbp.cli_data.options import command_line_advice
    from fastbp.training import diagnostics

    clf = fastbp.MLPClassifier()
    activation = argparse.Namespace(set=["activation=tanh"])
    assert command_line_advice(diagnostics._VANISHING_REMEDIES, clf, activation) == (
        "Remedies: --set activation=relu (or leaky_relu, elu, gelu) with --init "
        "he_uniform/he_normal, --normalization batch or layer, --residual, fewer layers, "
        "or a larger --learning-rate-init.")
    assert command_line_advice(diagnostics._DEAD_REMEDIES, clf, activation).endswith(
        "--set activation=leaky_relu or elu (which never die), or --normalization batch.")
    both = argparse.Namespace(set=["normalization=batch", "alpha=0.1"])
    assert command_line_advice(diagnostics._EXPLODING_REMEDIES, clf, both) == (
        "Remedies: --clip-grad-norm 1.0, a smaller --learning-rate-init, --set "
        "normalization=batch or layer, or --set alpha=... with a value above 0.")
    args = argparse.Namespace(set=None)
    for message in (diagnostics._EXPLODING_REMEDIES, diagnostics._EXPLODING_REMEDIES_CLIPPED):
        assert command_line_advice(message, clf, args).endswith(
            ", or --alpha with a value above 0.")


def test_names_the_terminal_cannot_encode_are_escaped(tmp_path):
    import pandas as pd
    rng = np.random.default_rng(0)
    path = tmp_path / "d.csv"
    pd.DataFrame({"größe": rng.standard_normal(40),
                  "klasse": np.where(rng.standard_normal(40) > 0, "jä", "nein")}).to_csv(
        path, index=False)
    proc = subprocess.run([sys.executable, "-m", "fastbp", "train", "--data", str(path),
                           "--target", "größe", "--epochs", "1",
                           "--quiet"], capture_output=True, timeout=600,
                          env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert proc.returncode == 0, proc.stderr
    assert b"target 'gr\\xf6\\xdfe' (regression)" in proc.stdout, proc.stdout


def test_lbfgs_convergence_note_gives_scipys_reason(tmp_path, capsys):
    train_csv = tmp_path / "train.csv"
    _write_csv(train_csv, 60, "classification", 0)
    assert main(["train", "--data", str(train_csv), "--target", "label", "--epochs", "100",
                 "--quiet", "--solver", "lbfgs", "--set", "max_fun=3"]) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    # helper-150 (fix-158): a max_fun stop's note is the command line's own,
    # naming --set max_fun, as the iteration limit's names --epochs
    # (tests/test_lbfgs_edges.py).
    assert len(notes) == 1 and "limit of loss evaluations (--set max_fun=3)" in notes[0], err
    assert "epoch limit" not in err


def test_lbfgs_prints_a_line_per_iteration(tmp_path, capsys):
    import fastbp

    train_csv = tmp_path / "train.csv"
    _write_csv(train_csv, 60, "classification", 0)
    assert main(["train", "--data", str(train_csv), "--target", "label", "--epochs", "3",
                 "--solver", "lbfgs", "--history-out", str(tmp_path / "h.csv")]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("iteration ")]
    # The losses printed are the history's, one line per iteration.
    losses = np.loadtxt(tmp_path / "h.csv", delimiter=",", skiprows=1, usecols=1)
    assert [line.split(" - ")[0] for line in lines] == ["iteration 1/3", "iteration 2/3",
                                                       "iteration 3/3"], lines
    assert [line.split(" - ")[-1] for line in lines] == [f"loss {v:.4f}" for v in losses]
    assert "trained 3 iterations in" in out
    # The hook is the command line's only: a plain fit prints nothing.
    fastbp.MLPClassifier((4,), solver="lbfgs", max_iter=3).fit(np.eye(4), [0, 1, 0, 1])
    assert capsys.readouterr().out == ""


def test_lbfgs_at_its_iteration_limit_names_epochs(tmp_path, capsys):
    # scikit-learn's message names max_iter, which the command line calls --epochs.
    train_csv = tmp_path / "train.csv"
    _write_csv(train_csv, 60, "classification", 0)
    assert main(["train", "--data", str(train_csv), "--target", "label", "--epochs", "3",
                 "--quiet", "--solver", "lbfgs"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert notes == ["note: L-BFGS stopped at its iteration limit (--epochs 3) before "
                     "converging; pass a larger --epochs to train longer"]
    # Its history's rows are iterations, as the plot calls them.
    assert main(["train", "--data", str(train_csv), "--target", "label", "--epochs", "3",
                 "--quiet", "--solver", "lbfgs", "--history-out", str(tmp_path / "h.csv")]) == 0
    assert (tmp_path / "h.csv").read_text().splitlines()[0] == "iteration,loss,epoch_time"


def test_missing_categories_are_a_category(tmp_path, capsys):
    # The one-hot encoder takes a missing category as a category of its own.
    train_csv = tmp_path / "train.csv"
    frame = _write_csv(train_csv, 80, "classification", 0)
    frame.loc[::3, "colour"] = None
    frame.to_csv(train_csv, index=False)
    model = tmp_path / "m.fastbp"
    assert main(["train", "--data", str(train_csv), "--target", "label", "--epochs", "2",
                 "--quiet", "--model-out", str(model)]) == 0
    assert main(["evaluate", "--model", str(model), "--data", str(train_csv)]) == 0


def test_categories_training_never_saw_get_a_note(tmp_path, capsys):
    train_csv, new_csv = tmp_path / "train.csv", tmp_path / "new.csv"
    frame = _write_csv(train_csv, 80, "classification", 0)
    model = tmp_path / "m.fastbp"
    assert main(["train", "--data", str(train_csv), "--target", "label", "--epochs", "2",
                 "--quiet", "--model-out", str(model)]) == 0
    capsys.readouterr()
    # Known categories: no note.
    assert main(["evaluate", "--model", str(model), "--data", str(train_csv)]) == 0
    assert "note:" not in capsys.readouterr().err
    frame.loc[[1, 4, 9], "colour"] = ["purple", "purple", None]
    frame.to_csv(new_csv, index=False)
    for command in (["evaluate"], ["predict", "--out", str(tmp_path / "p.csv")]):
        assert main([*command, "--model", str(model), "--data", str(new_csv)]) == 0
        notes = [line for line in capsys.readouterr().err.splitlines()
                 if line.startswith("note:")]
        assert notes == [f"note: {new_csv}: column 'colour' holds categories training never "
                         "saw ('purple', a missing value; 3 row(s)): they are encoded as "
                         "none of the known ones"], notes
    # A validation file given to train, too.
    assert main(["train", "--data", str(train_csv), "--target", "label", "--epochs", "2",
                 "--quiet", "--valid", str(new_csv)]) == 0
    assert f"note: {new_csv}: column 'colour' holds categories training never saw" in \
        capsys.readouterr().err


def test_a_regression_target_far_from_unit_scale_gets_a_note(tmp_path, capsys):
    import pandas as pd
    rng = np.random.default_rng(0)
    x = rng.standard_normal(80)
    for scale, noted in ((1.0, False), (500.0, True)):
        path = tmp_path / f"price{scale}.csv"
        pd.DataFrame({"x": x, "price": scale * (3 * x + 0.5)}).to_csv(path, index=False)
        # Fitted as read: a standardised target (fix-294's default) needs no note.
        assert main(["train", "--data", str(path), "--target", "price", "--epochs", "1",
                     "--quiet", "--no-scale-target"]) == 0
        err = capsys.readouterr().err
        assert ("note: the target 'price' has mean" in err) == noted, err
        assert main(["train", "--data", str(path), "--target", "price", "--epochs", "1",
                     "--quiet"]) == 0
        assert "note: the target 'price' has mean" not in capsys.readouterr().err


def test_output_closed_early_is_not_a_traceback():
    # ``fastbp info | head -1``: the reader goes away.
    proc = subprocess.run(f"{sys.executable} -m fastbp info | head -1", shell=True,
                          capture_output=True, text=True, timeout=300)
    assert proc.stdout.startswith("fastbp ")
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("value", ["0", "inf", "nan"])
def test_clip_grad_norm_zero_or_not_finite_is_rejected(value, capsys):
    # inf passed the parse and was refused by the estimator only after the
    # data was read (fix-311's finding, for --alpha and --l1).
    with pytest.raises(SystemExit) as exc:
        main(["train", "--clip-grad-norm", value])
    assert exc.value.code == 2
    assert "expected a finite number > 0" in capsys.readouterr().err


def test_version_and_python_dash_m():
    import fastbp

    out = subprocess.run([sys.executable, "-m", "fastbp", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == f"fastbp {fastbp.__version__}"
    assert hasattr(fastbp, "datasets") and callable(fastbp.datasets.load_digits)


def test_help_shows_defaults():
    out = subprocess.run([sys.executable, "-m", "fastbp", "train", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "(default: 30)" in out and "(default: adam)" in out
    assert "(default: digits)" in out and "(default: 0.25)" in out


def test_compilation_is_announced_on_a_cold_cache_only(tmp_path):
    import os

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    cmd = [sys.executable, "-m", "fastbp", "train", "--epochs", "1", "--quiet",
           "--hidden-layer-sizes", "8", "--dtype", "float64"]
    cold = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    warm = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert cold.returncode == warm.returncode == 0, cold.stderr + warm.stderr
    # On standard error, with the other notes (rev-291: `> log` kept it).
    assert "fastbp: compiling the float64 kernels for adam" in cold.stderr
    assert "compiling" not in cold.stdout + warm.stdout + warm.stderr


_NO_WRITABLE_CACHE = """
import json, sys, warnings
import numba.core.caching as caching
# What a read-only install without a writable HOME or NUMBA_CACHE_DIR sees.
for cls in caching.CacheImpl._locator_classes:
    cls.from_function = classmethod(lambda cls, py_func, py_file: None)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import fastbp
print(json.dumps([[w.filename, str(w.message)] for w in caught
                  if issubclass(w.category, fastbp.CacheWarning)]))
from fastbp.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_compilation_without_a_writable_cache_is_announced_as_in_memory():
    # helper-136: with no writable cache location every process printed
    # "first use on this machine ... cached on disk afterwards" and compiled
    # again; and the CacheWarning named fastbp/_config.py, not the import
    # (helper-123's review).
    import json

    proc = subprocess.run([sys.executable, "-c", _NO_WRITABLE_CACHE, "train", "--epochs", "1",
                           "--quiet", "--hidden-layer-sizes", "8", "--dtype", "float64"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    ((filename, message),) = json.loads(lines[0])
    assert "no writable directory" in message
    assert filename == "<string>"  # the line that imported fastbp
    (notice,) = [line for line in proc.stderr.splitlines() if "compiling" in line]
    assert "compiling" not in proc.stdout
    assert notice.startswith("fastbp: compiling the float64 kernels for adam in memory"), notice
    assert "every process compiles them again" in notice and "NUMBA_CACHE_DIR" in notice
    assert "cached on disk" not in notice and "first use on this machine" not in notice


def test_info_reports_cpu_blas_cache_and_cuda():
    out = subprocess.run([sys.executable, "-m", "fastbp", "info"], capture_output=True,
                         text=True, check=True).stdout
    for part in ("fastbp ", "CPU: ", "blas: ", "kernels' matrix products: ", "compile cache: ",
                 "warm for: ", "CUDA: "):
        assert part in out, out


def test_compile_without_a_writable_cache_is_an_error_of_status_2(capsys, monkeypatch):
    # helper-69: it exited 1, every other command-line error 2 (README).
    from fastbp._cache import dispatchers

    monkeypatch.setattr(dispatchers, "saves_to_disk", lambda: False)
    assert main(["compile", "--dtype", "float64"]) == 2
    assert capsys.readouterr().err.startswith(
        "fastbp: error: no directory for the compile cache is writable")


_COMPILE_ON_A_DISK_THAT_FILLS = """
import errno, sys
import fastbp._cache.index as cache
saved = []
save = cache.OrderedIndexDataCacheFile.save

def save_until_full(self, key, data):
    # A disk with room for three kernels' files: Numba raises OSError(ENOSPC).
    if len(saved) >= 3:
        raise OSError(errno.ENOSPC, "No space left on device")
    saved.append(key)
    return save(self, key, data)

cache.OrderedIndexDataCacheFile.save = save_until_full
from fastbp.cli import main
sys.exit(main(["compile", "--dtype", "float64", "--solver", "lbfgs"]))
"""


def test_compile_that_could_not_save_its_kernels_is_an_error(tmp_path):
    # helper-103: on a full disk it saved 4 of 42 kernels, said so in one
    # CacheWarning, reported "42 kernels compiled" and exited 0.
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "FASTBP_COMPILE_AHEAD": "0"}
    proc = subprocess.run([sys.executable, "-c", _COMPILE_ON_A_DISK_THAT_FILLS], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    total = proc.stdout.splitlines()[-1]
    compiled = int(total.split(": ")[1].split()[0])
    assert f"({compiled - 3} of them could not be saved to the cache)" in total, total
    assert proc.stderr.splitlines()[-1].startswith(
        f"fastbp: error: {compiled - 3} of the {compiled} kernels compiled could not be saved "
        "to the compile cache"), proc.stderr
    assert "No space left on device" in proc.stderr


def test_info_is_warm_only_for_kernels_compiled_for_this_cpu(tmp_path):
    # A cache filled under another CPU name (an image built elsewhere) was
    # reported warm, and the next fit compiled everything.
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    generic = {**env, "NUMBA_CPU_NAME": "generic", "NUMBA_CPU_FEATURES": ""}
    # A fit and a predict: a path is warm once both kernels are cached.
    fit = ("import numpy as np, warnings; warnings.simplefilter('ignore'); "
           "from fastbp import MLPClassifier; X = np.random.rand(12, 3); "
           "MLPClassifier((4,), max_iter=1).fit(X, np.arange(12) % 3).predict(X)")
    subprocess.run([sys.executable, "-c", fit], env=generic, check=True, timeout=600)

    def warm_for(environ):
        out = subprocess.run([sys.executable, "-m", "fastbp", "info"], env=environ,
                             capture_output=True, text=True, check=True, timeout=600).stdout
        return next(line for line in out.splitlines() if line.startswith("warm for: "))

    assert "float64 default path (softmax)" in warm_for(generic)
    assert "nothing yet" in warm_for(env)


def _warm_for(env):
    out = subprocess.run([sys.executable, "-m", "fastbp", "info"], env=env,
                         capture_output=True, text=True, check=True, timeout=600).stdout
    return next(line for line in out.splitlines() if line.startswith("warm for: "))


def test_info_says_which_solvers_are_warm(tmp_path):
    # Only the stochastic solvers' epoch kernel was looked at: after an
    # L-BFGS compile info said "nothing yet", and after an Adam compile it
    # called the path warm though an L-BFGS fit compiled.
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-m", "fastbp", "compile", "--solver", "lbfgs",
                    "--dtype", "float64"], env=env, check=True, capture_output=True,
                   timeout=600)
    warm = _warm_for(env)
    assert "float64 default path (softmax) for lbfgs" in warm, warm
    assert "stochastic" not in warm and "float32" not in warm, warm


def test_info_clear_cache_reports_the_cache_it_leaves(tmp_path):
    # It reported the files and warm paths it was about to delete.
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-m", "fastbp", "compile", "--solver", "lbfgs",
                    "--dtype", "float64"], env=env, check=True, capture_output=True,
                   timeout=600)
    out = subprocess.run([sys.executable, "-m", "fastbp", "info", "--clear-cache"], env=env,
                         capture_output=True, text=True, check=True, timeout=600).stdout
    lines = out.splitlines()
    removed = next(i for i, line in enumerate(lines) if line.startswith("removed "))
    assert int(lines[removed].split()[1]) > 0, out
    assert lines.index("cached files: 0 (0.0 MiB)") > removed, out
    assert "warm for: nothing yet (the first fit compiles) (fastbp compile fills it)" in lines
    assert _warm_for(env).startswith("warm for: nothing yet"), out


def test_info_without_a_writable_cache_says_none_is_kept():
    # It said "(fastbp compile fills it)", and fastbp compile refuses then.
    code = ("import numba.core.caching as caching, sys, warnings\n"
            "for cls in caching.CacheImpl._locator_classes:\n"
            "    cls.from_function = classmethod(lambda cls, py_func, py_file: None)\n"
            "warnings.simplefilter('ignore')\n"
            "from fastbp.cli import main\n"
            "sys.exit(main(['info']))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=600).stdout
    assert ("warm for: nothing (no cache is kept: every process compiles its kernels)\n"
            in out), out
    assert "fastbp compile" not in out, out


def test_a_class_training_never_saw_is_noted_when_evaluating(tmp_path, capsys):
    # helper-47: evaluate and --valid counted rows of an unseen class as
    # errors without a word.
    train_csv, test_csv, model = tmp_path / "t.csv", tmp_path / "v.csv", tmp_path / "m.fastbp"
    _write_csv(train_csv, 60, "classification", 0)
    frame = _write_csv(test_csv, 30, "classification", 1)
    frame.loc[:4, "label"] = "maybe"
    frame.to_csv(test_csv, index=False)
    assert main(["train", "--data", str(train_csv), "--target", "label", "--epochs", "2",
                 "--quiet", "--model-out", str(model), "--valid", str(test_csv)]) == 0
    note = ("note: 1 class(es) of these rows the model never saw in training ('maybe'): it "
            "cannot predict them, and their rows count as errors")
    assert note in capsys.readouterr().err
    assert main(["evaluate", "--model", str(model), "--data", str(test_csv)]) == 0
    assert note in capsys.readouterr().err
    assert main(["evaluate", "--model", str(model), "--data", str(train_csv)]) == 0
    assert "never saw" not in capsys.readouterr().err


def test_a_model_trained_on_the_gpu_predicts_on_a_machine_without_one(tmp_path, capsys):
    # helper-62: predict and evaluate failed with device='cuda''s "Use
    # device='cpu' here", which no command-line option could do.
    import fastbp
    from fastbp.kernels.cuda import device_status

    assert device_status() is not None, "this test needs a machine without a usable GPU"
    data, model = tmp_path / "d.csv", tmp_path / "m.fastbp"
    _write_csv(data, 60, "classification", 0)
    assert main(["train", "--data", str(data), "--target", "label", "--epochs", "2",
                 "--quiet", "--model-out", str(model)]) == 0
    expected, preds = tmp_path / "e.csv", tmp_path / "p.csv"
    assert main(["predict", "--model", str(model), "--data", str(data), "--out",
                 str(expected)]) == 0
    pipe = fastbp.load(model)
    pipe[-1].set_params(device="cuda")
    fastbp.save(pipe, model)
    capsys.readouterr()
    assert main(["predict", "--model", str(model), "--data", str(data), "--out",
                 str(preds)]) == 0
    err = capsys.readouterr().err
    assert f"note: {model} was trained with device='cuda'" in err and "on the CPU" in err
    assert preds.read_text() == expected.read_text()
    assert main(["evaluate", "--model", str(model), "--data", str(data)]) == 0


# helper-73: the command line on a user's own CSV files.

def _train_quiet(data, target, *options):
    return main(["train", "--data", str(data), "--target", target, "--epochs", "2",
                 "--quiet", *options])


def test_codes_after_a_space_are_the_codes_training_saw_in_later_files(tmp_path, capsys):
    # helper-73: "0.822, 02139, a": training kept the zip codes without
    # their space ("02139"), later files with it (" 02139"), so every row of
    # the very file trained on was an unseen category.
    import pandas as pd
    rng = np.random.default_rng(0)
    zips = np.array(["02139", "00501", "10001"])
    lines = ["x, zip, y"] + [f"{x:.3f}, {zips[i % 3]}, {'a' if x > 0 else 'b'}"
                             for i, x in enumerate(rng.standard_normal(90))]
    data = tmp_path / "t.csv"
    data.write_text("\n".join(lines) + "\n")
    model = tmp_path / "m.fastbp"
    assert _train_quiet(data, " y", "--model-out", str(model), "--valid", str(data)) == 0
    assert set(fastbp_load(model)[0].named_transformers_["categorical"].categories_[0]) == \
        set(zips)
    assert main(["evaluate", "--model", str(model), "--data", str(data)]) == 0
    assert main(["predict", "--model", str(model), "--data", str(data),
                 "--out", str(tmp_path / "p.csv")]) == 0
    assert "never saw" not in capsys.readouterr().err
    # Text categories that training read with their spaces keep them.
    (tmp_path / "s.csv").write_text("x,c,y\n" + "".join(
        f"{i / 9:.2f}, {'u' if i % 2 else 'v'},{'a' if i % 3 else 'b'}\n" for i in range(30)))
    assert _train_quiet(tmp_path / "s.csv", "y", "--model-out", str(model)) == 0
    assert main(["evaluate", "--model", str(model), "--data", str(tmp_path / "s.csv")]) == 0
    assert "never saw" not in capsys.readouterr().err
    assert len(pd.read_csv(tmp_path / "p.csv")) == 90


def test_true_and_false_stay_values_where_a_later_file_holds_another(tmp_path, capsys):
    # helper-73: one "unknown" made pandas read the column as text, and
    # 'True' is not True: every row was an unseen category.
    import pandas as pd
    rng = np.random.default_rng(0)
    x = rng.standard_normal(60)
    frame = pd.DataFrame({"x": x, "flag": x > 0, "y": np.where(x > 0.3, "a", "b")})
    frame.to_csv(tmp_path / "t.csv", index=False)
    odd = frame.astype({"flag": object})
    odd.loc[3, "flag"] = "unknown"
    odd.to_csv(tmp_path / "odd.csv", index=False)
    # A gap in the training column: True, False and missing values (object).
    gap = frame.astype({"flag": object})
    gap.loc[5, "flag"] = None
    gap.to_csv(tmp_path / "gap.csv", index=False)
    model = tmp_path / "m.fastbp"
    assert _train_quiet(tmp_path / "t.csv", "y", "--model-out", str(model),
                        "--valid", str(tmp_path / "odd.csv")) == 0
    assert main(["evaluate", "--model", str(model), "--data", str(tmp_path / "odd.csv")]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "never saw" in line]
    assert len(notes) == 2 and all("('unknown'; 1 row(s))" in n for n in notes), notes
    assert _train_quiet(tmp_path / "gap.csv", "y", "--valid", str(tmp_path / "gap.csv")) == 0
    assert "never saw" not in capsys.readouterr().err


def test_valid_labels_are_checked_before_training(tmp_path, capsys):
    # helper-73: classes 0 and 1, and a '?' in the --valid file: the model
    # was trained and saved, then "Mix of label input types".
    import pandas as pd
    frame = _write_csv(tmp_path / "t.csv", 60, "classification", 0)
    frame["label"] = (frame["label"] == "yes").astype(int)
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame = frame.astype({"label": object})
    frame.loc[3, "label"] = "?"
    frame.to_csv(tmp_path / "q.csv", index=False)
    model = tmp_path / "m.fastbp"
    assert _train_quiet(tmp_path / "t.csv", "label", "--valid", str(tmp_path / "q.csv"),
                        "--model-out", str(model)) == 2
    out, err = capsys.readouterr()
    assert err == ("fastbp: error: " + str(tmp_path / "q.csv") + ": the target column "
                   "'label' holds text ('?') where the model's classes are numbers ([1, 0]); "
                   "drop or fix those rows\n")
    assert "trained" not in out and not model.exists()
    assert pd.read_csv(tmp_path / "q.csv")["label"].tolist().count("?") == 1


def test_none_and_na_are_values_of_a_text_column_and_missing_among_numbers(tmp_path,
                                                                         capsys):
    # helper-73: a target None/Mild/Severe was refused: "has 102 missing
    # value(s)" (pandas reads "None", "NA", "null" as missing by default).
    import pandas as pd
    rng = np.random.default_rng(0)
    x = rng.standard_normal(90)
    severity = np.array(["None", "Mild", "Severe"])[np.digitize(x, [-0.4, 0.4])]
    region = np.array(["NA", "EU", "null"])[np.arange(90) % 3]
    pd.DataFrame({"x": x, "region": region, "severity": severity}).to_csv(
        tmp_path / "t.csv", index=False)
    model = tmp_path / "m.fastbp"
    assert _train_quiet(tmp_path / "t.csv", "severity", "--model-out", str(model),
                        "--valid", str(tmp_path / "t.csv")) == 0
    err = capsys.readouterr().err
    assert ("note: column 'severity' holds 'None' (" in err
            and "read as a value of the column: in a text column only an empty field is a "
                "missing value" in err)
    assert "column 'region' holds 'NA', 'null' (60 row(s))" in err
    pipe = fastbp_load(model)
    assert sorted(pipe.classes_) == ["Mild", "None", "Severe"]
    assert set(pipe[0].named_transformers_["categorical"].categories_[0]) == \
        {"EU", "NA", "null"}
    assert main(["evaluate", "--model", str(model), "--data", str(tmp_path / "t.csv")]) == 0
    assert "never saw" not in capsys.readouterr().err
    # R's "NA" among numbers is still a missing value, in a feature...
    frame = _write_csv(tmp_path / "r.csv", 30, "classification", 0).astype({"x2": object})
    frame.loc[4, "x2"] = "NA"
    frame.to_csv(tmp_path / "r.csv", index=False)
    assert _train_quiet(tmp_path / "r.csv", "label") == 2
    assert "numeric column(s) ['x2'] have missing values" in capsys.readouterr().err
    # ... and in a numeric target.
    frame = _write_csv(tmp_path / "n.csv", 30, "regression", 0).astype({"label": object})
    frame.loc[4, "label"] = "NA"
    frame.to_csv(tmp_path / "n.csv", index=False)
    assert _train_quiet(tmp_path / "n.csv", "label") == 2
    assert "the target column 'label' has 1 missing value(s) (lines [6])" in \
        capsys.readouterr().err


def test_one_hot_columns_too_big_for_memory_are_refused_before_training(tmp_path, capsys,
                                                                        monkeypatch):
    # helper-73: an ID column of 200,000 values was one-hot encoded into a
    # dense array: a MemoryError traceback, exit 1.
    import fastbp.cli_data.memory as cli_memory
    import fastbp.cli_data.train as cli_train

    import pandas as pd
    n = 20000
    pd.DataFrame({"x": np.arange(n) / n, "id": [f"c{i}" for i in range(n)],
                  "y": np.arange(n) % 2}).to_csv(tmp_path / "t.csv", index=False)
    # Since fix-184 the encoding is a CSR matrix where it is mostly zeros:
    # 40,000 stored float32 values and their indices, about 0.4 MiB (the
    # dense array was 1.5 GiB), more than a quarter of 1 MiB.
    monkeypatch.setattr(cli_memory, "_available_memory", lambda: 2**20)
    assert _train_quiet(tmp_path / "t.csv", "y") == 2
    out, err = capsys.readouterr()
    assert (f"fastbp: error: {tmp_path / 't.csv'}: one-hot encoding the text column(s) 'id' "
            "(20000 distinct values) would take a sparse matrix of 40000 stored values of "
            "float32 (20000 rows x 20001 columns), 0.4 MiB (the fit needs twice that), more "
            "than a quarter of the memory available (1.0 MiB); drop such a column"
            in err) and "trained" not in out

    # A MemoryError that still happens is one line, as the other errors.
    def out_of_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 1.50 GiB for an array with shape (20000, "
                          "20000) and data type float32")

    monkeypatch.setattr(cli_memory, "_available_memory", lambda: None)
    monkeypatch.setattr(cli_train, "fit_with_progress", out_of_memory)
    assert _train_quiet(tmp_path / "t.csv", "y") == 2
    assert capsys.readouterr().err.endswith(
        "fastbp: error: out of memory: Unable to allocate 1.50 GiB for an array with shape "
        "(20000, 20000) and data type float32\n")


def test_a_damaged_or_mislabelled_gz_file_is_named(tmp_path, capsys):
    # helper-73: a truncated .gz was an EOFError traceback; plain text named
    # .csv.gz was "Not a gzipped file (b'a,')" without the file's name.
    import gzip

    frame = _write_csv(tmp_path / "t.csv", 200, "classification", 0)
    packed = gzip.compress(frame.to_csv(index=False).encode())
    (tmp_path / "cut.csv.gz").write_bytes(packed[:len(packed) // 2])
    (tmp_path / "plain.csv.gz").write_bytes((tmp_path / "t.csv").read_bytes())
    model = tmp_path / "m.fastbp"
    assert _train_quiet(tmp_path / "t.csv", "label", "--model-out", str(model)) == 0
    capsys.readouterr()
    for name, problem in [("cut.csv.gz", "Compressed file ended before the end-of-stream "
                                         "marker was reached"),
                          ("plain.csv.gz", "Not a gzipped file (b'x1')")]:
        path = str(tmp_path / name)
        for argv in (["train", "--data", path, "--target", "label"],
                     ["evaluate", "--model", str(model), "--data", path]):
            assert main(argv) == 2
            assert capsys.readouterr().err == (
                f"fastbp: error: {path} could not be read: {problem} (a file named .gz is "
                "read as gzip-compressed)\n")


@pytest.mark.parametrize("option, name", [
    ("--out", "p.parquet"), ("--out", "p.xlsx"), ("--out", "p.json"), ("--out", "p.csv.bz2"),
    ("--out", "p.csv.zip"), ("--out", "p.csv.xz"), ("--history-out", "h.json")])
def test_output_tables_in_other_formats_are_refused(tmp_path, capsys, option, name):
    # helper-73: they were written as plain CSV whatever the name said.
    _write_csv(tmp_path / "t.csv", 30, "classification", 0)
    model = tmp_path / "m.fastbp"
    if option == "--out":
        assert _train_quiet(tmp_path / "t.csv", "label", "--model-out", str(model)) == 0
        argv = ["predict", "--model", str(model), "--data", str(tmp_path / "t.csv")]
    else:
        argv = ["train", "--data", str(tmp_path / "t.csv"), "--target", "label"]
    capsys.readouterr()
    assert main([*argv, option, str(tmp_path / name)]) == 2
    out, err = capsys.readouterr()
    assert err == (f"fastbp: error: {option} {tmp_path / name}: the file name must end in "
                   ".csv, .txt or .csv.gz (comma-separated), or .tsv or .tsv.gz "
                   "(tab-separated): fastbp writes no other format\n")
    assert not (tmp_path / name).exists() and "trained" not in out


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "30", "--set", "max_iter=2"],
     "--epochs and --set max_iter=... both set max_iter: give it once"),
    (["--solver", "adam", "--set", "solver=sgd"],
     "--solver and --set solver=... both set solver: give it once"),
    (["--validation-fraction", "0.2", "--set", "early_stopping=false"],
     "--validation-fraction and --set early_stopping=... both set early_stopping: give it "
     "once"),
    (["--early-stopping", "--set", "early_stopping=false"],
     "--early-stopping and --set early_stopping=... both set early_stopping: give it once"),
    (["--set", "max_iter=2", "--set", "max_iter=3"],
     "--set max_iter=... is given more than once: give it once"),
])
def test_an_option_given_at_its_default_and_a_set_are_refused(tmp_path, capsys, argv,
                                                              message):
    # helper-73: --epochs 30 (the default) was taken for an option not
    # given, and trained 2 epochs; the last of two --set won.
    _write_csv(tmp_path / "t.csv", 30, "classification", 0)
    assert main(["train", "--data", str(tmp_path / "t.csv"), "--target", "label",
                 "--quiet", *argv]) == 2
    out, err = capsys.readouterr()
    assert err == f"fastbp: error: {message}\n" and "trained" not in out


def test_the_epoch_limit_note_names_the_set_that_gave_it(tmp_path, capsys):
    # helper-73: after --set max_iter=3 the note said "pass a larger
    # --epochs", which is refused with it.
    _write_csv(tmp_path / "t.csv", 30, "classification", 0)
    assert main(["train", "--data", str(tmp_path / "t.csv"), "--target", "label",
                 "--quiet", "--set", "max_iter=3"]) == 0
    assert ("note: training stopped at the epoch limit (3) before the loss stopped "
            "improving; pass --set max_iter=N with a larger N to train longer\n"
            in capsys.readouterr().err)
    assert main(["train", "--data", str(tmp_path / "t.csv"), "--target", "label",
                 "--quiet", "--set", "max_iter=3", "--solver", "lbfgs"]) == 0
    assert ("note: L-BFGS stopped at its iteration limit (--set max_iter=3) before "
            "converging; pass --set max_iter=N with a larger N to train longer\n"
            in capsys.readouterr().err)


def test_a_written_index_column_gets_a_note(tmp_path, capsys):
    # helper-73: df.to_csv(path) writes the index as a column without a
    # name, which trained as a feature without a word.
    frame = _write_csv(tmp_path / "t.csv", 30, "classification", 0)
    frame.to_csv(tmp_path / "i.csv")
    assert _train_quiet(tmp_path / "i.csv", "label") == 0
    out, err = capsys.readouterr()
    assert "4 feature columns" in out
    assert ("note: column 'Unnamed: 0' (a header field without a name) holds the row "
            "numbers, as pandas writes a DataFrame's index (to_csv without index=False), "
            "and trains as a feature; drop it, or write the file with index=False") in err
    assert _train_quiet(tmp_path / "t.csv", "label") == 0
    assert "row numbers" not in capsys.readouterr().err


@pytest.mark.parametrize("encoding, says", [
    ("latin-1", ["is not UTF-8 text ('utf-8' codec can't decode byte 0xf6 in position ",
                 "and fastbp reads UTF-8 files; save it as UTF-8 (a spreadsheet's 'CSV UTF-8' "
                 "format, or pandas.read_csv(path, encoding='latin-1').to_csv(new_path, "
                 "index=False) for a Latin-1 or Windows file)"]),
    ("utf-16", ["is UTF-16 text, and fastbp reads UTF-8 files; save it as UTF-8 (a "
                "spreadsheet's 'CSV UTF-8' format, or pandas.read_csv(path, "
                "encoding='utf-16').to_csv(new_path, index=False))"])])
def test_a_file_not_in_utf8_says_to_save_it_so(tmp_path, capsys, encoding, says):
    # helper-73: "could not be read as CSV: 'utf-8' codec can't decode",
    # with no remedy.
    text = "city,x,y\nK\u00f6ln,1,a\nBonn,2,b\n"
    (tmp_path / "t.csv").write_bytes(text.encode(encoding))
    assert _train_quiet(tmp_path / "t.csv", "y") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"fastbp: error: {tmp_path / 't.csv'} {says[0]}")
    assert all(part in err for part in says), err


def _coded_file(path, seed=0):
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = 200
    zips = rng.choice(["02134", "10001", "NA", "02139"], n)
    x = rng.standard_normal(n)
    label = np.where(x + (zips == "NA") > 0.3, "yes", "no")
    pd.DataFrame({"zip": zips, "x": x, "label": label}).to_csv(path, index=False)


def test_an_na_among_codes_is_missing_in_every_file_the_model_reads(tmp_path, capsys):
    # helper-82: training read the "NA" of a column of leading-zero codes as
    # a missing value, as among numbers; evaluate, predict and --valid read
    # it as the category "NA", which training never saw: on the training
    # file itself, every such row was noted as unseen and scored otherwise.
    data, model = tmp_path / "codes.csv", tmp_path / "m.fastbp"
    _coded_file(data)
    assert main(["train", "--data", str(data), "--target", "label", "--epochs", "5",
                 "--quiet", "--valid", str(data), "--model-out", str(model)]) == 0
    assert "never saw" not in capsys.readouterr().err
    assert main(["evaluate", "--model", str(model), "--data", str(data)]) == 0
    assert "never saw" not in capsys.readouterr().err


def test_a_model_trained_before_text_kept_its_marks_reads_them_as_missing(tmp_path, capsys):
    # helper-82: a model saved before only empty fields were missing in
    # text had read "NA" as missing, and learned it as the missing
    # category; reading its files with "NA" as a value made every such row
    # an unseen category. (Trained here on empty fields, as it read them.)
    import fastbp
    import pandas as pd

    trained, data, model = tmp_path / "t.csv", tmp_path / "na.csv", tmp_path / "m.fastbp"
    _write_csv(data, 200, "classification", 0)
    frame = pd.read_csv(data)
    frame.loc[::3, "colour"] = "NA"
    frame.to_csv(data, index=False)
    frame.loc[::3, "colour"] = ""
    frame.to_csv(trained, index=False)
    assert main(["train", "--data", str(trained), "--target", "label", "--epochs", "5",
                 "--quiet", "--model-out", str(model)]) == 0
    pipe = fastbp_load(model)
    assert main(["evaluate", "--model", str(model), "--data", str(data)]) == 0
    assert "never saw ('NA'" in capsys.readouterr().err  # a model of now: "NA" is a value
    del pipe.fastbp_marks_missing_  # as a model saved before it
    fastbp.save(pipe, model)
    assert main(["evaluate", "--model", str(model), "--data", str(data)]) == 0
    assert "never saw" not in capsys.readouterr().err


# helper-86: the command line on large and unusual files.

def test_a_file_over_pandas_chunk_reads_a_column_as_one_type(tmp_path):
    # helper-86: pandas parses a file of more than 262,144 rows in chunks
    # (low_memory): a column of numbers in the first chunk and text after
    # came out ints and str, which the encoder refused ("uniformly strings
    # or numbers"), after a raw DtypeWarning.
    import warnings

    from fastbp.cli_data.tables import read_table

    path = tmp_path / "big.csv"
    # A feature and a class target, each with one text value at the end.
    path.write_text("c,y\n" + "1,0\n" * 270_000 + "x,b\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = read_table(str(path))
    assert set(map(type, frame["c"])) == {str} and set(map(type, frame["y"])) == {str}


def test_an_na_among_true_and_false_stays_missing_beside_another_value(tmp_path, capsys):
    # helper-86: training read the "NA" of a True/False column as a missing
    # value; a later file with one more value ("unknown") read it as the
    # text "NA", a category training never saw, and the predictions of
    # those rows changed without a word.
    import pandas as pd
    rng = np.random.default_rng(0)
    x = rng.standard_normal(60)
    flag = np.where(x > 0, "True", "False").astype(object)
    flag[::4] = "NA"
    frame = pd.DataFrame({"x": x, "flag": flag, "y": np.where(x > 0.3, "a", "b")})
    trained, odd = tmp_path / "t.csv", tmp_path / "odd.csv"
    frame.to_csv(trained, index=False)
    pd.concat([frame, pd.DataFrame({"x": [0.1], "flag": ["unknown"], "y": ["a"]})]).to_csv(
        odd, index=False)
    model = tmp_path / "m.fastbp"
    assert _train_quiet(trained, "y", "--model-out", str(model), "--valid", str(odd)) == 0
    assert main(["evaluate", "--model", str(model), "--data", str(odd)]) == 0
    for data, out in ((trained, "p.csv"), (odd, "p_odd.csv")):
        assert main(["predict", "--model", str(model), "--data", str(data), "--proba",
                     "--out", str(tmp_path / out)]) == 0
    # --valid, evaluate and the prediction on odd.csv: only "unknown" is new.
    notes = [line for line in capsys.readouterr().err.splitlines() if "never saw" in line]
    assert len(notes) == 3 and all("('unknown'; 1 row(s))" in n for n in notes), notes
    proba = pd.read_csv(tmp_path / "p.csv").to_numpy()
    assert np.array_equal(pd.read_csv(tmp_path / "p_odd.csv").to_numpy()[:-1], proba)


def test_numbers_are_standardised_before_the_cast_to_float32(tmp_path, capsys):
    # helper-86: number columns were cast to float32 before the scaler:
    # Unix timestamps (1.7e9 give or take a few hundred seconds) collapsed
    # to a few distinct values in training, while later files were scaled
    # from float64, so the model predicted differently on its own file.
    import pandas as pd
    from fastbp.cli_data.predict import read_for_model
    from fastbp.cli_data.tables import split_target

    seconds = np.random.default_rng(0).permutation(300)
    data, model = tmp_path / "ts.csv", tmp_path / "m.fastbp"
    pd.DataFrame({"ts": 1_700_000_000 + seconds,
                  "y": np.where(seconds > 150, "late", "early")}).to_csv(data, index=False)
    assert _train_quiet(data, "y", "--model-out", str(model)) == 0
    pipe = fastbp_load(model)
    X = split_target(read_for_model(pipe, str(data)), "y", str(data))[0]
    scaled = pipe[:-1].transform(X)
    assert scaled.dtype == np.float32  # the model's dtype
    assert len(np.unique(scaled)) == 300
    # The scaler learned the spread of the seconds, not of float32's steps of 128.
    assert np.allclose(scaled[:, 0], (seconds - seconds.mean()) / seconds.std(), atol=1e-5)


def test_a_label_that_is_no_integer_among_integer_classes_counts_as_an_error(tmp_path,
                                                                             capsys):
    # helper-86: a 0.5 among the classes 0 and 1 was noted as counting as an
    # error, then scikit-learn refused "a mix of continuous and binary
    # targets" (exit 2), for --valid after the model was trained and saved.
    frame = _write_csv(tmp_path / "t.csv", 60, "classification", 0)
    frame["label"] = (frame["label"] == "yes").astype(int)
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame = frame.astype({"label": float})
    frame.loc[3, "label"], frame.loc[4, "label"] = 0.5, 7
    frame.to_csv(tmp_path / "v.csv", index=False)
    model = tmp_path / "m.fastbp"
    assert _train_quiet(tmp_path / "t.csv", "label", "--valid", str(tmp_path / "v.csv"),
                        "--model-out", str(model)) == 0
    out, err = capsys.readouterr()
    note = "note: 2 class(es) of these rows the model never saw in training (0.5, 7"
    assert note in err and "error" not in err.replace("count as errors", "")
    valid_accuracy = float(out.split("accuracy: ")[1].split()[0])
    assert main(["evaluate", "--model", str(model), "--data", str(tmp_path / "v.csv")]) == 0
    out, err = capsys.readouterr()
    assert note in err and float(out.split("accuracy: ")[1].split()[0]) == valid_accuracy
    # The rows of 0.5 and 7 are errors, the others scored as they are.
    pipe = fastbp_load(model)
    pred = pipe.predict(frame.drop(columns=["label"]))
    assert valid_accuracy == pytest.approx(round(np.mean(pred == frame["label"]), 4))
    assert "'0.5'" in out and "'7'" in out  # among the labels of the confusion matrix


@pytest.mark.parametrize("out", ["/dev/stdout", "/dev/fd/1"])
def test_predict_out_dev_stdout_redirected_to_a_file_is_standard_output(tmp_path, out):
    # helper-86: "predict --out /dev/stdout > preds.csv" was refused: the
    # path led to a regular file whose name did not end in .csv.
    import pandas as pd
    train_csv, model, preds = tmp_path / "t.csv", tmp_path / "m.fastbp", tmp_path / "p.out"
    _write_csv(train_csv, 60, "classification", 0)
    assert _train_quiet(train_csv, "label", "--model-out", str(model)) == 0
    with open(preds, "w") as stdout:
        proc = subprocess.run([sys.executable, "-m", "fastbp", "predict", "--model",
                               str(model), "--data", str(train_csv), "--out", out],
                              stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == f"60 predictions written to {out}\n"
    assert pd.read_csv(preds)["label"].isin(["yes", "no"]).sum() == 60


def _gzip_name(path):
    """The file name a gzip header records (FNAME), or None."""
    data = path.read_bytes()
    assert data[:2] == b"\x1f\x8b"
    if not data[3] & 0x08:
        return None
    return data[10:data.index(b"\0", 10)].decode()


def test_gz_outputs_record_their_own_name(tmp_path):
    # helper-86: the header named the temporary file written before the
    # rename (".fastbp-xxxx.tmp"), which gunzip -N restores.
    import pandas as pd
    from fastbp.cli_data.tables import read_table, write_table

    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    for name in ("p.csv.gz", "h.tsv.gz"):  # predict --out, --history-out
        write_table(frame, str(tmp_path / name))
        assert _gzip_name(tmp_path / name) == name[:-3]
        assert read_table(str(tmp_path / name)).equals(frame)


def test_text_in_a_regression_target_names_the_rows_not_an_option(tmp_path, capsys):
    # helper-86: evaluate and --valid said "--task regression needs a
    # numeric target ... (could not convert string to float: '?')", an
    # option evaluate has not and the user never gave, and no line.
    import pandas as pd
    train_csv, odd, model = tmp_path / "t.csv", tmp_path / "q.csv", tmp_path / "m.fastbp"
    frame = _write_csv(train_csv, 60, "regression", 0).astype({"label": object})
    frame.loc[[2, 6], "label"] = "?"
    frame.to_csv(odd, index=False)
    message = (f"fastbp: error: {odd}: the model is a regressor, and the target column "
               "'label' holds text ('?': lines [4, 8]); drop or fix those rows\n")
    assert _train_quiet(train_csv, "label", "--valid", str(odd)) == 2
    assert capsys.readouterr().err == message
    assert _train_quiet(train_csv, "label", "--model-out", str(model)) == 0
    capsys.readouterr()
    assert main(["evaluate", "--model", str(model), "--data", str(odd)]) == 2
    assert capsys.readouterr().err == message
    # Training on it with --task regression names that option.
    assert _train_quiet(odd, "label", "--task", "regression") == 2
    assert capsys.readouterr().err == (
        f"fastbp: error: {odd}: --task regression needs a numeric target, and the column "
        "'label' holds text ('?': lines [4, 8]); drop or fix those rows\n")
    assert pd.read_csv(odd)["label"].tolist().count("?") == 2


def test_a_regression_target_reads_numbers_as_task_detection_does(tmp_path, capsys):
    # helper-97: --task regression read "1_000" as 1000 (Python's float
    # takes underscores) and trained on it, where --task auto, reading the
    # column with pandas' to_numeric, took the same file's "1_000" for text.
    train_csv, odd, model = tmp_path / "t.csv", tmp_path / "u.csv", tmp_path / "m.fastbp"
    frame = _write_csv(train_csv, 60, "regression", 0).astype({"label": object})
    frame.loc[[3, 7], "label"] = "1_000"
    frame.to_csv(odd, index=False)
    assert _train_quiet(odd, "label", "--task", "regression") == 2
    assert capsys.readouterr().err == (
        f"fastbp: error: {odd}: --task regression needs a numeric target, and the column "
        "'label' holds text ('1_000': lines [5, 9]); drop or fix those rows\n")
    # --valid and evaluate read the target the same way.
    assert _train_quiet(train_csv, "label", "--valid", str(odd)) == 2
    assert "holds text ('1_000': lines [5, 9])" in capsys.readouterr().err
    assert _train_quiet(train_csv, "label", "--model-out", str(model)) == 0
    capsys.readouterr()
    assert main(["evaluate", "--model", str(model), "--data", str(odd)]) == 2
    assert "holds text ('1_000': lines [5, 9])" in capsys.readouterr().err
    # Numbers held as text (a column that pandas read as text) still read.
    from fastbp.cli_data.columns import regression_target

    y = regression_target(np.array([" 2.5", "+1e3", 3, True], dtype=object), "label", str(odd))
    assert y.dtype == np.float64 and y.tolist() == [2.5, 1000.0, 3.0, 1.0]


def test_text_among_true_and_false_labels_is_named_alone(tmp_path, capsys):
    # helper-86: a model of the classes True and False, and one "unknown"
    # in the file evaluated: "holds text ('unknown', 'True', 'False') where
    # the model's classes are numbers ([False, True])".
    import pandas as pd
    rng = np.random.default_rng(0)
    x = rng.standard_normal(60)
    frame = pd.DataFrame({"x": x, "y": x > 0})
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame = frame.astype({"y": object})
    frame.loc[5, "y"] = "unknown"
    frame.to_csv(tmp_path / "u.csv", index=False)
    model = tmp_path / "m.fastbp"
    assert _train_quiet(tmp_path / "t.csv", "y", "--model-out", str(model)) == 0
    capsys.readouterr()
    assert main(["evaluate", "--model", str(model), "--data", str(tmp_path / "u.csv")]) == 2
    assert capsys.readouterr().err == (
        f"fastbp: error: {tmp_path / 'u.csv'}: the target column 'y' holds text "
        "('unknown') where the model's classes are True and False; drop or fix those rows\n")
    # Without it, "True" and "False" are the classes, in a file read as text too.
    frame.loc[5, "y"] = "TRUE"
    frame.to_csv(tmp_path / "u.csv", index=False)
    assert main(["evaluate", "--model", str(model), "--data", str(tmp_path / "u.csv")]) == 0
    assert "labels [False, True]" in capsys.readouterr().out


def test_warnings_of_evaluate_and_predict_are_one_line(tmp_path):
    # helper-86: scikit-learn's warnings outside a fit (R² of one row)
    # showed Python's format, with the source file and line; training's are
    # one "warning: ..." line.
    train_csv, one, model = tmp_path / "t.csv", tmp_path / "one.csv", tmp_path / "m.fastbp"
    frame = _write_csv(train_csv, 60, "regression", 0)
    frame.iloc[:1].to_csv(one, index=False)
    assert _train_quiet(train_csv, "label", "--model-out", str(model)) == 0
    # In a process of its own: pytest records warnings rather than showing them.
    proc = subprocess.run([sys.executable, "-m", "fastbp", "evaluate", "--model", str(model),
                           "--data", str(one)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("warning: UndefinedMetricWarning: R^2 score is not "
                                  "well-defined"), proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and ".py:" not in proc.stderr


def test_a_file_with_only_the_target_column_is_refused_by_name(tmp_path, capsys):
    # helper-86: scikit-learn's "Found array with 0 feature(s)" named
    # neither the file nor what it lacked.
    path = tmp_path / "onlyy.csv"
    path.write_text("y\n" + "a\nb\n" * 10)
    assert _train_quiet(path, "y") == 2
    assert capsys.readouterr().err == (
        f"fastbp: error: {path} has no feature columns besides the target 'y': add the "
        "columns to predict it from\n")
