"""A checkpoint that a fit's own epoch hook saves does not warn that
callbacks are not saved, whatever the callbacks are (rev-214: since save
works on a snapshot, the copies of a scikit-learn or fastbp callback no
longer matched the running fit's, and every such save warned)."""

import warnings

import numpy as np
from sklearn.callback import ScoringMonitor
from sklearn.datasets import load_digits

import fastbp
from fastbp import MLPClassifier
from fastbp.tensorboard import TensorBoardCallback

try:
    from .support import Hook, quiet
except ImportError:
    from support import Hook, quiet


def _saves_from_the_epoch_hook(tmp_path, other):
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16.0, y[:300]
    caught, saved = [], []

    def on_epoch(estimator, fitted, context):
        path = tmp_path / f"epoch{len(saved)}.fastbp"
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            fastbp.save(fitted, path)
        saved.append(path)
        caught.extend(str(w.message) for w in record)

    model = MLPClassifier((8,), max_iter=3, random_state=0)
    model.set_callbacks(other, Hook(on_epoch=on_epoch))
    quiet(model.fit, X, y)
    return model, X, saved, caught


def test_a_checkpoint_beside_a_scikit_learn_callback_does_not_warn(tmp_path):
    model, X, saved, caught = _saves_from_the_epoch_hook(
        tmp_path, ScoringMonitor(scoring="accuracy"))
    assert len(saved) == 3
    assert not [m for m in caught if "does not save callbacks" in m]
    np.testing.assert_array_equal(fastbp.load(saved[-1]).predict(X), model.predict(X))


def test_a_checkpoint_beside_a_fastbp_callback_does_not_warn(tmp_path):
    _, _, saved, caught = _saves_from_the_epoch_hook(
        tmp_path, TensorBoardCallback(tmp_path / "runs"))
    assert len(saved) == 3
    assert not [m for m in caught if "does not save callbacks" in m]
