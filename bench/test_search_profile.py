"""``python -m bench.search_profile`` runs end to end (structure only, never a time)."""

import re

from bench import search_profile


def test_every_section_reports(capsys):
    assert search_profile.main(["--top", "3", "--fits", "1", "--dtype", "float32"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"empty cache: [\d.]+ s wall, [\d.]+ s CPU; \d+ compiles", out)
    assert "train_epoch" in out  # the biggest compile is listed
    assert re.search(r"loading the kernels -?[\d.]+ s", out)
    assert re.search(r"of the search holds the GIL", out)
    assert re.search(r"in each of two threads [\d.]+ s: speed-up [\d.]+x; 1 in each of two "
                     r"processes [\d.]+ s: speed-up [\d.]+x", out)
    assert re.search(r"the cross-validation phase \(everything before the refit: 20 fits, "
                     r"scaling, scoring\) [\d.]+ s against [\d.]+ s \([\d.]+x\); the refit's "
                     r"fit, alone on one core, [\d.]+ s = \d+%", out)
    assert re.search(r"GFLOP/s, [\d.]+ of the best one-thread float64 GEMM rate", out)
