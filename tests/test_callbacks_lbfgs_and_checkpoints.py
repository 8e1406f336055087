"""Findings of a PyTorch-user workflow review (fix-185): L-BFGS's callback
tasks, and checkpoints saved from a callback."""

import warnings


import numpy as np
import pytest
from sklearn.datasets import load_digits

from fastbp import MLPClassifier


try:
    from .support import quiet
except ImportError:  # run as a plain module
    from support import quiet


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


class Hooks:
    """Records each iteration task's begin and end, with the end's
    ``fitted_estimator``; asks to stop once it has ``stop_at`` iterations."""

    def __init__(self, stop_at=None):
        self.stop_at, self.begins, self.ends = stop_at, [], []

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        if context.task_name != "fit":
            self.begins.append(context.task_id)

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name == "fit":
            return False
        self.ends.append((context.task_id, fitted_estimator))
        # Reads the snapshot, as a checkpoint or early-stopping callback
        # does: an end without one fails the fit.
        return self.stop_at is not None and fitted_estimator.n_iter_ >= self.stop_at


def _check_ends(hooks, model):
    assert [task_id for task_id, _ in hooks.ends] == list(range(model.n_iter_))
    assert hooks.begins == list(range(model.n_iter_))
    assert [fitted.n_iter_ for _, fitted in hooks.ends] == list(range(1, model.n_iter_ + 1))


def test_a_callback_stopping_lbfgs_gets_no_extra_end(digits):
    X, y = digits
    hooks = Hooks(stop_at=3)
    model = quiet(MLPClassifier((32,), random_state=0, max_iter=50, solver="lbfgs")
                  .set_callbacks(hooks).fit, X, y)
    assert model.n_iter_ == 3
    _check_ends(hooks, model)


def test_lbfgs_stopped_by_max_iter_ends_one_task_per_iteration(digits):
    X, y = digits
    hooks = Hooks()
    model = quiet(MLPClassifier((32,), random_state=0, max_iter=4, solver="lbfgs")
                  .set_callbacks(hooks).fit, X, y)
    assert model.n_iter_ == 4
    _check_ends(hooks, model)
    np.testing.assert_array_equal(hooks.ends[-1][1].predict(X), model.predict(X))


def test_lbfgs_converged_at_the_start_begins_no_task(digits):
    X, y = digits
    hooks = Hooks()
    model = quiet(MLPClassifier((8,), random_state=0, max_iter=50, solver="lbfgs", tol=1.0)
                  .set_callbacks(hooks).fit, X[:50], y[:50])
    assert model.n_iter_ == 0
    assert hooks.ends == [] and hooks.begins == []


def test_lbfgs_converged_ends_one_task_per_iteration(digits):
    X, y = digits
    hooks = Hooks()
    model = quiet(MLPClassifier((8,), random_state=0, max_iter=500, solver="lbfgs",
                                tol=1e-3).set_callbacks(hooks).fit, X[:100], y[:100])
    assert 0 < model.n_iter_ < 500
    _check_ends(hooks, model)


class Checkpoint(Hooks):
    """Saves each epoch's ``fitted_estimator`` with ``fastbp.save``, and the
    live model at the fit's end (its root hook: mid-fit, ``save`` refuses
    it, fix-186) where ``live``; with ``other`` (an estimator with
    callbacks of its own), saves that as well."""

    def __init__(self, directory, live=False, other=None):
        super().__init__()
        self.directory, self.live, self.other = directory, live, other

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        import fastbp

        if context.task_name != "fit":
            fastbp.save(fitted_estimator, self.directory / f"epoch{context.task_id}.fastbp")
            if self.other is not None:
                fastbp.save(self.other, self.directory / "other.fastbp")
        elif self.live:
            fastbp.save(estimator, self.directory / "live.fastbp")
        return False


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_checkpoint_saved_from_a_hook_does_not_warn(digits, solver, tmp_path):
    import fastbp

    X, y = digits
    checkpoint = Checkpoint(tmp_path, live=True)
    model = MLPClassifier((8,), solver=solver, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=Warning, message=".*(converge|Maximum)")
        warnings.filterwarnings("error", message="fastbp.save does not save callbacks")
        model.set_callbacks(checkpoint).fit(X, y)
    saved = sorted(path.name for path in tmp_path.iterdir())
    assert saved == [f"epoch{i}.fastbp" for i in range(model.n_iter_)] + ["live.fastbp"]
    loaded = fastbp.load(tmp_path / f"epoch{model.n_iter_ - 1}.fastbp")
    assert not hasattr(loaded, "_skl_callbacks")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    # Outside the fit's hooks, the model with its callbacks still warns.
    with pytest.warns(UserWarning, match="does not save callbacks .*Checkpoint"):
        fastbp.save(model, tmp_path / "after.fastbp")


def test_a_model_with_other_callbacks_saved_from_a_hook_still_warns(digits, tmp_path):
    X, y = digits
    other = quiet(MLPClassifier((8,), max_iter=1, random_state=0).set_callbacks(Hooks()).fit,
                  X, y)
    checkpoint = Checkpoint(tmp_path, other=other)
    with pytest.warns(UserWarning, match="does not save callbacks .*Hooks"):
        MLPClassifier((8,), max_iter=1, random_state=0).set_callbacks(checkpoint).fit(X, y)
