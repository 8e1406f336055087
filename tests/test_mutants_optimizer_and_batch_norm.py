"""Behaviours a mutation review (rev-257) found unpinned: a batch whose
sample weights are all zero leaves the optimizer's step count alone (whole
and split epochs), batch norm's running variance of a two-row batch is the
unbiased one, AdamW clips the loss gradient only, and float32 batch-norm
statistics accumulate in float64."""

import copy

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastbp import MLPClassifier, MLPRegressor
from fastbp._config import python_twin
from fastbp.kernels import codes, normalization
from fastbp.training import split

try:
    from . import naive
    from .test_kernels import f64
    from .test_toolkit import (OPT_CASES, _plain_net_helpers, closed_form_steps, flat,
                               quiet_fit, tiny)
except ImportError:  # run as a script
    import naive
    from test_kernels import f64
    from test_toolkit import (OPT_CASES, _plain_net_helpers, closed_form_steps, flat,
                              quiet_fit, tiny)

__all__ = ["tiny"]  # a fixture, used by name

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: Long enough for a cold cache's compiles of a split fit; a step that never
#: returns (parts that disagree about a batch wait for each other forever)
#: fails the run with every thread's stack instead of spinning until CI's
#: limit. "thread": a compiled loop never returns to Python for a signal.
SPLIT_TIMEOUT = pytest.mark.timeout(600, method="thread")


# ---------------------------------------------------------------------------
# (1) a batch of zero weights is no step
# ---------------------------------------------------------------------------


ZERO_BATCH_SOLVERS = {
    "adam": dict(solver="adam"),
    "sgd_nesterov": dict(solver="sgd", momentum=0.9, nesterovs_momentum=True),
}


def _zero_batch_fits(solver_kw, batch_size):
    """Three batches (shuffle=False) whose middle one weighs nothing, and
    the same fit of the two weighted batches alone, from the same weights."""
    rng = np.random.RandomState(3)
    n = 3 * batch_size
    X = rng.normal(size=(n, 4))
    y = X @ rng.normal(size=4) + 0.1 * rng.normal(size=n)
    sw = np.ones(n)
    sw[batch_size:2 * batch_size] = 0.0
    kept = sw > 0
    base = quiet_fit(MLPRegressor(hidden_layer_sizes=(5,), activation="tanh", max_iter=1, random_state=0),
                     X[kept], y[kept])
    common = dict(warm_start=True, shuffle=False, batch_size=batch_size, max_iter=3,
                  learning_rate_init=0.01, n_iter_no_change=np.inf, **solver_kw)
    with_zeros = quiet_fit(copy.deepcopy(base).set_params(**common), X, y, sample_weight=sw)
    alone = quiet_fit(copy.deepcopy(base).set_params(**common), X[kept], y[kept])
    assert with_zeros.n_iter_ == alone.n_iter_ == 3
    # the fits really trained
    assert np.abs(flat(alone) - flat(base)).max() > 1e-3
    return with_zeros, alone


@pytest.mark.parametrize("case", sorted(ZERO_BATCH_SOLVERS))
def test_a_batch_of_zero_weights_does_not_count_as_a_step(case):
    """A weightless batch is no step at all: it must not advance ``t``
    (Adam's bias corrections would then differ from a fit that never saw
    the batch), nor move the weights by a gradient-free step (sgd's
    momentum, which reads no ``t``, would)."""
    with_zeros, alone = _zero_batch_fits(ZERO_BATCH_SOLVERS[case], 10)
    for a, b in zip(with_zeros.coefs_ + with_zeros.intercepts_,
                    alone.coefs_ + alone.intercepts_):
        assert_array_equal(a, b)


@SPLIT_TIMEOUT
@pytest.mark.parametrize("case", sorted(ZERO_BATCH_SOLVERS))
def test_a_batch_of_zero_weights_does_not_count_as_a_step_in_a_split_epoch(
        case, split_epochs):
    """As above, each step split between two threads (kernels.split's own
    skip); batches of 16 rows, the least that forced_split(2) splits."""
    assert split.blas_pool_size() is not None, "the kernels' BLAS pool size is not controllable"
    with split.forced_split(2):
        with_zeros, alone = _zero_batch_fits(ZERO_BATCH_SOLVERS[case], 2 * split.MIN_ROWS)
    assert split_epochs, "the fits did not split their steps"
    for a, b in zip(with_zeros.coefs_ + with_zeros.intercepts_,
                    alone.coefs_ + alone.intercepts_):
        assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# (2) and (4) batch-norm statistics
# ---------------------------------------------------------------------------


def _batch_norm_forward(h, rmean, rvar, momentum=0.1, eps=1e-5):
    """kernels.normalization.batch_norm_forward in training mode, unit
    gamma and zero beta; returns (xhat, inv_std, running_mean, running_var)."""
    dtype = h.dtype.type
    m = h.shape[1]
    rmean, rvar = rmean.astype(dtype), rvar.astype(dtype)
    inv_std = np.full(m, np.nan, dtype)
    z = np.full_like(h, np.nan)
    a = np.full_like(h, np.nan)
    xhat = h.copy()
    python_twin(normalization.batch_norm_forward)(
        xhat, np.ones(m, dtype), np.zeros(m, dtype), dtype(eps), True, rmean, rvar,
        dtype(momentum), inv_std, codes.IDENTITY, z, a)
    return xhat, inv_std, rmean, rvar


