"""``bench/ab/call_costs.py`` runs and reports a cost per call (never asserted)."""

import importlib.util
from pathlib import Path


def test_call_costs_reports_positive_costs(capsys):
    path = Path(__file__).parent / "ab" / "call_costs.py"
    spec = importlib.util.spec_from_file_location("call_costs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fit_us, predict_us = module.main("smoke", rounds=1, warm=1)
    assert fit_us > 0 and predict_us > 0
    assert capsys.readouterr().out.startswith("smoke partial_fit ")
