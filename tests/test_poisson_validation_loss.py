"""fix-205: the poisson regressor's validation loss is the half deviance of
the output pre-activations ``t``, as its training loss is, not of
``log(exp(t))``, which is ``-inf`` where ``exp(t)`` underflows to 0."""

import warnings

import numpy as np
import pytest
from sklearn.metrics import mean_poisson_deviance
from sklearn.model_selection import train_test_split

from fastbp import MLPRegressor
from fastbp.kernels import codes
from fastbp.kernels import losses as kloss
from fastbp.training import predict as predict_module


def _validation_rows(est, X):
    """The early-stopping split: drawn right after the initial weights
    (glorot, relu), as scikit-learn draws it (as test_toolkit's)."""
    rs = np.random.RandomState(est.random_state)
    units = [X.shape[1], *est.hidden_layer_sizes, 1]
    for fi, fo in zip(units[:-1], units[1:]):
        b = np.sqrt(6 / (fi + fo))
        rs.uniform(-b, b, (fi, fo))
        rs.uniform(-b, b, fo)
    _, val = train_test_split(np.arange(len(X)), random_state=rs,
                              test_size=est.validation_fraction)
    return val


def _pre_activations(est, X):
    """The output pre-activations of ``est`` (relu hidden layers), in
    float64 from its weights."""
    h = np.asarray(X, np.float64)
    layers = list(zip(est.coefs_, est.intercepts_))
    for W, b in layers[:-1]:
        h = np.maximum(h @ W.astype(np.float64) + b.astype(np.float64), 0.0)
    W, b = layers[-1]
    return (h @ W.astype(np.float64) + b.astype(np.float64))[:, 0]


def _half_deviance(y, t):
    """Mean half Poisson deviance of the log-predictions ``t``."""
    y = np.asarray(y, np.float64)
    safe = np.where(y > 0, y, 1.0)
    return np.mean(np.where(y > 0, y * (np.log(safe) - t), 0.0) + np.exp(t) - y)


def _fit_one_epoch(X, y, random_state, **kw):
    """One epoch with early stopping: its validation loss is of the
    weights it ends on."""
    est = MLPRegressor(hidden_layer_sizes=(4,), loss="poisson", early_stopping=True, max_iter=1,
                       random_state=random_state, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (ConvergenceWarning)
        est.fit(X, y)
    return est


def _check_val_loss(est, X, y, rtol):
    val = _validation_rows(est, X)
    (val_loss,) = est.history_["val_loss"]
    (score,) = est.validation_scores_
    assert np.isfinite(val_loss) and np.isfinite(score)
    np.testing.assert_allclose(val_loss, _half_deviance(y[val], _pre_activations(est, X[val])),
                               rtol=rtol)
    return val


def test_float32_validation_rows_beyond_exp_underflow_keep_a_finite_loss():
    """An unscaled feature around -400 sends some rows' float32 ``t`` below
    -103: the fit without early stopping trained on them with a finite
    loss, and the fit with it called the same weights diverged."""
    rng = np.random.RandomState(0)
    X = (rng.randn(25, 1) * 5 - 400).astype(np.float32)
    y = rng.poisson(2.0, 25).astype(np.float32)
    est = _fit_one_epoch(X, y, 2)
    val = _check_val_loss(est, X, y, rtol=1e-5)
    # The case itself: some validation row's prediction is 0 in float32.
    assert (np.exp(_pre_activations(est, X[val]).astype(np.float32)) == 0).any()
    assert np.isfinite(est.loss_curve_).all()


def test_float64_validation_rows_beyond_exp_underflow_keep_a_finite_loss():
    """Two validation rows of X = -3e4 have ``t`` below -745: early stopping
    refused the validation set as unscorable."""
    rng = np.random.RandomState(1)
    X = rng.randn(40, 1)
    y = rng.poisson(2.0, 40).astype(np.float64)
    probe = MLPRegressor(hidden_layer_sizes=(4,), loss="poisson", early_stopping=True, random_state=1)
    X[_validation_rows(probe, X)[:2]] = -3e4
    est = _fit_one_epoch(X, y, 1)
    val = _check_val_loss(est, X, y, rtol=1e-12)
    assert (np.exp(_pre_activations(est, X[val])) == 0).any()


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-13), (np.float32, 1e-6)])
def test_ordinary_validation_loss_is_scikit_learns_half_poisson_deviance(dtype, rtol):
    rng = np.random.RandomState(3)
    X = rng.randn(60, 3).astype(dtype)
    y = rng.poisson(np.exp(0.5 * X[:, 0])).astype(dtype)
    est = _fit_one_epoch(X, y, 0)
    val = _validation_rows(est, X)
    (val_loss,) = est.history_["val_loss"]
    np.testing.assert_allclose(
        val_loss, mean_poisson_deviance(y[val].astype(np.float64),
                                        est.predict(X[val]).astype(np.float64)) / 2,
        rtol=rtol)


