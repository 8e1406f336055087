"""``python -m bench.partial_fit`` runs and reports both systems (structure
only, never a time)."""

import importlib.util

import numpy as np
import pytest

from bench import partial_fit as pf


def test_main_prints_both_systems(capsys):
    assert pf.main(["--calls", "2", "--warm", "3", "--rounds", "2"]) == 0
    # The first two lines are the environment's header (helper-153).
    header, _, out = capsys.readouterr().out.partition("\n")
    load, _, out = out.partition("\n")
    assert out.count("fastbp") >= 3 and out.count("scikit-learn") == 2
    assert "after 100 calls" in out and "epoch inside a call" in out
    assert "1 thread(s); medians of 2 alternating rounds of 2 calls" in out
    assert "after 108 calls" in out  # 1 + 100 + 2 rounds x 2 calls + 3
    # helper-153: no date, CPU, commit, versions or load were printed.
    assert " · git " in header and load.startswith("load average (1/5/15 min) at start")
    # PyTorch's step is a peer where PyTorch is installed (not in CI).
    assert ("PyTorch's eager step" in out) == (importlib.util.find_spec("torch") is not None)


def test_systems_alternate_round_by_round():
    # helper-77: each system's timings ran back to back, fastbp's, then
    # scikit-learn's, then PyTorch's, so a drift of the machine went into
    # the ratios.
    order = []
    turns = {name: (lambda name=name: order.append(name)) for name in ("A", "B", "C")}
    times = pf.alternate(turns, calls=2, rounds=3)
    assert order == ["A", "A", "B", "B", "C", "C"] * 3
    assert {name: len(t) for name, t in times.items()} == {"A": 3, "B": 3, "C": 3}
    seconds, ratios = pf._medians({"fastbp": [1.0, 2.0, 4.0], "peer": [10.0, 10.0, 10.0]})
    assert seconds == {"fastbp": 2.0, "peer": 10.0} and ratios == {"peer": 5.0}


def test_every_pool_runs_at_the_requested_threads(monkeypatch):
    # helper-77: only PyTorch was set to one thread; fastbp's and
    # scikit-learn's pools were the environment's.
    import numba
    from threadpoolctl import threadpool_info

    seen = []
    real = pf.alternate

    def spy(turns, calls, rounds):
        seen.append(({p["num_threads"] for p in threadpool_info()}, numba.get_num_threads()))
        return real(turns, calls, rounds)

    monkeypatch.setattr(pf, "alternate", spy)
    pf.measure(calls=1, warm=0, rounds=1, threads=1)
    assert seen == [({1}, 1), ({1}, 1)]


@pytest.mark.torch
def test_torch_step_trains_the_estimators_network():
    # helper-153: the PyTorch peer used its own initial weights and Adam
    # without weight decay, not scikit-learn's Glorot weights and alpha=1e-4.
    # Deselected unless asked for (python -m pytest bench -m torch).
    import torch
    from sklearn.neural_network import MLPClassifier

    X, y = pf._stream(32)
    X = X * 30  # large enough weights for the L2 penalty to show
    sk = MLPClassifier((64,), random_state=0, batch_size=32, shuffle=False)
    sk.partial_fit(X, y, classes=np.arange(4))
    step = pf._torch_step(X, y, 32)
    step()
    for _ in range(4):
        sk.partial_fit(X, y)
        step()
    runner = step.__self__
    assert runner.opt.param_groups[0]["weight_decay"] == pytest.approx(1e-4 / 32)
    lins = [m for m in runner.model if isinstance(m, torch.nn.Linear)]
    for coef, intercept, lin in zip(sk.coefs_, sk.intercepts_, lins):
        np.testing.assert_allclose(lin.weight.detach().numpy().T, coef, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(lin.bias.detach().numpy(), intercept, rtol=1e-4, atol=1e-6)
