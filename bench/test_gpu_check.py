"""``bench/gpu_check.py``'s per-epoch table times every column alike
(structure only, never a time; needs no GPU)."""

import numpy as np

from bench import gpu_check


def _measured(monkeypatch, argv):
    calls = []

    def fake_epochs(X, y, hidden, device, batch, epochs, warmup):
        calls.append((device, batch, epochs, warmup))
        return 0.001

    monkeypatch.setattr(gpu_check, "fastbp_epochs", fake_epochs)
    monkeypatch.setattr(gpu_check, "fit", lambda *args, **kwargs: None)  # the compile fit
    args = gpu_check.parse_args(argv)
    cfg = dict(gpu_check.SMOKE)
    X = np.zeros((cfg["n_samples"], cfg["n_features"]), np.float32)
    y = np.arange(cfg["n_samples"]) % cfg["n_classes"]
    results = {"cuda_problem": None}
    gpu_check.measure_epochs(X, y, cfg, args, results)
    return calls, results["per_epoch"]


def test_cpu_column_is_timed_like_the_gpu_column(monkeypatch, capsys):
    # helper-77: the "fastbp cpu" column was one first epoch, without a
    # warm-up, against the GPU columns' medians of --epochs after one.
    calls, rows = _measured(monkeypatch, ["--no-torch", "--epochs", "3"])
    cuda = [(b, e, w) for d, b, e, w in calls if d == "cuda"]
    cpu = [(b, e, w) for d, b, e, w in calls if d == "cpu"]
    assert cpu == cuda == [(b, 3, 1) for b in gpu_check.SMOKE["batches"]]
    assert all(r["cpu"] == r["cuda"] == 1.0 for r in rows.values())
    assert "after 1 warm-up epoch, every column" in capsys.readouterr().out


def test_no_cpu_still_skips_the_cpu_column(monkeypatch, capsys):
    calls, rows = _measured(monkeypatch, ["--no-torch", "--no-cpu", "--epochs", "1"])
    assert {d for d, *_ in calls} == {"cuda"}
    assert all(r["cpu"] is None for r in rows.values())
    assert "fastbp cpu: skipped (--no-cpu)" in capsys.readouterr().out
