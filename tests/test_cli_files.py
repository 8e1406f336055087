"""The command line on the user's own files: the findings of helper-163's
review (each test fails before its fix)."""

import errno
import unicodedata

import numpy as np
import pytest

from fastbp.cli import _command, build_parser, main


def _churn(path, n=300, seed=0):
    """helper-163's base file: age, income, colour and a class churn."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"age": rng.integers(18, 80, n),
                          "income": rng.normal(50000, 10000, n).round(2),
                          "colour": rng.choice(["red", "green", "blue"], n)})
    frame["churn"] = np.where(frame.age + rng.normal(0, 10, n) > 50, "leaves", "stays")
    frame.to_csv(path, index=False)
    return frame


def _train(data, target, *options):
    return main(["train", "--data", str(data), "--target", target, "--epochs", "2",
                 "--quiet", *options])


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A model trained on the base file, and that file."""
    folder = tmp_path_factory.mktemp("model")
    _churn(folder / "c.csv")
    assert _train(folder / "c.csv", "churn", "--model-out", str(folder / "c.fastbp")) == 0
    return folder / "c.fastbp", folder / "c.csv"


def _error_line(err):
    """The ``fastbp: error:`` line of ``err``, which must be its only one."""
    lines = [line for line in err.splitlines() if line.startswith("fastbp: error:")]
    assert len(lines) == 1, err
    assert err.endswith(lines[0] + "\n"), err  # nothing after it: one line
    return lines[0]


def test_huge_finite_values_are_refused_by_column_at_train(tmp_path, capsys):
    # helper-163: values beyond about 1e154 overflowed the scaler's variance:
    # "Input X contains NaN." (none in the file) and a second line of
    # scikit-learn's, naming no column.
    frame = _churn(tmp_path / "c.csv")
    frame.loc[::50, "income"] = np.finfo(np.float64).max
    frame.to_csv(tmp_path / "sentinel.csv", index=False)
    assert _train(tmp_path / "sentinel.csv", "churn") == 2
    line = _error_line(capsys.readouterr().err)
    assert "numeric column 'income' holds values too large to standardise" in line
    assert "up to 1.79769e+308" in line and "lines [2, 52, 102, 152, 202]" in line
    assert "NaN" not in line


def test_huge_values_at_predict_are_refused_by_column(model, tmp_path, capsys):
    # helper-163: 1e60 standardised is beyond float32: "Input X contains
    # infinity or a value too large for dtype('float32')", no column named.
    path, _ = model
    (tmp_path / "huge.csv").write_text("age,income,colour\n30,1e60,red\n40,50000,blue\n")
    assert main(["predict", "--model", str(path), "--data", str(tmp_path / "huge.csv"),
                 "--out", str(tmp_path / "p.csv")]) == 2
    line = _error_line(capsys.readouterr().err)
    assert ("huge.csv: numeric column 'income' holds values too large for the model "
            "(up to 1e+60, lines [2]): standardised, they are beyond the range of "
            "float32" in line)
    assert not (tmp_path / "p.csv").exists()


def test_multi_line_error_messages_are_one_line(monkeypatch, capsys):
    # helper-163: scikit-learn's advice on a second line followed the error.
    import fastbp.cli as cli

    def fail(args):
        raise ValueError("Input X of 'a  b' contains NaN.\nHistGradientBoosting accepts "
                         "NaN\n")

    monkeypatch.setattr(cli, "train", fail)
    assert _command(build_parser().parse_args(["train"])) == 2
    # A column name's two spaces stay.
    assert capsys.readouterr().err == ("fastbp: error: Input X of 'a  b' contains NaN. "
                                       "HistGradientBoosting accepts NaN\n")


@pytest.mark.parametrize("memory, refused", [(2**20, True), (16 * 2**20, False)])
def test_one_hot_budget_keeps_the_fit_within_half_the_memory(tmp_path, monkeypatch, memory,
                                                            refused):
    # helper-163: an encoded array of just under half the memory passed,
    # and the fit's peak is twice the encoded array: all the memory.
    # (Since fix-184 the encoding is a CSR matrix where it is mostly zeros:
    # 2**15 stored float32 values and their indices, about 0.4 MiB, where
    # the dense array was 4 GiB.)
    import pandas as pd

    import fastbp.cli_data.memory as cli_memory
    import fastbp.cli_data.messages as cli_messages

    X = pd.DataFrame({"id": [f"c{i}" for i in range(2**15)]})
    monkeypatch.setattr(cli_memory, "_available_memory", lambda: memory)
    if refused:
        with pytest.raises(cli_messages.CLIError, match=r"'id' \(32768 distinct values\).*"
                                                    r"more than a quarter of the memory"):
            cli_memory.check_one_hot_size(X, np.float32, "t.csv")
    else:
        cli_memory.check_one_hot_size(X, np.float32, "t.csv")


