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
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

import fastbp
from fastbp import MLPClassifier, MLPRegressor, persistence

try:
    from .support import edited_archive, quiet
except ImportError:  # run as a plain module
    from support import edited_archive, quiet


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


def edited(saved, path, edit_state=None, edit_meta=None):
    """The file ``saved`` with the estimator's state in its skops schema
    edited by ``edit_state(content, key_types)`` (the state's dict of
    nodes, and the list of its keys' type nodes) and its fastbp.json by
    ``edit_meta(meta)`` (:func:`support.edited_archive`: the checksum is
    recomputed, so that only the content is unusual)."""
    def edit_schema(schema):
        if edit_state is not None:
            state = schema["content"]
            edit_state(state["content"], state["key_types"]["content"])

    return edited_archive(saved, path, edit_schema, edit_meta=edit_meta)


def without(*names):
    def edit(content, key_types):
        keys = list(content)
        for name in names:
            del key_types[keys.index(name)]
            keys.remove(name)
            del content[name]
    return edit


# (1) A parameter missing from the file.

@pytest.mark.parametrize("name", ["gamma", "device"])
def test_load_names_a_missing_parameter_and_the_version(saved, tmp_path, name):
    path = edited(saved, tmp_path / "old.fastbp", without(name))
    with pytest.raises(ValueError) as info:
        fastbp.load(path)
    message = str(info.value)
    assert str(path) in message
    assert f"without the parameter(s) {name}:" in message
    assert f"fastbp ({fastbp.__version__})" in message
    assert "edited" in message


def test_load_names_the_older_version_that_saved_it(saved, tmp_path):
    def older(meta):
        meta["fastbp"] = "0.0.1"

    path = edited(saved, tmp_path / "old.fastbp", without("gamma", "device"), older)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the version warning
        with pytest.raises(ValueError, match=r"without the parameter\(s\) device, gamma: it "
                           r"was saved by fastbp 0\.0\.1 \(this is fastbp "):
            fastbp.load(path)


def test_save_refuses_a_model_without_a_parameter(fitted, tmp_path):
    model = pickle.loads(pickle.dumps(fitted))
    del model.gamma
    path = tmp_path / "m.fastbp"
    with pytest.raises(ValueError, match=r"cannot save this MLPClassifier.*lacks the "
                       r"parameter\(s\) gamma, which this fastbp's MLPClassifier has"):
        fastbp.save(model, path)
    assert not path.exists()


def test_load_turns_an_attribute_error_of_the_check_into_a_value_error(
        saved, monkeypatch):
    def broken(self):
        raise AttributeError("'MLPClassifier' object has no attribute 'x'")

    monkeypatch.setattr(MLPClassifier, "_check_loaded_state", broken)
    with pytest.raises(ValueError, match=re.escape(str(saved)) + ".*fitted state is "
                       "inconsistent: 'MLPClassifier' object has no attribute 'x'"):
        fastbp.load(saved)


def test_load_warns_of_names_that_are_no_parameters(saved, fitted, data, tmp_path):
    def newer(content, key_types):
        content["newer_param"] = content["alpha"]
        key_types.append(key_types[list(content).index("alpha")])

    path = edited(saved, tmp_path / "new.fastbp", newer)
    with pytest.warns(UserWarning, match=re.escape(str(path)) + r".*newer_param, which "
                      r"are no parameters"):
        model = fastbp.load(path)
    np.testing.assert_array_equal(model.predict(data[0]), fitted.predict(data[0]))


def test_a_plain_round_trip_warns_of_nothing(saved, data, tmp_path):
    X, y = data
    regressor = quiet(MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit,
                      X, y.astype(float))
    fastbp.save(regressor, tmp_path / "r.fastbp")
    for path in (saved, tmp_path / "r.fastbp"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model = fastbp.load(path)
        assert model.predict(X).shape == (len(X),)


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
