"""Stopping rules and accumulated sums that a mutation-testing review found
unchecked: tied validation scores and training losses, L-BFGS's max_fun,
each epoch's gradient-norm RMS, float32 loss sums kept in float64, and the
caller's floating-point mode restored; each test fails with the mutant
named in its docstring (fix-195)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import make_classification

from fastbp import MLPClassifier
from fastbp.training import split

try:  # tests/ may or may not become a package
    from . import naive
    from .support import quiet
    from .test_estimators import assert_same_model, fit_both, flat
    from .test_kernels import _call_output_loss_delta, eps_of, f64, make_Y
except ImportError:
    import naive
    from support import quiet
    from test_estimators import assert_same_model, fit_both, flat
    from test_kernels import _call_output_loss_delta, eps_of, f64, make_Y


@pytest.fixture(scope="module")
def binary():
    return make_classification(200, 6, random_state=0)


# -- stopping rules ------------------------------------------------------------


def test_early_stopping_tied_validation_scores_count_as_no_improvement(binary):
    """With ``tol=0`` a validation score equal to the best is no improvement
    only when it falls short of ``best + tol`` (scikit-learn's ``>=``): the
    scores here tie at 0.5 for epochs on end, and both libraries train on to
    epoch 25. Catches ``>=`` turned into ``>`` in
    ``TrainingProgress.update_no_improvement`` (which stopped at epoch 5)."""
    X, y = binary
    ref, est = fit_both("MLPClassifier", X, y, hidden_layer_sizes=(8,), early_stopping=True,
                        tol=0.0, n_iter_no_change=3, learning_rate_init=0.01, random_state=0)
    assert ref.validation_scores_[:3] == [0.5, 0.5, 0.5]  # the ties the rule decides
    assert est.n_iter_ == ref.n_iter_ == 25
    assert_same_model(ref, est, rtol=1e-12, atol=1e-12, curve_rtol=1e-12)


def test_tied_training_losses_reset_the_no_improvement_count(binary):
    """Without early stopping and with ``tol=0``, a loss equal to the best
    is not above ``best - tol``: scikit-learn resets the count. A learning
    rate too small to move any weight makes every epoch's loss the same
    (``shuffle=False``: the same sums in the same order), so both run to
    ``max_iter``. Catches ``>`` turned into ``>=`` there (stopped after
    ``n_iter_no_change + 1`` epochs)."""
    X, y = binary
    ref, est = fit_both("MLPClassifier", X, y, hidden_layer_sizes=(8,), tol=0.0,
                        n_iter_no_change=3, learning_rate_init=1e-30, shuffle=False,
                        max_iter=8, random_state=0)
    assert len(set(est.loss_curve_)) == 1  # the premise: every loss ties
    assert est.n_iter_ == ref.n_iter_ == 8
    assert_same_model(ref, est, rtol=1e-12, atol=1e-12, curve_rtol=1e-12)


# -- L-BFGS --------------------------------------------------------------------


@pytest.mark.parametrize("max_fun", [5, 10, 15])
def test_lbfgs_stops_at_max_fun_evaluations_as_sklearn(binary, max_fun):
    """``max_fun`` is scipy's ``maxfun`` as given: one evaluation more lets
    L-BFGS finish one more iteration here. X is halved so that no line
    search tries a step into the saturated logistic output, where the two
    libraries' losses differ by rounding (1e-4 on the unscaled data) and
    the line searches part ways; halved, the models agree to 1e-14."""
    X, y = binary
    ref, est = fit_both("MLPClassifier", X * 0.5, y, hidden_layer_sizes=(8,), solver="lbfgs",
                        max_fun=max_fun, max_iter=200, random_state=0)
    assert est.n_iter_ == ref.n_iter_
    # Not loss_: fastbp's is the loss at the returned weights, on purpose.
    assert_allclose(flat(est), flat(ref), rtol=1e-10, atol=1e-12)


# -- history_["grad_norm"] -----------------------------------------------------


def test_grad_norm_is_each_epochs_own_rms_over_its_steps(binary):
    """history_['grad_norm'] is, per epoch and layer, the RMS over the
    epoch's steps of the weight-gradient norm of the data loss. With weights
    that do not move (a learning rate of 1e-12) and no shuffling, every
    epoch sees the same gradients: the rows are equal, and equal to the
    NumPy value. Catches the per-epoch sums not being reset (the norms then
    grew epoch by epoch)."""
    X, y = binary
    batch_size = 50
    est = MLPClassifier((8,), learning_rate_init=1e-12, shuffle=False, batch_size=batch_size,
                        max_iter=4, random_state=0)
    quiet(est.fit, X, y)
    norms = np.asarray(est.history_["grad_norm"])
    assert norms.shape == (4, 2)
    assert_allclose(norms, np.broadcast_to(norms[0], norms.shape), rtol=1e-6)

    P = {"coefs": est.coefs_, "intercepts": est.intercepts_}
    Y = y.reshape(-1, 1).astype(float)
    sq = np.zeros(2)
    for s in range(0, len(X), batch_size):
        _, grads, _ = naive.backprop(X[s:s + batch_size], Y[s:s + batch_size], None, P,
                                     "relu", "logistic", 0.0)
        sq += [np.sum(g ** 2) for g in grads["coefs"]]
    expected = np.sqrt(sq / (len(X) // batch_size))
    assert_allclose(norms[0], expected, rtol=1e-6)


# -- float32 loss sums ---------------------------------------------------------


@pytest.mark.parametrize("out", naive.OUTPUTS)
def test_float32_loss_sum_over_many_rows_is_accumulated_in_float64(out):
    """A float32 loss sum over 1e5 rows added up in float64 holds to 2e-8 of
    the float64 reference; added up in float32 it is off by 7e-7 to 4e-6
    (relative). Catches a float32 accumulator in any output function's
    ``*_loss_delta``."""
    dtype = np.float32
    n, m = 100_000, 10
    rng = np.random.default_rng(195)
    z = (1.5 * rng.standard_normal((n, m))).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    if out == "exp":
        z *= dtype(0.3)  # rates of order one: Poisson targets to match
    Y = make_Y(out, n, m, dtype, rng)
    ref = naive.output_loss(f64(Y), naive.output_activation(f64(z), f64(b), out), out,
                            eps=eps_of(dtype))
    total, _ = _call_output_loss_delta(z, b, Y, None, out)
    assert_allclose(total / n, ref, rtol=1e-7)


# -- the caller's floating-point mode ------------------------------------------


_TINY = np.float32(1e-40)  # subnormal in float32


def _assert_subnormals_kept(after):
    # NumPy's float32 product runs on the SSE unit whose MXCSR the kernels
    # set: a flush-to-zero mode left on makes it 0.
    assert _TINY * np.float32(1.5) != 0, f"{after} left flush-to-zero on"


def test_predict_lbfgs_and_split_epoch_restore_the_callers_floating_point_mode(
        binary, split_epochs):
    """Each entry point that flushes subnormals (fpenv) restores the mode
    before returning: train_epoch, L-BFGS's loss_and_gradient, predict and
    the split epoch, each checked right after its call rather than by a
    later test that happens to run in the same process."""
    X, y = binary
    X = X.astype(np.float32)
    _assert_subnormals_kept("an earlier test")

    quiet(MLPClassifier((8,), batch_size=50, max_iter=2, random_state=0).fit, X, y)
    _assert_subnormals_kept("train_epoch")

    est = MLPClassifier((8,), solver="lbfgs", max_iter=3, random_state=0)
    quiet(est.fit, X, y)
    _assert_subnormals_kept("the L-BFGS loss_and_gradient")

    est.predict(X)
    _assert_subnormals_kept("predict")
    est.predict_proba(X)
    _assert_subnormals_kept("predict_proba")

    assert split.blas_pool_size() is not None, "the kernels' BLAS pool size is not controllable"
    with split.forced_split(2):
        quiet(MLPClassifier((8,), batch_size=50, max_iter=2, random_state=0).fit, X, y)
    assert split_epochs, "the fit did not split its steps"
    _assert_subnormals_kept("the split epoch")
