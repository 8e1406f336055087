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
