"""The warnings of a call that a DivergenceError undid reach the user on
every supported Python: as the error's notes from Python 3.11, as warnings
before it, which has no notes (rev-218: on 3.10 the GradientWarning that
explains a divergence was dropped)."""

import builtins
import warnings

import pytest
from sklearn.datasets import make_regression

import fastbp
import fastbp.exceptions
from fastbp import DivergenceError, GradientWarning


def _diverge():
    X, y = make_regression(200, 5, noise=5, random_state=0)
    model = fastbp.MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.5,
                                max_iter=50, random_state=0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with pytest.raises(DivergenceError) as err:
            model.fit(X, y)
    return err.value, [w.category for w in record]


def test_with_notes_the_warnings_are_the_errors_notes():
    exc, categories = _diverge()
    assert exc.last_finite_model is not None
    assert any("GradientWarning" in n for n in getattr(exc, "__notes__", ()))
    assert GradientWarning not in categories


def test_without_notes_the_warnings_are_given(monkeypatch):
    def no_notes(obj, name):
        return False if name == "add_note" else builtins.hasattr(obj, name)

    monkeypatch.setattr(fastbp.exceptions, "hasattr", no_notes, raising=False)
    exc, categories = _diverge()
    assert exc.last_finite_model is not None
    assert GradientWarning in categories
