"""Why a file cannot be written or read, worded once (fastbp.files).

Checks :func:`fastbp.files.destination_problem` and
:func:`fastbp.files.source_problem` case by case (a directory, a missing
directory, a file where a directory should be, a special file, a missing
file), and that the command line, which had copies of these checks of its
own, now explains a path under a plain file as the library does ("afile is
a file, not a directory") rather than as a missing file or directory
(rev-308). Also that fastbp.files stays importable from any layer: it
imports the standard library only.
"""

import ast
import os
import sys
from pathlib import Path

import pytest

import fastbp
from fastbp.cli import main
from fastbp.files import destination_problem, source_problem


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
