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


# --- bool options take True or False only -------------------------------------

_NOT_BOOLS = ["false", "no", 0, 1, None]


@pytest.mark.parametrize("value", _NOT_BOOLS)
def test_tensorboard_per_fit_subdir_refuses_what_is_not_a_bool(value, tmp_path):
    with pytest.raises(TypeError, match=r"TensorBoardCallback: per_fit_subdir must be True "
                                        r"or False, got " + repr(value)):
        fastbp.TensorBoardCallback(tmp_path, per_fit_subdir=value)


@pytest.mark.parametrize("value, expected", [(np.False_, False), (np.True_, True),
                                             (False, False)])
def test_tensorboard_per_fit_subdir_takes_numpy_bools(value, expected, tmp_path):
    callback = fastbp.TensorBoardCallback(tmp_path, per_fit_subdir=value)
    assert callback.per_fit_subdir is expected


@pytest.mark.parametrize("value", _NOT_BOOLS)
def test_load_digits_scale_refuses_what_is_not_a_bool(value):
    # As scikit-learn's load_digits(return_X_y="no") does.
    with pytest.raises(InvalidParameterError,
                       match=r"load_digits: scale must be True or False, got " + repr(value)):
        fastbp.datasets.load_digits(scale=value)


def test_load_digits_scale_takes_numpy_bools():
    assert fastbp.datasets.load_digits(scale=np.True_)[0].max() == 1.0
    assert fastbp.datasets.load_digits(scale=np.False_)[0].max() == 16.0


@pytest.mark.parametrize("name", ["verify", "cache"])
@pytest.mark.parametrize("value", _NOT_BOOLS)
def test_load_mnist_flags_refuse_what_is_not_a_bool(name, value, tmp_path):
    # Refused before the files are looked for: tmp_path holds none.
    with pytest.raises(InvalidParameterError,
                       match=rf"load_mnist: {name} must be True or False, got " + repr(value)):
        fastbp.datasets.load_mnist(tmp_path, **{name: value})


def test_load_mnist_flags_take_numpy_bools(tmp_path):
    # Past the checks: what fails is the missing files.
    with pytest.raises(fastbp.datasets.DatasetNotFoundError):
        fastbp.datasets.load_mnist(tmp_path, verify=np.False_, cache=np.True_)


# --- the data sets' argument errors are scikit-learn's -------------------------

@pytest.mark.parametrize("function", ["load_digits", "load_mnist", "make_tabular"])
@pytest.mark.parametrize("dtype", ["flot32", 5])
def test_a_dtype_numpy_does_not_understand_is_named(function, dtype, tmp_path):
    args = (tmp_path,) if function == "load_mnist" else ()
    with pytest.raises(InvalidParameterError,
                       match=r"dtype must be a floating-point type .*, got " + repr(dtype)):
        getattr(fastbp.datasets, function)(*args, dtype=dtype)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_samples="100"), "n_samples must be an integer, got '100'"),
    (dict(n_samples=0), "n_samples must be at least 1, got 0"),
    (dict(n_classes=1), "n_classes must be at least 2, got 1"),
    (dict(random_state=-1), "random_state must be None"),
    (dict(n_features=5, n_informative=6), "n_informative must be in 1..n_features=5"),
    (dict(dtype=np.int64), "dtype must be a floating-point type"),
])
def test_make_tabular_raises_invalid_parameter_error_as_make_classification(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match) as info:
        fastbp.datasets.make_tabular(**kwargs)
    # Caught as either, as scikit-learn's own are.
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


def test_load_digits_refuses_an_integer_dtype_as_invalid_parameter():
    with pytest.raises(InvalidParameterError, match=r"got dtype\('int32'\)"):
        fastbp.datasets.load_digits(np.int32)


# --- TensorBoardCallback needs scikit-learn's callback API ---------------------

def test_tensorboard_callback_without_the_callback_api_says_what_it_needs(monkeypatch,
                                                                           tmp_path):
    from fastbp.estimators import callbacks

    monkeypatch.setattr(callbacks, "HAVE_CALLBACKS", False)
    with pytest.raises(ImportError, match=r"scikit-learn >= 1\.9") as info:
        fastbp.TensorBoardCallback(tmp_path)
    assert f"scikit-learn {sklearn.__version__} is installed" in str(info.value)


def test_tensorboard_callback_with_the_callback_api_is_made(tmp_path):
    from fastbp.estimators import callbacks

    if not callbacks.HAVE_CALLBACKS:
        pytest.skip("this scikit-learn has no callback API")
    callback = fastbp.TensorBoardCallback(tmp_path)
    assert callback.log_dir == str(tmp_path) and callback.per_fit_subdir is True
    assert fastbp.MLPClassifier().set_callbacks(callback) is not None
