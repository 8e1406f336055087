"""fix-183: an L-BFGS warm fit's stale optimizer, learning_rate changes that
only act on SGD within a stream, sparse integer X at prediction, and a 3-D
sparse X's message."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal

from fastbp import MLPClassifier, MLPRegressor
from fastbp.estimators import solvers


try:
    from .support import peak, quiet
except ImportError:  # run as a plain module
    from support import peak, quiet


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


def _adam_then_lbfgs(X, y):
    model = quiet(MLPClassifier((4,), solver="adam", max_iter=20, warm_start=True,
                                random_state=0).fit, X, y)
    assert model._optimizer.solver == "adam" and model._optimizer.t > 0
    return model


# ------------------------------------------------- 1. L-BFGS warm start


def test_a_warm_lbfgs_fit_leaves_no_stochastic_optimizer(blobs):
    X, y = blobs
    model = _adam_then_lbfgs(X, y)
    curve = list(model.loss_curve_)
    quiet(model.set_params(solver="lbfgs").fit, X, y)
    assert model._optimizer is None
    # The stochastic record goes on (README: history_, loss_curve_).
    assert model.loss_curve_ == curve
    # As after a cold L-BFGS fit: another solver starts a fresh stream
    # (it was refused as a solver changed within the stream) ...
    quiet(model.set_params(solver="sgd").partial_fit, X, y)
    assert model._optimizer.solver == "sgd" and model._optimizer.epoch == 1


def test_adam_after_a_warm_lbfgs_fit_starts_afresh(blobs):
    X, y = blobs
    model = _adam_then_lbfgs(X, y)
    quiet(model.set_params(solver="lbfgs").fit, X, y)
    quiet(model.set_params(solver="adam").partial_fit, X, y)
    # One epoch of a fresh Adam: the step count of this call alone (it
    # resumed at the 20 epochs' count, with their moments).
    batches = -(-len(X) // min(200, len(X)))
    assert model._optimizer.epoch == 1 and model._optimizer.t == batches


def test_a_failed_warm_lbfgs_fit_keeps_the_old_optimizer(blobs, monkeypatch):
    X, y = blobs
    model = _adam_then_lbfgs(X, y)
    optimizer = model._optimizer
    coefs = [c.copy() for c in model.coefs_]

    def fail(self):
        raise RuntimeError("after the L-BFGS fit")

    # Fails after _fit_lbfgs has returned, within the call's transaction.
    monkeypatch.setattr(MLPClassifier, "_drop_fit_inputs", fail)
    with pytest.raises(RuntimeError, match="after the L-BFGS fit"):
        quiet(model.set_params(solver="lbfgs").fit, X, y)
    assert model._optimizer is optimizer
    for a, b in zip(coefs, model.coefs_):
        assert_array_equal(a, b)


# ------------------------------- 2. learning_rate changes within a stream


@pytest.mark.parametrize("solver", ["adam", "rmsprop"])
@pytest.mark.parametrize("first,then", [("constant", "invscaling"),
                                        ("invscaling", "adaptive"),
                                        ("adaptive", "constant")])
def test_non_sgd_stream_takes_a_schedule_that_acts_on_sgd_alone(blobs, solver, first, then):
    X, y = blobs
    kw = dict(hidden_layer_sizes=(4,), solver=solver, random_state=0)
    changed = MLPClassifier(learning_rate=first, **kw)
    same = MLPClassifier(learning_rate=first, **kw)
    for model in (changed, same):
        model.partial_fit(X, y, classes=[0, 1])
    changed.set_params(learning_rate=then)
    for _ in range(2):
        changed.partial_fit(X, y)
        same.partial_fit(X, y)
    assert changed._optimizer.lr_schedule == then
    for a, b in zip(changed.coefs_, same.coefs_):
        assert_array_equal(a, b)
    # A schedule that acts on every solver is still refused, named from
    # the one the stream now has.
    changed.set_params(learning_rate="step")
    with pytest.raises(ValueError, match=f"learning_rate changed from '{then}' to 'step' "
                                         "within a partial_fit stream"):
        changed.partial_fit(X, y)


@pytest.mark.parametrize("first,then", [("constant", "invscaling"), ("constant", "cosine")])
def test_schedule_changes_stay_refused_where_they_act(blobs, first, then):
    X, y = blobs
    for solver in (["sgd", "adam"] if then == "cosine" else ["sgd"]):
        model = MLPClassifier((4,), solver=solver, learning_rate=first, random_state=0)
        model.partial_fit(X, y, classes=[0, 1])
        model.set_params(learning_rate=then)
        with pytest.raises(ValueError, match=f"learning_rate changed from '{first}' to "
                                             f"'{then}'"):
            model.partial_fit(X, y)
        assert model._optimizer.lr_schedule == first


def test_a_failed_call_leaves_the_streams_schedule(blobs, monkeypatch):
    X, y = blobs
    model = MLPClassifier((4,), solver="adam", random_state=0)
    model.partial_fit(X, y, classes=[0, 1])

    def fail(*args, **kwargs):
        raise RuntimeError("in training")

    # Taken on the call's copy, which a failure then drops.
    monkeypatch.setattr(solvers, "fit_stochastic", fail)
    model.set_params(learning_rate="invscaling")
    with pytest.raises(RuntimeError, match="in training"):
        model.partial_fit(X, y)
    assert model._optimizer.lr_schedule == "constant"


# ------------------------------------------- 3. sparse integer X, predict


def test_sparse_integer_X_is_converted_a_block_at_a_time():
    rng = np.random.default_rng(0)
    X = sp.random(40_000, 1000, density=0.01, format="csr", random_state=0)
    X.data = rng.integers(-100, 100, X.nnz).astype(np.int8)
    model = quiet(MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit,
                  X[:300].astype(np.float64), rng.random(300))
    model.predict(X[:10])  # compiled before it is measured
    out, used = peak(lambda: model.predict(X))
    whole = X.nnz * (8 + 8)  # float64 data and int64 indices
    assert used < whole / 4
    assert_array_equal(out, model.predict(X.astype(np.float64)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["bool", "uint8", "int64", "uint64", "csc"])
def test_sparse_integer_X_predicts_as_its_float64_conversion(dtype, kind):
    rng = np.random.default_rng(1)
    X = sp.random(3000, 30, density=0.2, format="csr", random_state=1)
    if kind == "bool":
        X.data = X.data > 0.5
    elif kind in ("int64", "uint64"):
        # Beyond 2**53, and values that float32 rounds otherwise directly
        # than through float64 (as validation converted all of X before).
        wide = np.dtype(kind).type
        X.data = rng.integers(0, 2**62, X.nnz, dtype=wide) >> wide(rng.integers(0, 60))
        X.data[::5] = wide(2**60 + 2**36 + 1)
        assert (X.data[:1].astype(np.float32) != X.data[:1].astype(np.float64)
                .astype(np.float32)).all()
    else:
        X.data = rng.integers(0, 256, X.nnz).astype(np.uint8)
        if kind == "csc":
            X = X.tocsc()
    # Linear, so that an input's rounding shows in the outputs.
    model = quiet(MLPRegressor(hidden_layer_sizes=(4,), activation="identity", max_iter=2,
                               random_state=0).fit,
                  rng.random((50, 30)).astype(dtype), rng.random(50))
    expected = model.predict(X.astype(np.float64))
    got = model.predict(X)
    assert got.dtype == dtype
    assert_array_equal(got, expected)


# --------------------------------------------- 4. a 3-D sparse X's message


def test_a_3d_sparse_X_gets_no_single_sample_hint(blobs):
    X, y = blobs
    model = quiet(MLPClassifier((4,), max_iter=2, random_state=0).fit, X, y)
    bad = sp.coo_array(np.zeros((4, 5, 15)))
    with pytest.raises(ValueError, match=r"got a sparse array of shape \(4, 5, 15\)\.$"):
        model.predict(bad)
    with pytest.raises(ValueError, match=r"reshape\(1, -1\) for a single sample"):
        model.predict(sp.coo_array(np.zeros(4)))
