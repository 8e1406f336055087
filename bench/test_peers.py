"""The compared systems train the same network.

fastbp's and scikit-learn's runners, built from the same ``TrainSpec``,
take the same Adam steps on the same shuffled batches and land on the same
weights. With shuffling off, two epochs of the PyTorch replica
(``TorchRunner``) from scikit-learn's initial weights land on (nearly) the
same weights as ``MLPClassifier.partial_fit``: same init draws, same loss,
same L2 scaling, same Adam (the only difference, where eps enters Adam's
bias correction, is far below the tolerance). These are correctness checks
of the benchmark harness, not benchmarks. PyTorch is optional (the
``bench`` extra, not the ``test`` one): its test is marked ``torch`` and
runs only when asked for (``python -m pytest -m torch``).
"""

from __future__ import annotations

import numpy as np
import pytest

from bench import peers
from bench.flops import check_consistency, epoch_flops, gemm_shapes, layer_sizes
from bench.workloads import grid_for


# helper-77: the README says test_peers shows the systems train the same
# network, but nothing compared fastbp's runner with scikit-learn's.
@pytest.mark.parametrize("n_classes", [2, 4])
def test_fastbp_runner_does_sklearns_work(n_classes):
    from sklearn.neural_network import MLPClassifier

    from fastbp import MLPClassifier as FastMLP

    rng = np.random.RandomState(1)
    X = rng.standard_normal((300, 7)).astype(np.float32)
    y = rng.randint(0, n_classes, 300)
    classes = np.arange(n_classes)
    spec = peers.TrainSpec(hidden=(16, 8), batch_size=64)  # shuffled: 300 = 4 x 64 + 44
    assert spec.shuffle
    sk = peers.EstimatorRunner(MLPClassifier, spec, "sklearn").prepare(X, y, classes)
    fb = peers.EstimatorRunner(FastMLP, spec, "fastbp").prepare(X, y, classes)
    for _ in range(2):
        sk.epoch()
        fb.epoch()
    assert fb.est.t_ == sk.est.t_ == 600  # samples seen
    assert fb.est._optimizer.t == sk.est._optimizer.t == 10  # Adam steps
    for got, want in zip(fb.est.coefs_ + fb.est.intercepts_, sk.est.coefs_ + sk.est.intercepts_):
        assert got.dtype == want.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.torch
@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_torch_replica_matches_sklearn(fused, n_classes):
    # Deselected unless asked for (python -m pytest -m torch), as Ray's
    # tests are: PyTorch is the bench extra's, not the test one's, and a
    # test that needs what is missing must fail, not skip, where it runs.
    import torch
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



@pytest.mark.parametrize("private_api", [True, False], ids=["pytest", "fallback"])
@pytest.mark.parametrize("markexpr,selected", [
    ("", True), ("torch", True), ("not torch", False), ("not ray and not torch", False),
    ("torch or ray", True), ("not ray and torch", True), ("ray", False)])
def test_torch_selected_reads_the_mark_expression(monkeypatch, private_api, markexpr,
                                                  selected):
    # bench/conftest.py evaluates -m with pytest's private evaluator, and with
    # the word itself where a later pytest moved it: both agree.
    import sys
    from types import SimpleNamespace

    from bench import conftest

    if not private_api:
        monkeypatch.setitem(sys.modules, "_pytest.mark.expression", None)
    config = SimpleNamespace(getoption=lambda name, default=None: markexpr)
    assert conftest.torch_selected(config) is selected
