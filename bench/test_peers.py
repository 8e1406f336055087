"""The PyTorch replica trains the same network as scikit-learn.

With shuffling off, one epoch of ``TorchRunner`` from scikit-learn's initial
weights must land on (nearly) the same weights as
``MLPClassifier.partial_fit``: same init draws, same loss, same L2 scaling,
same Adam (the only difference, where eps enters Adam's bias correction, is
far below the tolerance). This is a correctness check of the benchmark
harness, not a benchmark.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench import peers
from bench.flops import check_consistency, epoch_flops, gemm_shapes, layer_sizes
from bench.workloads import grid_for

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_torch_replica_matches_sklearn(fused, n_classes):
    from sklearn.neural_network import MLPClassifier

    rng = np.random.RandomState(1)
    X = rng.standard_normal((300, 7))
    y = rng.randint(0, n_classes, 300)
    classes = np.arange(n_classes)
    spec = peers.TrainSpec(hidden=(16, 8), batch_size=64, shuffle=False)  # 300 = 4 x 64 + 44
    sk = peers.EstimatorRunner(MLPClassifier, spec, "sklearn").prepare(X, y, classes)
    th = peers.TorchRunner(spec, fused=fused, label="torch").prepare(X, y, classes)
    for _ in range(2):
        sk.epoch()
        th.epoch()
    lins = [m for m in th.model if isinstance(m, torch.nn.Linear)]
    for coef, intercept, lin in zip(sk.est.coefs_, sk.est.intercepts_, lins):
        np.testing.assert_allclose(lin.weight.detach().numpy().T, coef, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(lin.bias.detach().numpy(), intercept, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("mode", ["smoke", "quick", "full"])
def test_flops_match_gemm_shapes(mode):
    for case in grid_for(mode).cases():
        n = case.workload.n_train or 60000
        assert check_consistency(n, case.batch_size, case.workload.sizes)


def test_epoch_flops_by_hand():
    sizes = layer_sizes(784, (256, 128), 10)
    assert sizes == [784, 256, 128, 10]
    per_row = 2 * (784 * 256 + 128 * 256 + 10 * 128)
    f = epoch_flops(100, sizes)
    assert f["forward"] == f["weight_grad"] == 100 * per_row
    assert f["input_grad"] == 100 * 2 * (256 * 128 + 128 * 10)
    assert len(gemm_shapes(32, sizes)) == 8


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
