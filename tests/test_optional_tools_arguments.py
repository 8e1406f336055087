"""The arguments of the optional tools (the Dask warm-up plugin and the Ray
warm-up hook, the TensorBoard callback, the data sets) are checked when
they are given, with errors that name them: the plugin and the hook refuse
what :func:`fastbp.warmup` refuses, in the client; the bool options refuse
anything but True and False (NumPy's included); the data sets' argument
errors are scikit-learn's ``InvalidParameterError``; and the TensorBoard
callback says, when made, that it needs scikit-learn's callback API."""

import numpy as np
import pytest
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

import fastbp
from fastbp import search

# --- the warm-up plugin and the Ray hook refuse what warmup refuses ----------

_REFUSED = [
    pytest.param(([fastbp.MLPClassifier()],), {"dtypes": "float64"}, TypeError,
                 "warmup takes estimators, got list", id="list"),
    pytest.param((LogisticRegression(),), {}, ValueError, "no fastbp estimator",
                 id="other-library"),
    pytest.param((fastbp.MLPClassifier(solver="nope"),), {}, InvalidParameterError,
                 "'solver' parameter", id="invalid-parameter"),
    pytest.param((fastbp.MLPClassifier,), {}, TypeError, "got the class", id="class"),
]


@pytest.mark.parametrize("args, kwargs, error, match", _REFUSED)
def test_the_warmup_plugin_refuses_what_warmup_refuses(args, kwargs, error, match):
    # The constructor is the base class's (the Dask subclass adds nothing);
    # fastbp.warmup is called with the same arguments for the same error.
    with pytest.raises(error, match=match) as from_warmup:
        fastbp.warmup(*args, **kwargs)
    with pytest.raises(error, match=match) as from_plugin:
        search._WarmupPluginBase(*args, **kwargs)
    assert type(from_plugin.value) is type(from_warmup.value)
    assert str(from_plugin.value) == str(from_warmup.value)


@pytest.mark.parametrize("args, kwargs, error, match", _REFUSED)
def test_the_ray_warmup_hook_refuses_what_warmup_refuses(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        search._RayWarmup(args, ("float64",))


def test_the_dask_plugin_class_refuses_a_list_too():
    pytest.importorskip("distributed")
    with pytest.raises(TypeError, match="got list"):
        search.WarmupPlugin([fastbp.MLPClassifier()], dtypes="float64")


def test_the_warmup_plugin_still_takes_estimators_searches_and_none():
    grid = GridSearchCV(fastbp.MLPClassifier(), {"solver": ["adam", "lbfgs"]})
    plugin = search._WarmupPluginBase(fastbp.MLPClassifier(), grid, dtypes="float32")
    assert [type(e).__name__ for e in plugin.estimators] == ["MLPClassifier", "GridSearchCV"]
    assert plugin.estimators[1] is not grid  # an unfitted copy travels
    assert search._WarmupPluginBase().estimators == ()
    assert search._RayWarmup((grid,), ("float64",)).estimators == (grid,)
