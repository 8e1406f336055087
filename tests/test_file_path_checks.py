"""Why a file cannot be written or read, worded once (fastbp.files).

Checks :func:`fastbp.files.destination_problem` and
:func:`fastbp.files.source_problem` case by case (a directory, a missing
directory, a file where a directory should be, a special file, a missing
file), and that the command line, which had copies of these checks of its
own, now explains a path under a plain file as the library does ("afile is
a file, not a directory") rather than as a missing file or directory
(rev-308). Also that fastbp.files stays importable from any layer: it
imports the standard library only; and that the path arguments of
``read_idx``, ``load_mnist``, ``read_data`` and ``TensorBoardCallback``
are checked by
:func:`fastbp.files.path_argument`, naming them (fix-324).
"""

import ast
import os
import sys
from pathlib import Path

import pytest

import fastbp
from fastbp.cli import main
from fastbp.files import destination_problem, path_argument, source_problem


@pytest.fixture
def afile(tmp_path):
    path = tmp_path / "afile"
    path.write_text("")
    return path


def test_destination_problem_names_each_case(tmp_path, afile):
    assert destination_problem(tmp_path / "m.fastbp") is None
    assert destination_problem(afile) is None  # replaced as a whole
    assert destination_problem(tmp_path) == (IsADirectoryError,
                                             "it is a directory; give a file name")
    assert destination_problem(tmp_path / "nowhere" / "m") == (
        FileNotFoundError, f"the directory {tmp_path / 'nowhere'} does not exist")
    # Not normalised away: the system would refuse the path all the same.
    assert destination_problem(os.path.join(tmp_path, "nowhere", "..", "m")) == (
        FileNotFoundError, f"the directory {os.path.join(tmp_path, 'nowhere', '..')} does "
                           "not exist")
    for path in (afile / "m", afile / "sub" / "m", afile / "sub" / "deeper" / "m"):
        assert destination_problem(path) == (NotADirectoryError,
                                             f"{afile} is a file, not a directory")
    # Bytes as str.
    assert destination_problem(os.fsencode(afile / "m"))[0] is NotADirectoryError


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_destination_problem_refuses_special_files_unless_told(tmp_path):
    fifo, link = tmp_path / "pipe", tmp_path / "link"
    os.mkfifo(fifo)
    link.symlink_to(fifo)
    expected = (OSError, "it is a named pipe (FIFO), not a regular file; give the name of a "
                         "file to write")
    assert destination_problem(fifo) == expected
    assert destination_problem(link) == expected  # judged by what it points to
    assert destination_problem(fifo, special_ok=True) is None


def test_destination_problem_follows_a_dangling_link(tmp_path):
    # The file is written where the link points, so that directory is the
    # one that must exist.
    link = tmp_path / "m.fastbp"
    link.symlink_to(tmp_path / "gone" / "m.fastbp")
    assert destination_problem(link) == (
        FileNotFoundError, f"the directory {tmp_path / 'gone'} does not exist")


def test_source_problem_names_each_case(tmp_path, afile):
    assert source_problem(afile) is None
    assert source_problem(tmp_path) == (IsADirectoryError,
                                        "it is a directory, not a regular file")
    assert source_problem(tmp_path, wanted="a model file") == (
        IsADirectoryError, "it is a directory, not a model file")
    assert source_problem(tmp_path / "absent.csv") == (FileNotFoundError, "no such file")
    assert source_problem(tmp_path / "nowhere" / "d.csv") == (FileNotFoundError,
                                                              "no such file")
    for path in (afile / "d.csv", afile / "sub" / "d.csv"):
        assert source_problem(path) == (NotADirectoryError,
                                        f"{afile} is a file, not a directory")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_source_problem_refuses_special_files(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert source_problem(fifo, wanted="a model file") == (
        ValueError, "it is a named pipe (FIFO), not a model file")


def _csv(path):
    path.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)))
    return path


@pytest.mark.parametrize("args, option", [
    (["predict", "--model", "{afile}/m.fastbp", "--data", "{data}", "--out", "{dir}/p.csv"],
     "--model {afile}/m.fastbp"),
    (["train", "--data", "{data}", "--target", "y", "--model-out",
      "{afile}/sub/m.fastbp"], "--model-out {afile}/sub/m.fastbp"),
    (["train", "--data", "{data}", "--target", "y", "--model-out", "{afile}/m.fastbp"],
     "--model-out {afile}/m.fastbp"),
    (["train", "--data", "{afile}/d.csv", "--target", "y"], "cannot read {afile}/d.csv"),
    (["evaluate", "--model", "{afile}/sub/m.fastbp", "--data", "{data}"],
     "--model {afile}/sub/m.fastbp"),
])
def test_the_command_line_names_a_file_in_the_way(tmp_path, afile, capsys, args, option):
    # Before: "no such file: afile/m.fastbp" and "the directory afile/sub
    # does not exist", where the library said what was wrong.
    names = {"afile": afile, "data": _csv(tmp_path / "d.csv"), "dir": tmp_path}
    assert main([a.format(**names) for a in args]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"fastbp: error: {option.format(**names)}: {afile} is a "
                                "file, not a directory"], err
    assert sorted(os.listdir(tmp_path)) == ["afile", "d.csv"] and afile.read_text() == ""


