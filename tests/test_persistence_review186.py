"""fix-186: fastbp.save and fastbp.load, after a review of persistence.

A model saved from an epoch hook while it is being fitted is refused; a file
whose skops content is damaged, with its checksum recomputed, is refused
with a ValueError naming the path; models that predict correctly in memory
(memmapped, mixed dtypes, big-endian, tuples) are saved; and load imports no
scikit-learn module that a refused file names.
"""

import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastbp
from fastbp import MLPClassifier, MLPRegressor

try:
    from .support import quiet
except ImportError:  # run as a plain module
    from support import quiet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


class Hook:
    """A callback calling ``on_epoch(estimator, fitted_estimator, context)``
    at each epoch's end and ``on_root`` at the fit's."""

    def __init__(self, on_epoch=None, on_root=None):
        self.on_epoch, self.on_root = on_epoch, on_root

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name in ("epoch", "lbfgs-iter") and self.on_epoch is not None:
            self.on_epoch(estimator, fitted_estimator, context)
        if context.task_name == "fit" and self.on_root is not None:
            self.on_root(estimator, fitted_estimator, context)
        return False


# ------------------------------------------------- 1: saving mid-fit


@pytest.mark.parametrize("solver, refit", [("adam", False), ("adam", True),
                                           ("lbfgs", False)])
def test_saving_the_estimator_being_fitted_is_refused(data, tmp_path, solver, refit):
    X, y = data
    model = MLPClassifier((6,), solver=solver, max_iter=3, random_state=0)
    if refit:
        quiet(model.fit, X, y)
    errors = []

    def on_epoch(estimator, fitted, context):
        with pytest.raises(ValueError) as info:
            fastbp.save(estimator, tmp_path / "mid.fastbp")
        errors.append(str(info.value))

    quiet(model.set_callbacks(Hook(on_epoch)).fit, X, y)
    assert len(errors) >= model.n_iter_ == 3
    assert errors[0].startswith("MLPClassifier is being fitted: save the fitted_estimator")
    assert not os.path.exists(tmp_path / "mid.fastbp")
    # Once fit has returned, the model saves.
    fastbp.save(model.set_callbacks(), tmp_path / "after.fastbp")
    assert fastbp.load(tmp_path / "after.fastbp").n_iter_ == 3


def test_saving_a_pipeline_whose_model_is_being_fitted_is_refused(data, tmp_path):
    X, y = data
    model = MLPClassifier((6,), max_iter=2, random_state=0)
    pipe = make_pipeline(StandardScaler(), model)
    errors = []

    def on_epoch(estimator, fitted, context):
        with pytest.raises(ValueError) as info:
            fastbp.save(pipe, tmp_path / "mid.fastbp")
        errors.append(str(info.value))

    model.set_callbacks(Hook(on_epoch))
    quiet(pipe.fit, X, y)
    assert errors and "MLPClassifier (in this Pipeline) is being fitted" in errors[0]


def test_the_hooks_snapshot_saves_with_that_epochs_model(data, tmp_path):
    X, y = data
    model = MLPClassifier((6,), max_iter=3, random_state=0)
    saved = []

    def on_epoch(estimator, fitted, context):
        path = tmp_path / f"epoch{len(saved)}.fastbp"
        fastbp.save(fitted, path)
        saved.append((path, fitted.n_iter_, [c.copy() for c in fitted.coefs_]))

    def on_root(estimator, fitted, context):
        # The root hook runs once the model is set: the estimator saves.
        fastbp.save(estimator, tmp_path / "root.fastbp")

    quiet(model.set_callbacks(Hook(on_epoch, on_root)).fit, X, y)
    assert [n for _, n, _ in saved] == list(range(1, len(saved) + 1)) and saved
    for path, n_iter, coefs in saved:
        loaded = fastbp.load(path)
        assert loaded.n_iter_ == n_iter
        for a, b in zip(loaded.coefs_, coefs):
            np.testing.assert_array_equal(a, b)
    root = fastbp.load(tmp_path / "root.fastbp")
    assert root.n_iter_ == model.n_iter_
    np.testing.assert_array_equal(root.predict_proba(X), model.predict_proba(X))


def test_a_failed_fit_leaves_no_mark(data, tmp_path):
    X, y = data
    model = quiet(MLPClassifier((6,), max_iter=2, random_state=0).fit, X, y)

    def fail(estimator, fitted, context):
        raise RuntimeError("hook failed")

    with pytest.raises(RuntimeError, match="hook failed"):
        quiet(model.set_callbacks(Hook(fail)).fit, X, y)
    # Rolled back, and no longer being fitted: it saves.
    fastbp.save(model.set_callbacks(), tmp_path / "m.fastbp")
    assert fastbp.load(tmp_path / "m.fastbp").n_iter_ == 2
