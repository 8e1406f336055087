"""Device scratch between driver calls (rev-201, fix-206).

A thread kept every scratch buffer it ever asked for, at its largest: a
densified sparse batch (``batch_size x n_features``) and the permutation
of a fit's rows stayed on the GPU after the model was gone. Buffers above
``network.SCRATCH_KEEP_BYTES`` now belong to the driver call's records
(``DeviceTables``) and go with them. The tests lower the bound so that the
tiny simulated fits cross it.
"""

import gc
import warnings
import weakref

import numpy as np
import pytest
import scipy.sparse as sp

from fastbp import MLPClassifier
from fastbp.kernels.cuda import network

BOUND = 256  # bytes: below a densified batch (40 x 60 x 8) and a permutation (40 x 8)


@pytest.fixture
def fresh_scratch(monkeypatch):
    """An empty scratch cache for this thread (other tests filled it), and
    the small bound."""
    monkeypatch.setattr(network._local, "scratch", {}, raising=False)
    monkeypatch.setattr(network, "SCRATCH_KEEP_BYTES", BOUND, raising=False)


def _sparse_data(n=40, f=60):
    X = sp.random(n, f, density=0.1, random_state=0, format="csr")
    y = np.arange(n) % 2
    return X, y


def _kept_sizes():
    """Bytes of each buffer the thread keeps between calls."""
    return {name: arr.nbytes for name, arr in network._local.__dict__.get("scratch", {}).items()}


def _fit(device, X, y, **kw):
    kw = dict(dict(hidden_layer_sizes=(3,), max_iter=1, batch_size=40, random_state=0), **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MLPClassifier(device=device, **kw).fit(X, y)


def _assert_close(gpu, cpu):
    for a, b in zip(gpu.coefs_ + gpu.intercepts_, cpu.coefs_ + cpu.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_no_large_scratch_is_kept_after_a_sparse_fit_and_predict(fresh_scratch, monkeypatch,
                                                                  solver):
    made = []

    class Recorded(network.DeviceTables):
        def __init__(self, tables):
            super().__init__(tables)
            made.append(self)

    monkeypatch.setattr(network, "DeviceTables", Recorded)
    X, y = _sparse_data()
    cpu = _fit("cpu", X, y, solver=solver)
    gpu = _fit("cuda", X, y, solver=solver)
    fit_tables = list(made)
    proba = gpu.predict_proba(X)
    predict_tables = made[len(fit_tables):]
    _assert_close(gpu, cpu)
    np.testing.assert_allclose(proba, cpu.predict_proba(X), rtol=1e-10, atol=1e-12)

    kept = _kept_sizes()
    assert kept and max(kept.values()) <= BOUND, kept
    # The densified batches (and a fit's permutation) went to the calls'
    # records instead, which nothing holds once the calls are over.
    assert any("xb" in t.scratch for t in fit_tables)
    assert any("xb" in t.scratch for t in predict_tables)
    if solver == "adam":
        assert any("perm" in t.scratch for t in fit_tables)
    refs = [weakref.ref(t) for t in made]
    del made[:], fit_tables, predict_tables, gpu
    gc.collect()
    assert all(r() is None for r in refs)


def test_a_fit_that_fails_inside_an_epoch_keeps_no_large_scratch(fresh_scratch, monkeypatch):
    def backward(self, *args, **kwargs):
        raise RuntimeError("failed inside the epoch")

    monkeypatch.setattr(network._Launcher, "backward", backward)
    X, y = _sparse_data()
    with pytest.raises(RuntimeError, match="failed inside the epoch"):
        _fit("cuda", X, y)
    kept = _kept_sizes()
    # The failure came after the batch was densified, into the fit's records.
    assert "xb" not in kept and "perm" not in kept, kept
    assert max(kept.values(), default=0) <= BOUND
    assert getattr(network._local, "owner", None) is None


def test_validation_inside_a_fit_owns_its_own_scratch(fresh_scratch, monkeypatch):
    """Early stopping predicts on the validation rows between a fit's
    epochs: those predictions densify into buffers of their own, and the
    fit keeps one densified batch for all its epochs."""
    asked = []
    real = network._scratch

    def scratch(name, size, dtype, zeroed=False):
        arr = real(name, size, dtype, zeroed)
        if name == "xb":
            asked.append((getattr(network._local, "owner", None), arr))
        return arr

    monkeypatch.setattr(network, "_scratch", scratch)
    X, y = _sparse_data(n=60)
    kw = dict(solver="adam", max_iter=3, batch_size=20, early_stopping=True,
              validation_fraction=0.25, n_iter_no_change=10, tol=0)
    cpu = _fit("cpu", X, y, **kw)
    gpu = _fit("cuda", X, y, **kw)
    _assert_close(gpu, cpu)
    np.testing.assert_allclose(gpu.validation_scores_, cpu.validation_scores_)

    owners = {}
    for owner, arr in asked:
        assert owner is not None
        owners.setdefault(id(owner), []).append(arr)
    calls = sorted(owners.values(), key=len)
    training = calls[-1]  # 3 epochs of 2 batches
    assert len(training) >= 6 and all(a is training[0] for a in training)
    assert len(calls) >= 4  # a validation prediction per epoch, each its own
    assert not any(a is training[0] for c in calls[:-1] for a in c)
    assert max(_kept_sizes().values()) <= BOUND
