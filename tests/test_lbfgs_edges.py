"""L-BFGS at its edges: Ctrl-C before the first iteration ended, line
searches that fail on inf or NaN losses, the limit of loss evaluations on
the command line, and a compile cut short while its kernel is saved
(helper-150's review of the L-BFGS path)."""

import importlib.util
import os
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning

from fastbp import CacheWarning, DivergenceError, MLPClassifier
from fastbp.training import lbfgs

try:
    from .support import quiet
except ImportError:  # run as a plain module
    from support import quiet


@pytest.fixture(scope="module")
def digits_data():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def _evaluations_replaced(monkeypatch, replace):
    """Route every L-BFGS loss evaluation through ``replace(n, f, params)``,
    ``n`` counting them from 1 within each fit and ``f`` the real one."""
    real = lbfgs.loss_and_gradient_function

    def wrapped(*args, **kwargs):
        f, calls = real(*args, **kwargs), []

        def g(params):
            calls.append(1)
            return replace(len(calls), f, params)
        return g
    monkeypatch.setattr(lbfgs, "loss_and_gradient_function", wrapped)


def _ctrl_c_at(n):
    """A ``replace`` that presses Ctrl-C in the ``n``-th evaluation: where a
    real SIGINT surfaces, in the evaluation's Python code."""
    def replace(call, f, params):
        if call == n:
            raise KeyboardInterrupt
        return f(params)
    return replace


