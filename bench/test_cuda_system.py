"""The benchmark suite's ``cuda`` system (fastbp with ``device="cuda"``):
where it appears, how it is built, and how the report shows it. Needs no
GPU and no PyTorch, so it runs in CI (``test_peers.py``'s PyTorch test
skips without PyTorch)."""

from __future__ import annotations

import numpy as np

from bench import peers


def test_cuda_system_only_where_a_gpu_is(monkeypatch):
    """The ``cuda`` system: left out of the defaults (and named with the
    reason) without a GPU; in them, as fastbp with ``device="cuda"``, where
    the backend reports a usable GPU."""
    import fastbp.kernels.cuda as cuda_backend

    reason = peers.unavailable_reason("cuda", standin=False)
    if reason is not None:
        assert "GPU" in reason or "numba-cuda" in reason
        assert "cuda" not in peers.default_systems(standin=False)
    monkeypatch.setattr(cuda_backend, "device_status", lambda: None)
    assert peers.unavailable_reason("cuda", standin=False) is None
    assert peers.default_systems(standin=False)[-1] == "cuda"
    assert peers.unavailable_reason("cuda", standin=True) == \
        "the stand-in (scikit-learn) has no GPU path"
    runner = peers.make_runner("cuda", peers.TrainSpec(hidden=(4,), batch_size=8))
    runner.prepare(np.zeros((8, 3)), np.arange(8) % 2, np.arange(2))
    assert runner.est.get_params()["device"] == "cuda"


def test_report_gives_the_gpu_speed_up():
    """The epochs table shows ``fastbp cuda`` as fastbp's speed-up over its
    own CPU run, not as a peer fastbp is compared against."""
    from bench import report

    def system(ms):
        return {"median_ms": ms, "gflops": 1.0, "share_of_peak": 0.5}

    row = {"case": {"id": "mnist-b200-float32-t2", "n_samples": 1000},
           "systems": {"fastbp": system(80.0), "sklearn": system(200.0), "cuda": system(10.0)},
           "ratios": {"fastbp": {"sklearn": 2.5, "cuda": 0.125},
                      "sklearn": {"fastbp": 0.4, "cuda": 0.05},
                      "cuda": {"fastbp": 8.0, "sklearn": 20.0}},
           "gemm_peak": {"peak_gflops": 2.0, "floor_s": 0.001},
           "flops": {"total": 1e9}, "skipped": {}}
    env = {"git": "x", "cpu": "cpu", "cpu_count": 2, "python": "3.11", "numpy": "2",
           "sklearn": "1", "numba": "0", "torch": None, "blas": [], "standin": False,
           "loadavg_start": None, "loadavg_end": None, "fastbp": "0.1"}
    text = report.render({"mode": "quick", "timestamp": "t", "environment": env,
                          "systems": ["fastbp", "sklearn", "cuda"],
                          "grid": {"rounds": 3, "warmup": 1}, "epochs": [row]})
    header = next(line for line in text.splitlines() if line.startswith("| case"))
    assert "vs sklearn" in header and "fastbp cuda speed-up" in header
    assert "vs fastbp cuda" not in header
    line = next(line for line in text.splitlines() if line.startswith("| mnist-b200"))
    assert line.rstrip(" |").endswith("2.50x | 8.00x")
    assert "| 1.00 (GPU) |" in text  # no share of the CPU's GEMM peak
