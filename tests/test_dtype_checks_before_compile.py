"""The hyper-parameter checks against the model's dtype run before a fit
announces or starts a compile, and before it enters the trainer.

Both bounds: ``epsilon`` or ``clip_grad_norm`` below the smallest normal
value of the dtype (which the kernels would read as 0) and ``alpha``
beyond its largest. The compile notice, ``compile_ahead`` and the trainer
are replaced by functions that fail the test if reached, so a refusal
that came after them shows as an ``AssertionError("reached")``, not the
``ValueError`` the caller should get. Refusing a refit or a
``partial_fit`` of a fitted model leaves it as it was. The checks keep
their scope: sgd reads no epsilon and lbfgs no clip, so neither is
refused for them. The trainer takes the step's split (``parts``) from
the estimator, which decides it before those checks' compile, with no
default of its own. The estimators' check that input is finite
(``all_finite``) is the trainer's input module's (``training.data``).
"""

import warnings

import numpy as np
import pytest

from fastbp import MLPClassifier
from fastbp.estimators import base, solvers


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    return X, y


class Reached(AssertionError):
    pass


@pytest.fixture
def trainer_walled_off(monkeypatch):
    """Whatever ``_fit`` calls after its checks raises ``Reached``."""
    def reached(*args, **kwargs):
        raise Reached("reached")

    monkeypatch.setattr(base, "announce_compilation", reached)
    monkeypatch.setattr(base, "compile_ahead", reached)
    monkeypatch.setattr(solvers, "fit_stochastic", reached)
    monkeypatch.setattr(solvers, "fit_lbfgs", reached)


REFUSED = [
    ({"epsilon": 1e-50}, r"epsilon=1e-50 is below the smallest normal float32"),
    ({"clip_grad_norm": 1e-50}, r"clip_grad_norm=1e-50 is below the smallest normal float32"),
    ({"alpha": 1e50}, r"alpha=1e\+50 is beyond the largest float32"),
]


@pytest.mark.parametrize("params, message", REFUSED)
@pytest.mark.parametrize("solver", ["adam", "rmsprop"])
def test_a_first_fit_is_refused_before_any_compile(trainer_walled_off, solver, params,
                                                   message):
    X, y = _data()
    est = MLPClassifier((3,), solver=solver, max_iter=2, random_state=0, verbose=True,
                        **params)
    with pytest.raises(ValueError, match=message):
        est.fit(X, y)
    assert not hasattr(est, "coefs_")
    with pytest.raises(ValueError, match=message):
        MLPClassifier((3,), solver=solver, verbose=True, **params).partial_fit(
            X, y, classes=[0, 1])


@pytest.mark.parametrize("solver, params", [
    ("sgd", {"epsilon": 1e-50}),        # sgd reads no epsilon
    ("lbfgs", {"epsilon": 1e-50}),      # nor does lbfgs
    ("lbfgs", {"clip_grad_norm": 1e-50}),  # which ignores the clip
])
def test_parameters_a_solver_does_not_read_are_not_refused(trainer_walled_off, solver,
                                                           params):
    X, y = _data()
    with pytest.raises(Reached):
        MLPClassifier((3,), solver=solver, max_iter=2, random_state=0, verbose=True,
                      **params).fit(X, y)


@pytest.fixture(scope="module")
def fitted():
    X, y = _data()
    est = MLPClassifier((3,), solver="adam", max_iter=2, random_state=0, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    return est


@pytest.mark.parametrize("params, message", REFUSED)
@pytest.mark.parametrize("how", ["fit", "warm fit", "partial_fit"])
def test_refusing_a_fitted_model_leaves_it_unchanged(fitted, trainer_walled_off, how,
                                                     params, message):
    X, y = _data()
    est = fitted
    coefs = [c.copy() for c in est.coefs_]
    intercepts = [b.copy() for b in est.intercepts_]
    n_iter, loss_curve = est.n_iter_, list(est.loss_curve_)
    original = est.get_params()
    try:
        est.set_params(verbose=True, warm_start=(how == "warm fit"), **params)
        with pytest.raises(ValueError, match=message):
            if how == "partial_fit":
                est.partial_fit(X, y)
            else:
                est.fit(X, y)
    finally:
        est.set_params(**original)
    assert est.n_iter_ == n_iter
    assert est.loss_curve_ == loss_curve
    for before, after in zip(coefs, est.coefs_):
        np.testing.assert_array_equal(before, after)
    for before, after in zip(intercepts, est.intercepts_):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("func", [
    pytest.param("fastbp.training.stochastic:fit_stochastic", id="fit_stochastic"),
    pytest.param("fastbp.estimators.solvers:SolverFitMixin._fit_stochastic",
                 id="_fit_stochastic"),
])
def test_the_split_is_the_callers_to_decide(func):
    # The step's split is decided once, where the kernel compiled ahead is
    # chosen (BaseMLP._fit): a trainer that decided it again by default
    # could run another kernel than the one compiled (helper-169).
    import importlib
    import inspect

    module, name = func.split(":")
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    assert inspect.signature(obj).parameters["parts"].default is inspect.Parameter.empty


def test_input_validations_finiteness_check_lives_with_the_input_arrays():
    # The estimators validate their input with it: it belongs to the
    # trainer's input module, not to the epoch loop.
    from fastbp.estimators import classifier, network
    from fastbp.training import data, stochastic

    for module in (base, network, classifier, solvers):
        assert module.all_finite is data.all_finite, module
    assert not hasattr(stochastic, "all_finite")
    big = np.full(4, np.finfo(np.float32).max, dtype=np.float32)  # a sum that overflows
    assert data.all_finite(big, np.empty(0))
    assert not data.all_finite(big, np.array([0.0, np.inf]))
    assert not data.all_finite(np.array([np.nan], dtype=np.float32))
