"""``python -m bench.split`` runs end to end (structure only, never a time)."""

import re

from bench import split


def test_split_bench_reports_every_mode(capsys):
    assert split.main(["--workloads", "tabular", "--rows", "400", "--epochs", "2",
                       "--rounds", "1", "--cases", "64/32,256/200"]) == 0
    text = capsys.readouterr().out
    rows = re.findall(r"^tabular\s+(\d+)\s+(\d+)\s+\S+\s+(split|whole)\s+"
                      r"(?:[\d.]+ms\s+){3}[\d.]+x\s+[\d.]+x$", text, re.MULTILINE)
    assert [(h, b) for h, b, _ in rows] == [("64", "32"), ("256", "200")], text
    # 400 rows x (20x64 + 64x4) weights at batch 32: far below the threshold
    assert rows[0][2] == "whole"


def test_an_unknown_dtype_is_refused(capsys):
    # helper-153: float16 ran float64 under the float16 label.
    import pytest

    with pytest.raises(SystemExit) as exc:
        split.main(["--dtype", "float16"])
    assert exc.value.code == 2
    assert "invalid choice: 'float16'" in capsys.readouterr().err
