"""fix-250: fastbp.save and fastbp.load, after a review of saving and
loading (rev-248).

A file whose model lacks a constructor parameter (saved by an older fastbp,
or edited) is refused with a ValueError naming the file, the parameter and
the fastbp that saved it, rather than a bare AttributeError from inside
scikit-learn; names that are no parameters of this fastbp's class load with
a warning; an unknown ``out_activation_`` makes ``predict`` raise the
ValueError that save and load raise, not a KeyError; a model with NaN or
infinite weights is refused by save (and by load); and
``fastbp.read_metadata`` is exported.
"""

import pickle
import re

import numpy as np
import pytest
from sklearn.datasets import load_digits

import fastbp
from fastbp import MLPClassifier, MLPRegressor, persistence

try:
    from .support import quiet
except ImportError:  # run as a plain module
    from support import quiet


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:200] / 16.0, y[:200]


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return quiet(MLPClassifier((6,), max_iter=2, random_state=0).fit, X, y)


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "model.fastbp"
    fastbp.save(fitted, path)
    return path


# (2) An unknown out_activation_ at predict.

@pytest.mark.parametrize("bad", ["bogus", ["softmax"]])
@pytest.mark.parametrize("pickled", [False, True])
def test_predict_refuses_an_unknown_output_function(fitted, data, bad, pickled):
    model = pickle.loads(pickle.dumps(fitted))
    model.out_activation_ = bad
    if pickled:
        model = pickle.loads(pickle.dumps(model))
    expected = re.escape(f"out_activation_ {bad!r} is not one of "
                         "['exp', 'identity', 'logistic', 'softmax']")
    with pytest.raises(ValueError, match=expected):
        model.predict(data[0])
    with pytest.raises(ValueError, match=expected):
        model.predict_proba(data[0])


def test_regressor_predict_refuses_an_unknown_output_function(data):
    X, y = data
    model = quiet(MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit, X, y.astype(float))
    model.out_activation_ = "bogus"
    with pytest.raises(ValueError, match="out_activation_ 'bogus' is not one of"):
        model.predict(X)


# (3) NaN or infinite weights.

@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("name", ["coefs_", "intercepts_"])
def test_save_refuses_non_finite_weights(fitted, tmp_path, name, value):
    model = pickle.loads(pickle.dumps(fitted))
    getattr(model, name)[-1].flat[0] = value
    path = tmp_path / "m.fastbp"
    with pytest.raises(ValueError, match=r"cannot save this MLPClassifier.*The model's "
                       rf"parameters hold NaN or infinite values \(in {name}\)"):
        fastbp.save(model, path)
    assert not path.exists()


def test_load_refuses_non_finite_weights(fitted, tmp_path, monkeypatch):
    model = pickle.loads(pickle.dumps(fitted))
    model.coefs_[0][0, 0] = np.nan
    path = tmp_path / "m.fastbp"
    # Such a file, as an earlier fastbp wrote it.
    with monkeypatch.context() as patch:
        patch.setattr(MLPClassifier, "_non_finite_parameters", lambda self: [])
        fastbp.save(model, path)
    with pytest.raises(ValueError, match=re.escape(str(path)) + r".*The model's parameters "
                       r"hold NaN or infinite values \(in coefs_\)"):
        fastbp.load(path)


# (4) read_metadata.

def test_read_metadata_is_exported(saved):
    assert "read_metadata" in fastbp.__all__
    assert fastbp.read_metadata is persistence.read_metadata
    meta = fastbp.read_metadata(saved)
    assert meta["fastbp"] == fastbp.__version__
    assert meta["type"] == "MLPClassifier"