def test_loss_from_pre_activations_of_an_underflowed_prediction():
    """``exp(-800)`` is 0 in float64: the half deviance of ``t = -800``
    against ``y = 1`` is ``1 * (0 + 800) + 0 - 1``."""
    t = np.array([[-800.0], [0.5]])
    Y = np.array([[1.0], [2.0]])
    eps = np.finfo(np.float64).eps
    got = kloss.loss_from_output(t, Y, np.empty(0), False, codes.OUT_EXP, eps, True)
    want = (799.0 + 2.0 * (np.log(2.0) - 0.5) + np.exp(0.5) - 2.0) / 2
    np.testing.assert_allclose(got, want, rtol=1e-15)
    # From the predictions, as before: finite rows give the same loss.
    p = np.exp(t[1:])
    np.testing.assert_allclose(
        kloss.loss_from_output(t[1:], Y[1:], np.empty(0), False, codes.OUT_EXP, eps, True),
        kloss.loss_from_output(p, Y[1:], np.empty(0), False, codes.OUT_EXP, eps),
        rtol=1e-15)


def test_only_an_underflowed_prediction_runs_the_identity_output(monkeypatch):
    """Validation predicts with the model's own kernel, and its score is
    predict's; the pre-activations are predicted again (with the identity
    output's kernel, compiled once more) only where a prediction of a
    positive target underflowed."""
    codes_run = []
    real = predict_module.InferencePlan.run

    def recording(self, *args, **kwargs):
        codes_run.append(self.spec.out_code)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(predict_module.InferencePlan, "run", recording)
    rng = np.random.RandomState(1)  # the data of the float64 case above
    X = rng.randn(40, 1)
    y = rng.poisson(2.0, 40).astype(np.float64)
    est = _fit_one_epoch(X, y, 1)
    assert codes_run and set(codes_run) == {codes.OUT_EXP}
    val = _validation_rows(est, X)
    np.testing.assert_allclose(est.validation_scores_[0], est.score(X[val], y[val]),
                               rtol=1e-12)
    X[val[:2]] = -3e4
    codes_run.clear()
    est = _fit_one_epoch(X, y, 1)
    assert codes.OUT_IDENTITY in codes_run
    assert np.isfinite(est.history_["val_loss"]).all()


def test_fits_rows_counts_an_underflowed_prediction_as_fitting():
    """``fits_rows`` tells weights that diverged from rows out of range by
    the same loss: rows whose float32 ``exp(t)`` underflowed fit (finite
    outputs and deviance), as the training kernel found them."""
    from fastbp.training.backend import get_backend
    from fastbp.training.data import KernelInput
    from fastbp.training.spec import build_spec

    rng = np.random.RandomState(0)
    X = (rng.randn(25, 1) * 5 - 400).astype(np.float32)
    y = rng.poisson(2.0, 25).astype(np.float32)
    est = MLPRegressor(hidden_layer_sizes=(4,), loss="poisson", max_iter=1, random_state=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    assert (np.exp(_pre_activations(est, X).astype(np.float32)) == 0).any()
    spec = build_spec((1, 4, 1), [codes.HIDDEN_ACTIVATIONS["relu"]], codes.NORM_NONE, [False],
                      [0.0], codes.OUT_EXP)
    params = spec.layout.pack(est.coefs_, est.intercepts_, np.float32)
    running = np.empty(spec.layout.n_running, np.float32)
    rows = np.arange(len(X))
    assert predict_module.fits_rows(get_backend("cpu"), spec, params, running,
                                    KernelInput(X, np.float32), y[:, None], None, rows)
    # Not every row fits whatever the weights: a NaN weight does not.
    params[0] = np.nan
    assert not predict_module.fits_rows(get_backend("cpu"), spec, params, running,
                                        KernelInput(X, np.float32), y[:, None], None, rows)