def test_ctrl_c_in_the_first_line_search_undoes_a_fresh_fit(digits_data, monkeypatch):
    # helper-150: Ctrl-C after the start's evaluation, before the first
    # iteration ended, returned the untrained start as a fitted model
    # ("interrupted ... after 0 L-BFGS iteration(s)"). The 2nd evaluation
    # is the first line search's: no iteration has ended.
    X, y = digits_data
    rng = np.random.RandomState(0)
    state = rng.get_state()
    model = MLPClassifier((8,), solver="lbfgs", max_iter=50, random_state=rng)
    _evaluations_replaced(monkeypatch, _ctrl_c_at(2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(KeyboardInterrupt):
            model.fit(X, y)
    assert not [w for w in caught if "interrupted" in str(w.message)]
    assert not hasattr(model, "coefs_") and not hasattr(model, "n_iter_")
    # Undone as a whole, the draws of the initial weights included.
    after = rng.get_state()
    assert all(np.array_equal(a, b) for a, b in zip(state, after))


def test_ctrl_c_in_the_first_line_search_keeps_a_warm_model(digits_data, monkeypatch):
    # helper-150: a warm fit interrupted there overwrote n_iter_ (50 -> 0)
    # and history_ (50 iterations -> 1 entry) with nothing trained.
    X, y = digits_data
    model = quiet(MLPClassifier((8,), solver="lbfgs", max_iter=5, random_state=0,
                                warm_start=True).fit, X, y)
    n_iter, loss = model.n_iter_, model.loss_
    history = {k: v.copy() for k, v in model.history_.items()}
    coefs = [c.copy() for c in model.coefs_]
    _evaluations_replaced(monkeypatch, _ctrl_c_at(2))
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    assert model.n_iter_ == n_iter and model.loss_ == loss
    np.testing.assert_array_equal(model.history_["loss"], history["loss"])
    np.testing.assert_array_equal(model.history_["epoch_time"], history["epoch_time"])
    for a, b in zip(coefs, model.coefs_):
        np.testing.assert_array_equal(a, b)


def _write_csv(path, n=60):
    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal(n), rng.standard_normal(n)
    with open(path, "w") as fh:
        fh.write("x1,x2,label\n")
        for a, b in zip(x1, x2):
            fh.write(f"{a},{b},{'yes' if a + 0.5 * b > 0 else 'no'}\n")


def test_ctrl_c_in_the_first_lbfgs_iteration_on_the_command_line(tmp_path, capsys,
                                                                  monkeypatch):
    # helper-150: "model saved to m.fastbp ... training interrupted after 0
    # of 50 iterations: the model saved is partly trained", with an
    # untrained model saved. As within a stochastic fit's first epoch:
    # nothing saved, "fastbp: interrupted", exit status 130.
    from fastbp.cli import run

    train_csv, model = tmp_path / "train.csv", tmp_path / "m.fastbp"
    _write_csv(train_csv)
    _evaluations_replaced(monkeypatch, _ctrl_c_at(2))
    assert run(["train", "--data", str(train_csv), "--target", "label", "--epochs", "50",
                "--solver", "lbfgs", "--model-out", str(model)]) == 130
    out, err = capsys.readouterr()
    assert err.endswith("fastbp: interrupted\n"), err
    assert "partly trained" not in err and "model saved" not in out
    assert not model.exists()


def test_overflowing_trial_steps_from_a_finite_start_are_not_blamed_on_it():
    # helper-150: with tiny sample weights and alpha=0.1 the loss at the
    # starting weights is 3.3e197, finite; 40 trial steps overflowed, and
    # the error said "the loss is nan at the starting weights" (scipy's
    # fun after a failed line search is the last trial's).
    X, y = make_classification(200, 8, n_informative=5, n_classes=3, random_state=0)
    sw = (np.random.RandomState(0).rand(200) + 0.5) * 1e-200
    model = MLPClassifier((10,), solver="lbfgs", alpha=0.1, random_state=0)
    with pytest.raises(DivergenceError) as caught:
        model.fit(X, y, sample_weight=sw)
    message = str(caught.value)
    assert "at the starting weights, so L-BFGS cannot take a step" not in message
    assert "overflowed to inf or NaN at" in message
    assert "trial step(s) from the starting weights (loss 3.32196e+197)" in message
    assert not hasattr(model, "coefs_")


def _overflow_after(n, value):
    """A ``replace`` whose losses are ``value`` (inf or NaN) from the
    ``n``-th evaluation on: every line search after some iterations
    overflows."""
    def replace(call, f, params):
        loss, grad = f(params)
        return (value if call >= n else loss), grad
    return replace


@pytest.mark.parametrize("value", [np.inf, np.nan])
def test_overflow_after_progress_keeps_the_last_finite_iterate(digits_data, monkeypatch,
                                                               value):
    # helper-150 (latent): after iterations that made progress, a line
    # search on overflowing trial steps ended in scipy's fun of inf or NaN,
    # and the fit was refused as "the loss is nan at the starting weights",
    # the trained model thrown away. scipy 1.17 even takes such a trial step
    # for its next iterate (then "converges", or runs on to max_iter on
    # NaN): the fit keeps the last finite iterate, with the warning the
    # README promises where an iteration made progress.
    X, y = digits_data
    _evaluations_replaced(monkeypatch, _overflow_after(8, value))
    model = MLPClassifier((8,), solver="lbfgs", max_iter=50, random_state=0)
    with pytest.warns(ConvergenceWarning, match="because the loss overflowed"):
        model.fit(X, y)
    assert 1 <= model.n_iter_ < 8 and np.isfinite(model.loss_)
    assert len(model.history_["loss"]) == len(model.history_["epoch_time"]) == model.n_iter_
    assert np.isfinite(model.history_["loss"]).all()
    # The loss of the model kept, not an overflowed step's.
    assert model.loss_ == model.history_["loss"][-1] < model.history_["loss"][0]
    assert all(np.isfinite(c).all() for c in model.coefs_)


def test_loss_after_a_failed_line_search_is_the_returned_models(monkeypatch):
    # helper-150: after an ABNORMAL (status 2) stop loss_ was the rejected
    # trial step's (1.8324293344 for 1.8324287309 at the returned weights;
    # 1.44e38 for 1.29e27 with a poisson regressor).
    evaluated = []

    def record(call, f, params):
        loss, grad = f(params)
        evaluated.append((float(loss), params.copy()))
        return loss, grad

    _evaluations_replaced(monkeypatch, record)
    X, y = make_classification(300, 10, random_state=0)
    model = MLPClassifier((20,), solver="lbfgs", max_iter=2000, random_state=2)
    with pytest.warns(ConvergenceWarning) as caught:
        model.fit(X * 1000, y)
    assert any("ABNORMAL" in str(w.message) for w in caught)
    assert model.loss_ == model.history_["loss"][-1]
    # The last evaluation, the failed trial step, had another loss.
    assert evaluated[-1][0] != model.loss_
    flat = np.concatenate([c.ravel() for c in model.coefs_]
                          + [b.ravel() for b in model.intercepts_])
    at_model = [loss for loss, p in evaluated if np.array_equal(np.sort(p), np.sort(flat))]
    assert at_model and at_model[-1] == model.loss_


def test_max_fun_stop_on_the_command_line_names_its_option(tmp_path, capsys):
    # helper-150: the note was scipy's "TOTAL NO. OF F,G EVALUATIONS EXCEEDS
    # LIMIT" with scikit-learn's advice to scale the data (standardised
    # by the command line already), and no word of --set max_fun.
    from fastbp.cli import main

    train_csv = tmp_path / "train.csv"
    _write_csv(train_csv)
    assert main(["train", "--data", str(train_csv), "--target", "label", "--epochs", "50",
                 "--quiet", "--solver", "lbfgs", "--set", "max_fun=8"]) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert notes == ["note: L-BFGS stopped at its limit of loss evaluations (--set "
                     "max_fun=8) before converging; pass --set max_fun=N with a larger N to "
                     "train longer"], err
    assert "scale the data" not in err


def test_a_save_without_object_code_is_no_damaged_cache_entry(tmp_path, monkeypatch):
    # helper-150: Ctrl-C while LLVM hands a compile's object code to Numba
    # (a ctypes callback, which drops the KeyboardInterrupt) leaves none to
    # save: Numba's RuntimeError "no compiled object yet" was taken for a
    # damaged index, whose files were deleted, with a false CacheWarning.
    from numba import njit
    from numba.core import codegen, config

    from fastbp._cache import counts, dispatchers, index

    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "interrupted_kernel.py"
    source.write_text("def twice(x):\n    return 2 * x\n")
    spec = importlib.util.spec_from_file_location("interrupted_kernel", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dispatcher = dispatchers.enable_cache(njit(module.twice))
    assert isinstance(dispatcher._cache, index.RepairingCache)
    assert dispatcher(1) == 2  # a whole entry, saved

    def saved():
        return sorted(os.path.relpath(os.path.join(d, f), tmp_path / "cache")
                      for d, _, files in os.walk(tmp_path / "cache") for f in files
                      if f.endswith((".nbi", ".nbc")))

    before = saved()
    assert any(f.endswith(".nbc") for f in before)

    def no_object(self):
        raise RuntimeError(f"no compiled object yet for {self}")

    monkeypatch.setattr(codegen.CodeLibrary, "_get_compiled_object", no_object)
    unsaved = counts.n_unsaved()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert dispatcher(1.5) == 3.0  # compiled, in memory
    assert [str(w.message) for w in caught if issubclass(w.category, CacheWarning)] == []
    assert saved() == before
    assert counts.n_unsaved() == unsaved + 1
