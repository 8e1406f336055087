"""fix-192: fastbp.load, the "being fitted" mark, and save's callbacks
warning, after a review of persistence and callbacks.

A MemoryError while rebuilding an intact file's model is said as such, not
as damage; a fit nested in a hook leaves the outer call's mark; and a save
from a callback's ``setup`` or ``teardown`` does not warn that the
callbacks are left out.
"""

import copy
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

import fastbp
from fastbp import MLPClassifier
from fastbp.estimators.fit_calls import is_being_fitted


try:
    from .support import quiet
except ImportError:  # run as a plain module
    from support import quiet


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:200] / 16.0, y[:200]


class Hook:
    """A callback calling ``on_epoch(estimator, context)`` at each epoch's
    end, ``on_setup`` and ``on_teardown(estimator)``."""

    def __init__(self, on_epoch=None, on_setup=None, on_teardown=None):
        self.on_epoch, self.on_setup, self.on_teardown = on_epoch, on_setup, on_teardown

    def setup(self, estimator, context):
        if self.on_setup is not None:
            self.on_setup(estimator)

    def teardown(self, estimator, context):
        if self.on_teardown is not None:
            self.on_teardown(estimator)

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name == "epoch" and self.on_epoch is not None:
            self.on_epoch(estimator, context)
        return False


# ------------------------------------------- 1: MemoryError is no damage


def test_a_memory_error_while_loading_is_not_called_damage(data, tmp_path, monkeypatch):
    import skops.io

    X, y = data
    model = quiet(MLPClassifier((5,), max_iter=2, random_state=0).fit, X, y)
    path = tmp_path / "m.skops"
    fastbp.save(model, path)

    def short_of_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 3.2 GiB for an array")

    monkeypatch.setattr(skops.io, "loads", short_of_memory)
    with pytest.raises(MemoryError) as info:
        fastbp.load(path)
    message = str(info.value)
    assert "damaged" not in message
    assert str(path) in message and "Unable to allocate 3.2 GiB" in message
    # Nor RecursionError: raised as it is.
    monkeypatch.setattr(skops.io, "loads",
                        lambda *a, **k: (_ for _ in ()).throw(RecursionError("deep")))
    with pytest.raises(RecursionError, match="^deep$"):
        fastbp.load(path)
    # Other rebuild failures are still damage.
    monkeypatch.setattr(skops.io, "loads",
                        lambda *a, **k: (_ for _ in ()).throw(KeyError("coefs_")))
    with pytest.raises(ValueError, match="is damaged: its model cannot be rebuilt"):
        fastbp.load(path)
    monkeypatch.undo()
    np.testing.assert_array_equal(fastbp.load(path).predict(X), model.predict(X))


# ------------------------------------------------ 2: the "being fitted" mark


def test_a_fit_nested_in_a_hook_leaves_the_outer_call_marked(data, tmp_path):
    X, y = data
    model = MLPClassifier((5,), max_iter=3, random_state=0)
    seen, nested = [], []

    def on_epoch(estimator, context):
        if context.task_id == 0 and not nested:
            nested.append(True)
            # A nested call on the same estimator is refused (fix-280).
            with pytest.raises(RuntimeError, match="nested in it"):
                estimator.partial_fit(X, y)
            assert is_being_fitted(estimator)
        elif context.task_id == 1:
            seen.append(is_being_fitted(estimator))
            with pytest.raises(ValueError, match="is being fitted"):
                fastbp.save(estimator, tmp_path / "mid.fastbp")

    model.set_callbacks(Hook(on_epoch=on_epoch))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    assert seen == [True]
    assert not (tmp_path / "mid.fastbp").exists()
    assert not is_being_fitted(model)


@pytest.mark.parametrize("nested", [False, True])
def test_a_fit_that_raises_in_a_hook_leaves_no_mark(data, nested):
    X, y = data
    model = MLPClassifier((5,), max_iter=3, random_state=0)

    def on_epoch(estimator, context):
        if nested:
            # A nested fit of the same estimator that raises in its own hook.
            estimator.set_callbacks(Hook(on_epoch=fail))
            estimator.partial_fit(X, y)
        fail(estimator, context)

    def fail(estimator, context):
        assert is_being_fitted(estimator)
        raise RuntimeError("hook failed")

    model.set_callbacks(Hook(on_epoch=on_epoch))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # (fix-280: the nested call is refused, which fails the outer one.)
        with pytest.raises(RuntimeError, match="nested in it" if nested else "hook failed"):
            model.fit(X, y)
    assert not is_being_fitted(model)
    # Nothing left behind blocks a later save.
    quiet(model.set_callbacks().fit, X, y)
    assert not is_being_fitted(model)


# ---------------------------------------- 3: save from setup and teardown


@pytest.mark.parametrize("where", ["setup", "teardown"])
def test_a_save_in_setup_or_teardown_does_not_warn_of_the_callbacks(data, tmp_path, where):
    X, y = data
    model = MLPClassifier((5,), max_iter=2, random_state=0)
    quiet(model.fit, X, y)
    caught = []

    def save(estimator):
        if where == "setup":
            # The live model is being fitted there (save refuses it): a
            # copy, holding the same callbacks, of the model fitted before.
            estimator = copy.copy(estimator)
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            fastbp.save(estimator, tmp_path / "m.fastbp")
        caught.extend(str(w.message) for w in record)

    model.set_callbacks(Hook(**{f"on_{where}": save}))
    quiet(model.fit, X, y)
    assert (tmp_path / "m.fastbp").exists()
    assert not [m for m in caught if "does not save callbacks" in m]
    if where == "teardown":
        np.testing.assert_array_equal(fastbp.load(tmp_path / "m.fastbp").predict(X),
                                      model.predict(X))
    # Once the fit is over, the warning is given again.
    with pytest.warns(UserWarning, match="does not save callbacks"):
        fastbp.save(model, tmp_path / "after.fastbp")