def test_available_memory_respects_a_cgroup_limit(tmp_path, monkeypatch):
    # helper-163: sysconf gives the host's memory inside a container.
    import fastbp.cli_data.memory as cli_memory

    (tmp_path / "memory.max").write_text("1073741824\n")
    (tmp_path / "v1").write_text("9223372036854771712\n")  # v1: no limit
    monkeypatch.setattr(cli_memory, "_physical_memory", lambda: 64 * 2**30)
    monkeypatch.setattr(cli_memory, "_CGROUP_LIMITS",
                        (str(tmp_path / "memory.max"), str(tmp_path / "v1")))
    assert cli_memory._available_memory() == 2**30
    (tmp_path / "memory.max").write_text("max\n")
    assert cli_memory._available_memory() == 64 * 2**30
    monkeypatch.setattr(cli_memory, "_physical_memory", lambda: None)
    monkeypatch.setattr(cli_memory, "_CGROUP_LIMITS", (str(tmp_path / "absent"),))
    assert cli_memory._available_memory() is None


def test_numbers_with_separators_get_a_note_whatever_their_count(tmp_path, capsys):
    # helper-163: 40 distinct prices "4,400" and 29 rates "3%" were one-hot
    # encoded without a word (the note needed more than 50 distinct values).
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 500
    pd.DataFrame({"price": [f"{v:,}" for v in rng.integers(1, 41, n) * 1100],
                  "rate": [f"{v}%" for v in rng.integers(1, 30, n)],
                  "y": rng.integers(0, 2, n)}).to_csv(tmp_path / "p.csv", index=False)
    assert _train(tmp_path / "p.csv", "y") == 0
    err = capsys.readouterr().err
    for column in ("price", "rate"):
        assert (f"note: column {column!r} holds numbers written as text" in err
                and "write numbers as plain numbers" in err), err


def test_semicolon_hint_names_the_decimal_comma(tmp_path, capsys):
    # helper-163: a European file (1;2,5) needs decimal=',' too.
    (tmp_path / "euro.csv").write_text("a;b;y\n1;2,5;0\n3;4,5;1\n")
    assert _train(tmp_path / "euro.csv", "y") == 2
    assert "decimal=','" in _error_line(capsys.readouterr().err)


def test_predict_out_that_cannot_be_written_is_named(model, tmp_path, monkeypatch, capsys):
    # helper-163: a full disk said only "[Errno 28] No space left on device",
    # and a read-only directory named the temporary file.
    from fastbp.cli_data import tables

    path, data = model

    def full(target, write, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tables, "replace_atomically", full)
    out = tmp_path / "p.csv"
    assert main(["predict", "--model", str(path), "--data", str(data), "--out",
                 str(out)]) == 2
    assert _error_line(capsys.readouterr().err) == (
        f"fastbp: error: could not write --out {out}: No space left on device")


def test_a_file_without_header_gets_the_header_hint(tmp_path, capsys):
    # helper-163: small whole numbers repeat in the first line, read as the
    # header: "names the column(s) ['1', '0'] more than once".
    rng = np.random.default_rng(0)
    np.savetxt(tmp_path / "nohdr.csv", rng.integers(0, 3, (50, 5)), fmt="%d", delimiter=",")
    assert _train(tmp_path / "nohdr.csv", "label") == 2
    line = _error_line(capsys.readouterr().err)
    assert "its first line holds numbers" in line and "add a header line" in line
    assert "more than once" not in line


def test_an_iris_file_without_header_gets_the_hint(tmp_path, capsys):
    # helper-163: the last field of the first line is text, so not "only
    # numbers", and --target species got no hint.
    (tmp_path / "iris.csv").write_text("5.1,3.5,1.4,0.2,Iris-setosa\n"
                                       "4.9,3.0,1.4,0.2,Iris-setosa\n"
                                       "7.0,3.2,4.7,1.4,Iris-versicolor\n")
    assert _train(tmp_path / "iris.csv", "species") == 2
    assert ("its first line holds numbers, not column names: add a header line"
            in _error_line(capsys.readouterr().err))


@pytest.mark.parametrize("option, value", [
    ("--learning-rate-init", "-0.01"), ("--learning-rate-init", "0"),
    ("--learning-rate-init", "nan"), ("--learning-rate-init", "inf"),
    ("--random-state", "-5")])
