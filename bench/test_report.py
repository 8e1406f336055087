"""``python -m bench.report``'s command line: bad values are refused with
a message naming them (structure only, never a time)."""

import pytest

from bench import report


@pytest.mark.parametrize("argv, message", [
    # helper-77: float16 ran float64 and was labelled float16.
    (["--dtypes", "float32,float16"], "unknown dtype 'float16' in --dtypes"),
    # helper-77: every case then failed with StatisticsError.
    (["--rounds", "0"], "--rounds must be at least 1, got 0"),
    # helper-77: unknown names were dropped: empty tables, exit 0.
    (["--workloads", "MNIST"], "unknown workload 'MNIST' in --workloads"),
    # helper-153: fastbp was reported "not importable" and scikit-learn
    # timed under "t0", exit 0.
    (["--threads", "1,0"], "--threads must be at least 1 each, got 0"),
    # helper-153: every case failed with a ZeroDivisionError, exit 0.
    (["--batch-sizes", "0"], "--batch-sizes must be at least 1 each, got 0"),
])
def test_bad_values_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        report.parse_args(["--smoke", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_good_values_reach_the_grid():
    args = report.parse_args(["--smoke", "--workloads", "mnist", "--dtypes", "float32",
                              "--rounds", "1", "--threads", "2"])
    grid = report.build_grid(args)
    assert [w.name for w in grid.workloads] == ["mnist"]
    assert grid.dtypes == ("float32",) and grid.rounds == 1 and grid.threads == (2,)
    # helper-77: the accuracy fits ran at the grid's one thread whatever --threads said.
    assert grid.accuracy.threads == 2
    assert report.build_grid(report.parse_args(["--smoke"])).accuracy.threads == 1


def test_the_report_describes_turns_without_their_first_epoch():
    text = report.render({
        "mode": "smoke", "timestamp": "t", "systems": ["fastbp"],
        "environment": {"standin": False, "git": None, "cpu": "cpu", "cpu_count": 2,
                        "python": "3", "numpy": "2", "sklearn": "1", "numba": "0",
                        "torch": None, "fastbp": "0.1", "loadavg_start": None},
        "grid": {"rounds": 5, "warmup": 1, "turn_s": 0.05}, "epochs": [],
    })
    assert "a first epoch, then epochs for at least 50 ms" in text
    assert "mean of the epochs after the first" in text


def test_dtypes_and_workloads_reach_every_section():
    # helper-153: --dtypes and --workloads changed the epoch table only:
    # both dtypes still compiled, memory and accuracy ran MNIST float32.
    grid = report.build_grid(report.parse_args(["--full", "--dtypes", "float64",
                                                "--workloads", "tabular"]))
    assert grid.compile_dtypes == ("float64",)
    assert grid.memory is None and grid.accuracy is None
    assert "MNIST only" in report.run_memory(grid, ["fastbp"], False)["skipped"]
    assert "MNIST only" in report.run_accuracy(grid, ["fastbp"], False)["skipped"]
    grid = report.build_grid(report.parse_args(["--quick", "--dtypes", "float64"]))
    assert grid.memory.dtype == grid.accuracy.dtype == "float64"
    grid = report.build_grid(report.parse_args(["--smoke", "--dtypes", "float32"]))
    assert grid.compile_dtypes == ()
    assert "no dtype of --dtypes" in report.run_compile(grid, False)["skipped"]


def test_a_run_that_measured_nothing_fails(monkeypatch, tmp_path):
    # helper-153: every case failed or was skipped, and the report exited 0.
    monkeypatch.setattr(report, "run_epochs", lambda *a, **k: [
        {"case": {"id": "tabular-b200-float32-t1"}, "skipped_case": "FAILED: boom"}])
    assert report.main(["--smoke", "--workloads", "tabular", "--dtypes", "float32",
                        "--threads", "1", "--systems", "fastbp",
                        "--skip", "compile,memory,accuracy", "--out", str(tmp_path)]) == 1
    assert report.measured_cases([{"systems": {"fastbp": {}}}, {"skipped_case": "x"}]) == 1


def test_git_head_names_changes_under_bench_too(tmp_path):
    # helper-153: only changes under fastbp/ marked a run dirty.
    import subprocess

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       cwd=tmp_path, check=True, capture_output=True)

    for d in ("fastbp", "bench", "docs"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "f.py").write_text("1\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "c")
    head = report._git_head(tmp_path)
    assert head and "dirty" not in head
    (tmp_path / "docs" / "f.py").write_text("2\n")
    assert report._git_head(tmp_path) == head
    (tmp_path / "bench" / "f.py").write_text("2\n")
    assert report._git_head(tmp_path) == head + "+dirty(bench/)"
    (tmp_path / "fastbp" / "f.py").write_text("2\n")
    assert report._git_head(tmp_path) == head + "+dirty(fastbp/, bench/)"


def test_script_environment_header_places_the_run():
    env = report.script_environment()
    for key in ("timestamp", "git", "cpu", "numpy", "sklearn", "numba", "fastbp",
                "loadavg_start"):
        assert key in env
    header = report.environment_header({**env, "loadavg_end": [0.5, 0.5, 0.5]})
    assert header.startswith(env["timestamp"] + " · git ")
    assert "at end [0.5, 0.5, 0.5]" in header
