"""``bench/ab/fit_epochs.py`` runs and reports a time per epoch (never asserted)."""

import importlib.util
from pathlib import Path


def test_fit_epochs_reports_a_positive_time():
    path = Path(__file__).parent / "ab" / "fit_epochs.py"
    spec = importlib.util.spec_from_file_location("fit_epochs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(200, 2) > 0
    assert module.main(200, 2, "float64") > 0
    assert module.main(32, 1, "float32", 3000) > 0