def test_the_library_names_a_file_in_the_way(tmp_path, afile):
    model = None  # not reached: the path is refused first
    with pytest.raises(NotADirectoryError, match=f"cannot read {afile}/d.csv: {afile} is a "
                                                 "file, not a directory"):
        fastbp.read_data(afile / "d.csv", model)
    with pytest.raises(NotADirectoryError, match=f"cannot load {afile}/m.fastbp: {afile} is "
                                                 "a file, not a directory"):
        fastbp.load(afile / "m.fastbp")


def test_the_file_helpers_import_the_standard_library_only():
    # The command line imports them before any work, and any layer may:
    # nothing of fastbp, scikit-learn, skops or NumPy.
    source = Path(fastbp.__file__).with_name("files.py")
    names = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "fastbp.files imports from fastbp"
            names.add(node.module.split(".")[0])
    assert names and names <= set(sys.stdlib_module_names), names


# --- path arguments that are no path are refused naming them (fix-324) -------

def test_path_argument_returns_the_path_as_a_str(tmp_path):
    assert path_argument("f(path)", tmp_path / "a", "a path") == str(tmp_path / "a")
    assert path_argument("f(path)", os.fsencode(tmp_path / "a"), "a path") == str(tmp_path / "a")


@pytest.mark.parametrize("value, got", [
    (None, "None"), (3, "an object of type int"), (fastbp.MLPClassifier, "the class MLPClassifier"),
    (fastbp.MLPClassifier(), "an unfitted MLPClassifier")])
def test_path_argument_names_the_call_and_what_it_got(value, got):
    with pytest.raises(TypeError, match=r"^f\(path\) takes a path; got (.*)\.$") as info:
        path_argument("f(path)", value, "a path")
    assert str(info.value) == f"f(path) takes a path; got {got}."


def test_path_argument_tells_a_fitted_estimator_from_an_unfitted_one():
    import numpy as np
    from sklearn.linear_model import LinearRegression

    fitted = LinearRegression().fit(np.eye(3), [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="got a fitted LinearRegression"):
        path_argument("f(path)", fitted, "a path")


def test_path_argument_refuses_an_empty_path():
    with pytest.raises(ValueError, match=r"^f\(path\) takes a path; got an empty path\.$"):
        path_argument("f(path)", "", "a path")


@pytest.mark.parametrize("value, error, got", [(None, TypeError, "got None"),
                                               ("", ValueError, "got an empty path")])
def test_read_idx_names_its_path_argument(value, error, got):
    # It failed as "expected str, bytes or os.PathLike object, not NoneType".
    with pytest.raises(error, match=r"^read_idx\(path\) takes the path of an IDX file; ") as info:
        fastbp.datasets.read_idx(value)
    assert got in str(info.value)


def test_read_idx_still_reads_a_path_like(tmp_path):
    path = tmp_path / "one.idx"
    # An IDX file of unsigned bytes, 1 dimension of 2 entries.
    path.write_bytes(bytes([0, 0, 0x08, 1, 0, 0, 0, 2, 7, 9]))
    assert fastbp.datasets.read_idx(path).tolist() == [7, 9]
    assert fastbp.datasets.read_idx(os.fsencode(path)).tolist() == [7, 9]


@pytest.mark.parametrize("value, error, got", [(None, TypeError, "got None"),
                                               ("", ValueError, "got an empty path")])
def test_tensorboard_callback_names_its_log_dir_argument(monkeypatch, value, error, got):
    # Checked whether or not this scikit-learn has the callback API, which
    # the callback needs only to run.
    from fastbp.estimators import callbacks

    monkeypatch.setattr(callbacks, "HAVE_CALLBACKS", True)
    with pytest.raises(error, match=r"^TensorBoardCallback\(log_dir\) takes the path of a log "
                                    r"directory; ") as info:
        fastbp.TensorBoardCallback(value)
    assert got in str(info.value)


@pytest.mark.parametrize("value, got", [(3, "an object of type int"),
                                        (["mnist"], "an object of type list")])
def test_load_mnist_names_its_data_dir_argument(value, got):
    with pytest.raises(TypeError, match=r"^load_mnist\(data_dir\) takes the path of the "
                                        r"directory holding the MNIST files; ") as info:
        fastbp.datasets.load_mnist(value)
    assert got in str(info.value)


def test_read_data_names_its_path_argument(tmp_path):
    with pytest.raises(TypeError, match=r"^fastbp\.read_data\(path, model\) takes the path "
                                        r"of a data file; got None\.$"):
        fastbp.read_data(None, None)
    # The model given in the path's place is named as such.
    with pytest.raises(TypeError, match="got an unfitted MLPClassifier"):
        fastbp.read_data(fastbp.MLPClassifier(), tmp_path / "d.csv")
    with pytest.raises(ValueError, match="got an empty path"):
        fastbp.read_data("", None)