def test_learning_rate_and_seed_are_checked_by_argparse(option, value, capsys):
    # helper-163: they failed after the data was read, naming the Python
    # parameter, without the usage line.
    with pytest.raises(SystemExit) as exc:
        main(["train", option, value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: fastbp train ") and f"argument {option}: expected" in err


def test_column_names_match_across_unicode_forms(model, tmp_path, capsys):
    # helper-163: a header written in NFD ("größe" decomposed, as macOS may
    # write it) looked the same and was "missing" and "unexpected" at once.
    import pandas as pd

    nfc, nfd = "Gehalt_brutto_\u00fc", unicodedata.normalize("NFD", "Gehalt_brutto_\u00fc")
    assert nfc != nfd
    frame = _churn(tmp_path / "c.csv").rename(columns={"income": nfc, "churn": "gr\u00f6\u00dfe"})
    frame.to_csv(tmp_path / "uni.csv", index=False)
    nfd_target = unicodedata.normalize("NFD", "gr\u00f6\u00dfe")
    assert _train(tmp_path / "uni.csv", nfd_target, "--model-out",
                  str(tmp_path / "u.fastbp")) == 0
    frame.rename(columns={nfc: nfd}).drop(columns=["gr\u00f6\u00dfe"]).to_csv(
        tmp_path / "nfd.csv", index=False)
    capsys.readouterr()
    assert main(["predict", "--model", str(tmp_path / "u.fastbp"), "--data",
                 str(tmp_path / "nfd.csv"), "--out", str(tmp_path / "p.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "p.csv")) == len(frame)


def test_unicode_forms_of_one_name_twice_are_refused():
    import pandas as pd

    from fastbp.cli_data.messages import CLIError
    from fastbp.cli_data.tables import _nfc_renamed

    nfc = "gr\u00f6\u00dfe"
    nfd = unicodedata.normalize("NFD", nfc)
    frame = pd.DataFrame({nfd: [1], "x": [2]})
    assert list(_nfc_renamed(frame, [nfc], "f.csv").columns) == [nfc, "x"]
    # The model's own spelling stays, whatever else matches it.
    both = pd.DataFrame({nfc: [1], nfd: [2]})
    assert list(_nfc_renamed(both, [nfc], "f.csv").columns) == [nfc, nfd]
    # Two spellings of one name, neither the model's: "A" and a combining
    # ring (NFD), and the Angstrom sign U+212B, both NFC "\u00c5".
    with pytest.raises(CLIError, match="written in different Unicode forms"):
        _nfc_renamed(pd.DataFrame([[1, 2]], columns=["A\u030a", "\u212b"]), ["\u00c5"],
                     "f.csv")


def test_a_diverged_fit_says_nothing_was_saved_and_writes_its_history(tmp_path, capsys):
    # helper-163: the error said "the model keeps the state of epoch 1", and
    # neither --model-out nor --history-out was written.
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2],
                  "price": 1e6 * (x @ [3.0, 2.0, 1.0]) + 5e6}).to_csv(tmp_path / "price.csv",
                                                                      index=False)
    model, history = tmp_path / "div.fastbp", tmp_path / "divh.csv"
    assert main(["train", "--data", str(tmp_path / "price.csv"), "--target", "price",
                 "--solver", "sgd", "--learning-rate-init", "10", "--epochs", "20",
                 "--quiet", "--model-out", str(model), "--history-out", str(history)]) == 2
    out, err = capsys.readouterr()
    line = _error_line(err)
    assert "Training diverged at epoch" in line, err
    assert "the model keeps" not in line and "no model was saved" in line
    assert not model.exists()
    # The epochs before the divergence, to diagnose it.
    assert "diverged at epoch 1:" not in line
    assert history.exists() and f"history written to {history}" in out
    assert len(pd.read_csv(history)) >= 1


def test_a_ragged_file_error_is_one_line(tmp_path, capsys):
    # helper-163: pandas' message ends in a newline: a blank line followed.
    (tmp_path / "ragged.csv").write_text("a,b,y\n1,2,0\n1,2,3,4\n5,6,1\n")
    assert _train(tmp_path / "ragged.csv", "y") == 2
    assert "could not be read as CSV" in _error_line(capsys.readouterr().err)


def test_info_to_a_full_disk_is_one_line(monkeypatch, capsys):
    # helper-163: fastbp info > /dev/full showed a traceback (info and
    # compile ran outside the handler of the other commands' errors).
    import fastbp.cli as cli

    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cli, "info", full)
    monkeypatch.setattr(cli, "compile_kernels", full)
    for command in (["info"], ["compile"]):
        assert _command(build_parser().parse_args(command)) == 2
        assert capsys.readouterr().err == ("fastbp: error: [Errno 28] No space left on "
                                           "device\n")
