"""``python -m bench.inference`` runs end to end (structure only, never a time)."""

import json
import re

from bench import inference


def test_inference_bench_reports_every_row_count(capsys, tmp_path):
    out_json = tmp_path / "inference.json"
    assert inference.main(["--rows", "1,7", "--budget", "0.002", "--repeats", "1",
                           "--rounds", "2", "--epochs", "1", "--threads", "1",
                           "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    assert "medians of 2 alternating round(s), each the best of 1" in text
    assert re.search(r"^\d{4}-\d\d-\d\d [\d:]+ · git ", text, re.MULTILINE)  # helper-153
    assert "load average (1/5/15 min) at start" in text
    for rows in ("1", "7"):
        assert re.search(rf"\| {rows} \| [\d.]+ (us|ms) \| [\d.]+ (us|ms) \| [\d.]+x \| "
                         rf"[\d.]+-[\d.]+x \|", text)
    report = json.loads(out_json.read_text())
    assert set(report["results"]) == {"fastbp", "sklearn"}
    assert set(report["ratios"]) == {"1", "7"}
    assert all(r > 0 for r in report["ratios"].values())
    assert all(len(r) == 2 for r in report["round_ratios"].values())
    # helper-153: the JSON recorded no date, CPU, commit, versions or load.
    for key in ("timestamp", "git", "cpu", "numpy", "fastbp", "loadavg_start", "loadavg_end"):
        assert key in report["environment"]


def test_inference_bench_times_the_method_asked_for(capsys, monkeypatch):
    calls = []
    from fastbp import MLPClassifier
    from sklearn.neural_network import MLPClassifier as SkMLP
    for cls in (MLPClassifier, SkMLP):
        for method in ("predict", "predict_proba"):
            original = getattr(cls, method)

            def spy(self, X, _method=method, _original=original):
                calls.append(_method)
                return _original(self, X)

            monkeypatch.setattr(cls, method, spy)
    for system in ("fastbp", "sklearn"):
        calls.clear()
        inference.worker(system, "tabular", "float32", [3], 1, 0.001, 1, 1, method="predict")
        assert calls and set(calls) == {"predict"}
    assert inference.parse_args(["--method", "predict"]).method == "predict"
    assert inference.parse_args([]).method == "predict_proba"


def test_systems_alternate_and_ratios_are_per_round(monkeypatch):
    # helper-77: each system ran once, in a fixed order, so a drift of the
    # machine between the two runs went into the ratio.
    order = []
    seconds = {"fastbp": iter([1.0, 2.0, 4.0]), "sklearn": iter([10.0, 10.0, 10.0])}

    def fake_worker(system, args):
        order.append(system)
        return {"5": {"seconds": next(seconds[system]), "calls": 3}}

    monkeypatch.setattr(inference, "_run_worker", fake_worker)
    args = inference.parse_args(["--rows", "5", "--rounds", "3"])
    results, ratios, round_ratios = inference.measure(args)
    assert order == ["fastbp", "sklearn"] * 3
    assert round_ratios == {"5": [10.0, 5.0, 2.5]} and ratios == {"5": 5.0}
    assert results["fastbp"]["5"] == {"seconds": 2.0, "calls": 3, "rounds": [1.0, 2.0, 4.0]}


def test_a_failed_child_reports_its_reason(monkeypatch):
    # helper-153: the child's stderr was thrown away; a missing MNIST read
    # only "CalledProcessError ... returned non-zero exit status 1".
    import subprocess

    import pytest

    def fake_run(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 1, stdout="",
                                           stderr="Traceback ...\nOSError: set FASTBP_DATA_DIR\n")

    monkeypatch.setattr(inference.subprocess, "run", fake_run)
    args = inference.parse_args(["--workload", "mnist"])
    with pytest.raises(RuntimeError, match="set FASTBP_DATA_DIR") as exc:
        inference._run_worker("fastbp", args)
    assert "rc=1" in str(exc.value)


def test_bad_values_are_refused(capsys):
    import pytest

    # helper-153: float16 timed a float64 model under the float16 label;
    # --rows 0 failed in the child with "need at least one array to concatenate".
    for argv, message in ((["--dtype", "float16"], "invalid choice: 'float16'"),
                          (["--rows", "1,0"], "--rows must be at least 1 each, got 0")):
        with pytest.raises(SystemExit) as exc:
            inference.parse_args(argv)
        assert exc.value.code == 2
        assert message in capsys.readouterr().err
