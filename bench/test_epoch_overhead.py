"""``python -m bench.epoch_overhead`` runs end to end (structure only, never a time)."""

import re

from bench import epoch_overhead


def test_epoch_overhead_reports_every_config(capsys):
    assert epoch_overhead.main(["--epochs", "3", "--repeats", "1"]) == 0
    text = capsys.readouterr().out
    for name in epoch_overhead.CONFIGS:
        assert re.search(rf"^{name}\s+[\d.]+ us per epoch$", text, re.MULTILINE), text
    # helper-153: no date, CPU, commit, versions or load were printed.
    assert " · git " in text and "load average (1/5/15 min) at start" in text
