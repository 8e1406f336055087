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

