"""``python -m bench.partial_fit`` runs and reports both systems (structure
only, never a time)."""

import importlib.util

from bench import partial_fit as pf


def test_main_prints_both_systems(capsys):
    assert pf.main(["--calls", "2", "--warm", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("fastbp") >= 3 and out.count("scikit-learn") == 2
    assert "after 100 calls" in out and "epoch inside a call" in out
    # PyTorch's step is a peer where PyTorch is installed (not in CI).
    assert ("PyTorch's eager step" in out) == (importlib.util.find_spec("torch") is not None)