def test_running_variance_of_a_two_row_batch_is_unbiased():
    """A batch of two rows is the smallest whose running variance takes
    PyTorch's ``n / (n - 1)`` (one row keeps its biased 0)."""
    rng = np.random.RandomState(0)
    h = 2 * rng.normal(size=(2, 3)) + 1
    rmean, rvar = rng.normal(size=3), rng.uniform(0.5, 2, 3)
    _, _, got_mean, got_var = _batch_norm_forward(h, rmean, rvar)
    assert_allclose(got_var, 0.9 * rvar + 0.1 * h.var(axis=0, ddof=1), rtol=1e-13)
    assert_allclose(got_mean, 0.9 * rmean + 0.1 * h.mean(axis=0), rtol=1e-13)
    # The reference network (tests/naive.py) follows the same rule.
    running = {"mean": [rmean.copy()], "var": [rvar.copy()]}
    P = {"coefs": [np.eye(3), np.zeros((3, 1))], "intercepts": [np.zeros(3), np.zeros(1)],
         "scales": [np.ones(3)], "shifts": [np.zeros(3)]}
    naive.forward(h, P, "identity", "identity", norm="batch", training=True,
                  running=running, bn_momentum=0.1, norm_eps=1e-5)
    assert_allclose(got_var, running["var"][0], rtol=1e-13)
    # and differs from the biased variance by far more than the tolerance
    assert not np.allclose(got_var, 0.9 * rvar + 0.1 * h.var(axis=0), rtol=1e-6)


def test_float32_batch_norm_statistics_accumulate_in_float64():
    """4096 float32 rows near 1e4: their sum (about 4e7, where float32's
    spacing is 4) is exact in float64. Each statistic is checked against
    the float64 one rounded once to float32."""
    rng = np.random.RandomState(1)
    n, m = 4096, 3
    h = (1e4 + rng.normal(size=(n, m))).astype(np.float32)
    h64 = f64(h)
    mean = h64.mean(axis=0)
    var = h64.var(axis=0)
    inv = 1 / np.sqrt(var + np.float64(np.float32(1e-5)))
    rmean, rvar = np.zeros(m), np.ones(m)
    xhat, inv_std, got_mean, got_var = _batch_norm_forward(h, rmean, rvar)
    mom = np.float64(np.float32(0.1))
    # two float32 spacings of each result: rounding once is half of one
    tight = dict(rtol=1.2e-7, atol=0)
    assert_allclose(f64(inv_std), inv, **tight)
    assert_allclose(f64(got_mean), (1 - mom) * rmean + mom * mean, **tight)
    assert_allclose(f64(got_var), (1 - mom) * rvar + mom * var * n / (n - 1), **tight)
    # (h - mean) inv with the float32 mean and inverse: the subtraction of
    # two float32 numbers this close is exact, the product rounded once.
    expected = (h64 - f64(np.float32(mean))) * f64(np.float32(inv))
    assert_allclose(f64(xhat), expected, rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------
# (3) AdamW clips the loss gradient only
# ---------------------------------------------------------------------------


def test_adamw_clips_the_loss_gradient_without_the_decay(tiny):
    """torch.nn.utils.clip_grad_norm_ then torch.optim.AdamW.step: the
    decoupled decay is not part of the clipped gradient's norm. Two steps,
    so that the clipping coefficients (which differ between the steps) do
    not cancel in Adam's m / sqrt(v); a large alpha, so that a norm that
    counted the decay would clip by a visibly different coefficient."""
    X, y = tiny
    n = len(X)
    base = quiet_fit(MLPClassifier((4,), activation="tanh", max_iter=1, random_state=0),
                     X, y)
    grad_fn, _, _, is_weight = _plain_net_helpers(base, X, y)
    p0 = flat(base)
    alpha, lr, n_steps = 0.5, 0.02, 2
    clip = np.linalg.norm(grad_fn(p0)) / 4
    common = dict(warm_start=True, shuffle=False, batch_size=n, max_iter=n_steps,
                  alpha=alpha, learning_rate_init=lr, n_iter_no_change=np.inf,
                  **OPT_CASES["adamw"])
    clipped = quiet_fit(copy.deepcopy(base).set_params(clip_grad_norm=clip, **common), X, y)
    assert clipped.n_iter_ == n_steps
    expected = closed_form_steps("adamw", p0, grad_fn, n_steps, lr, alpha, 0.0, n, is_weight,
                                 clip=clip)
    assert_allclose(flat(clipped), expected, rtol=1e-9, atol=1e-12)
    # the clipping mattered
    free = closed_form_steps("adamw", p0, grad_fn, n_steps, lr, alpha, 0.0, n, is_weight)
    assert not np.allclose(flat(clipped), free, rtol=1e-6, atol=1e-9)
