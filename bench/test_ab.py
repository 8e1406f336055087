"""``bench/ab``'s A/B scripts alternate the two sides and summarise them
(structure only, never a time)."""

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

AB = Path(__file__).parent / "ab"


@pytest.fixture
def ab(monkeypatch):
    monkeypatch.syspath_prepend(str(AB))

    def load(name):
        spec = importlib.util.spec_from_file_location(f"ab_{name}", AB / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


def test_compile_bench_alternates_and_prints_paired_ratios(ab, monkeypatch, tmp_path, capsys):
    # helper-153: bench/ab/README.md promised interleaved runs with medians
    # and paired after/before ratios; before always ran first and only raw
    # records came out.
    cb = ab("compile_bench")
    monkeypatch.setattr(cb, "ROOT", str(tmp_path))
    calls = []

    def fake_child(wt, code, cache):
        side = "after" if wt == cb.COMMITS["after"] else "before"
        calls.append(side)
        overhead = 1.0 if side == "before" else 0.5
        return {"import_s": 0.1, "first_fit_s": overhead + 0.01, "fit_s": 0.01,
                "process_s": 1.0, "process_cpu_s": 1.0, "overhead_s": overhead}

    monkeypatch.setattr(cb, "run_child", fake_child)
    results = cb.main(["3", str(tmp_path / "out.json")])
    # Each child pair is cold then warm of one side; a repeat has two dtypes.
    sides = calls[::2]
    assert sides == ["before", "after"] * 2 + ["after", "before"] * 2 + ["before", "after"] * 2
    assert len(json.loads((tmp_path / "out.json").read_text())) == len(results) == 12
    out = capsys.readouterr().out
    assert "cold first-fit overhead:" in out and "warm first-fit overhead:" in out
    assert "float32: before 1.0000 s, after 0.5000 s (medians); after/before 0.500 " \
           "(median of 3 paired, 0.500-0.500)" in out


def test_epoch_bench_alternates_and_prints_paired_ratios(ab, tmp_path, capsys):
    eb = ab("epoch_bench")
    asked = []

    class FakeWorker:
        def __init__(self, commit):
            self.commit, self.wt = commit, eb.COMMITS[commit]
            self.p = type("P", (), {"pid": os.getpid()})()

        def read(self):
            return {"file": self.wt + "/fastbp/__init__.py"}

        def ask(self, case):
            asked.append(self.commit)
            t = 0.002 if self.commit == "before" else 0.001
            return {"case": case, "epoch_time": [t * 3, t, t]}

        def close(self):
            pass

    results = eb.main(["2", str(tmp_path / "out.json"), "tabular_b32"], make_worker=FakeWorker)
    assert asked == ["before", "after", "after", "before"]
    assert len(results) == 4
    out = capsys.readouterr().out
    assert "tabular_b32: before 0.0020 s, after 0.0010 s (medians); after/before 0.500 " \
           "(median of 2 paired" in out
    assert sys.modules.get("ab_stats") is not None


def test_sparse_memory_prints_every_peak(ab, capsys):
    # The smoke size of bench/ab/sparse_memory.py: a line per call, each a
    # peak in MB (memory, not time).
    ab("sparse_memory").main(["smoke", "--scale", "0.01"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("smoke: 1000 x 400 CSR") and "(int32)" in lines[0]
    names = [line.split(": ")[1] for line in lines[1:]]
    assert names == ["fastbp fit", "fastbp partial_fit", "fastbp fit, early stopping",
                     "fastbp predict_proba", "scikit-learn fit"]
    assert all(float(line.split("peak ")[1].split()[0]) >= 0 for line in lines[1:])
