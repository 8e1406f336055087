"""What fastbp.save, load, read_metadata and the scikit-learn converters
check of what they are given, before any work and without changing it:

- a model file naming NumPy's ``positive`` ufunc the way another NumPy
  (1.x or 2.x) spells it loads, with the running NumPy's ``np.positive``;
- ``MLPClassifier.from_sklearn`` refuses a fitted state that save and load
  would refuse, leaving the scikit-learn model as it was;
- path arguments that are empty or of the wrong type are refused up
  front, with the function and argument named;
- ``load`` cross-checks ``fastbp.json``'s ``type`` and ``dtypes`` with the
  object it rebuilds;
- ``save`` refuses an unfitted fastbp model anywhere in what it saves (a
  plain list too);
- ``to_sklearn`` refuses parameters made invalid after fitting.
"""

import hashlib
import io
import json
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import fastbp
from fastbp import MLPClassifier


@pytest.fixture(scope="module")
def data():
    X, y = load_iris(return_X_y=True)
    return X, y


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


def _rewrite(saved, path, edit_schema=None, edit_meta=None):
    """A copy at ``path`` of the fastbp file ``saved``, with the skops
    archive's ``schema.json`` text passed through ``edit_schema`` and the
    metadata dict through ``edit_meta``, its checksum recomputed (it passes
    the integrity check)."""
    with zipfile.ZipFile(saved) as zf:
        meta = json.loads(zf.read("fastbp.json"))
        payload = zf.read("model.skops")
    if edit_schema is not None:
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(payload)) as src, \
                zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                content = src.read(info)
                if info.filename == "schema.json":
                    content = edit_schema(content.decode()).encode()
                dst.writestr(info.filename, content)
        payload = out.getvalue()
    if edit_meta is not None:
        edit_meta(meta)
    meta["sha256"] = hashlib.sha256(payload).hexdigest()
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("fastbp.json", json.dumps(meta))
        zf.writestr("model.skops", payload)
    return path


# ------------------------------------------------ NumPy's positive ufunc

@pytest.fixture(scope="module")
def positive_saved(data, tmp_path_factory):
    """A pipeline casting through ``np.positive`` (as ``fastbp train --data``
    saves), saved under the running NumPy."""
    X, y = data
    cast = FunctionTransformer(np.positive, kw_args={"dtype": np.float32, "order": "C"})
    pipe = _fit(make_pipeline(cast, MLPClassifier((4,), max_iter=3, random_state=0)), X, y)
    path = tmp_path_factory.mktemp("positive") / "m.fastbp"
    fastbp.save(pipe, path)
    return path, pipe.predict(X)


def _respell_positive(module, name="positive"):
    """A schema edit that names the ``positive`` ufunc ``module.name``."""
    marker = '"__class__": "positive",\n'

    def respell(schema):
        start = schema.index(marker)
        end = schema.index("\n", start + len(marker))  # the "__module__" line's end
        assert '"__module__"' in schema[start + len(marker):end]
        indent = schema[start + len(marker):schema.index('"', start + len(marker))]
        return (f'{schema[:start]}"__class__": "{name}",\n{indent}"__module__": '
                f'"{module}",{schema[end:]}')
    return respell


def _named(path):
    import skops.io as sio

    with zipfile.ZipFile(path) as zf:
        return sio.get_untrusted_types(data=zf.read("model.skops"))


@pytest.mark.parametrize("module", ["numpy", "numpy.core._multiarray_umath",
                                    "numpy._core._multiarray_umath"])
def test_every_numpy_spelling_of_positive_loads(positive_saved, data, tmp_path, module):
    # Before: a file saved under NumPy 1.26 (numpy.core._multiarray_umath)
    # was refused under 2.x, and one saved under 2.x (numpy) under 1.26:
    # "holds types that fastbp does not load".
    saved, expected = positive_saved
    path = _rewrite(saved, tmp_path / "m.fastbp", edit_schema=_respell_positive(module))
    with zipfile.ZipFile(path) as zf:
        assert f'"__module__": "{module}"' in zipfile.ZipFile(
            io.BytesIO(zf.read("model.skops"))).read("schema.json").decode()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # numpy.core warns of no ufunc
        loaded = fastbp.load(path)
    assert loaded[0].func is np.positive
    np.testing.assert_array_equal(loaded.predict(data[0]), expected)


def test_only_positive_is_trusted_in_numpy_internals(positive_saved, tmp_path):
    # Not a rule for the module: another ufunc spelled as no NumPy from
    # 1.26 on writes it (1.x: numpy.core, 2.1+: numpy) is still refused.
    saved, _ = positive_saved
    path = _rewrite(saved, tmp_path / "m.fastbp",
                    edit_schema=_respell_positive("numpy._core._multiarray_umath", "negative"))
    assert "numpy._core._multiarray_umath.negative" in _named(path)
    with pytest.raises(ValueError, match=r"does not load: \['numpy\._core\._multiarray_umath"
                                         r"\.negative'\]"):
        fastbp.load(path)


# ------------------------------------------------------------ from_sklearn

@pytest.fixture(scope="module")
def sk_fitted(data):
    from sklearn.neural_network import MLPClassifier as SKClassifier

    X, y = data
    return _fit(SKClassifier((5,), max_iter=5, random_state=0), X, y)


@pytest.mark.parametrize("edit, named", [
    (lambda m: setattr(m, "classes_", m.classes_[:2]), r"classes_ \[0, 1\] differ"),
    (lambda m: setattr(m, "n_layers_", 7), r"n_layers_ is 7, and the weights give 3"),
])
def test_from_sklearn_refuses_a_state_save_would_refuse(sk_fitted, edit, named):
    # Before: converted (classes_ [0 1] with predict_proba of 3 columns, or
    # n_layers_ 7), and fastbp.save then refused the model.
    import copy
    import pickle

    model = copy.deepcopy(sk_fitted)
    edit(model)
    before = pickle.dumps(model)
    with pytest.raises(ValueError, match=r"^from_sklearn: .*" + named):
        MLPClassifier.from_sklearn(model)
    assert pickle.dumps(model) == before  # the user's model is left as it was


def test_from_sklearn_of_a_consistent_model_still_converts(sk_fitted, data):
    est = MLPClassifier.from_sklearn(sk_fitted)
    np.testing.assert_array_equal(est.predict(data[0]), sk_fitted.predict(data[0]))


# ------------------------------------------------------- path arguments

@pytest.fixture(scope="module")
def fitted(data):
    return _fit(MLPClassifier((4,), max_iter=3, random_state=0), *data)


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a call gets as far as skops (serialising, reading)."""
    from fastbp.persistence import loading, saving

    def refused():
        raise AssertionError("the path was not checked first")

    # Where save and load look skops up.
    monkeypatch.setattr(saving, "_skops_io", refused)
    monkeypatch.setattr(loading, "_skops_io", refused)


@pytest.mark.parametrize("path", ["", b""])
def test_save_refuses_an_empty_path_before_serialising(fitted, no_work, tmp_path,
                                                       monkeypatch, path):
    # Before: the model was serialised, then the rename of its temporary
    # file onto '' raised FileNotFoundError.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"^fastbp\.save\(obj, path\) takes the name of "
                                         r"the file to write as path.*got an empty path"):
        fastbp.save(fitted, path)
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


@pytest.mark.parametrize("call, got", [
    (lambda m: fastbp.save(m, None), r"save\(obj, path\) takes .*; got None\.$"),
    (lambda m: fastbp.save(m, 3), r"save\(obj, path\) takes .*; got an object of type int"),
    (lambda m: fastbp.save("m.fastbp", m),
     r"save\(obj, path\) takes .*; got a fitted MLPClassifier\. Are the arguments swapped"),
    (lambda m: fastbp.load(None), r"^fastbp\.load\(path\) takes a path to a saved model; "
                                  r"got None\.$"),
    (lambda m: fastbp.load(m), r"^fastbp\.load\(path\) takes a path to a saved model; "
                               r"got a fitted MLPClassifier\.$"),
    (lambda m: fastbp.load(MLPClassifier()), r"load\(path\) .*got an unfitted MLPClassifier"),
    (lambda m: fastbp.read_metadata(None),
     r"^fastbp\.read_metadata\(path\) takes a path to a saved model; got None\.$"),
])
def test_a_path_of_the_wrong_type_is_named(fitted, no_work, call, got):
    # Before: "expected str, bytes or os.PathLike object, not NoneType"
    # from deep inside, naming neither the function nor the argument.
    with pytest.raises(TypeError, match=got):
        call(fitted)


@pytest.mark.parametrize("call", [fastbp.load, fastbp.read_metadata])
def test_load_and_read_metadata_refuse_an_empty_path(no_work, call):
    with pytest.raises(ValueError, match=r"\(path\) takes a path to a saved model; got an "
                                         r"empty path\.$"):
        call("")


# ------------------------------------------------- fastbp.json's fields

@pytest.fixture(scope="module")
def fitted_saved(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "m.fastbp"
    fastbp.save(fitted, path)
    return path


@pytest.mark.parametrize("field, value, shown", [
    ("type", "MLPRegressor", r"the type its fastbp\.json records, 'MLPRegressor', is not "
                             r"its model's, 'MLPClassifier'"),
    ("dtypes", "float64", r"the dtypes its fastbp\.json records, 'float64', is not its "
                          r"model's, \['float64'\]"),
    ("dtypes", ["float32"], r"the dtypes .* \['float32'\], is not its model's, \['float64'\]"),
])
def test_load_refuses_metadata_that_is_not_its_models(fitted_saved, tmp_path, field, value,
                                                      shown):
    # Before: read_metadata reported the edited field, and load returned
    # the MLPClassifier (float64) without a word.
    path = _rewrite(fitted_saved, tmp_path / "m.fastbp",
                    edit_meta=lambda meta: meta.__setitem__(field, value))
    assert fastbp.read_metadata(path)[field] == value
    with pytest.raises(ValueError, match="is damaged or was edited: " + shown):
        fastbp.load(path)


def test_metadata_as_saved_still_loads(fitted_saved, tmp_path):
    meta = fastbp.read_metadata(fitted_saved)
    assert (meta["type"], meta["dtypes"]) == ("MLPClassifier", ["float64"])
    assert isinstance(fastbp.load(fitted_saved), MLPClassifier)


# ------------------------------------------- unfitted models in containers

def test_save_refuses_an_unfitted_model_in_a_list(fitted, tmp_path):
    # Before: saved, and loaded back as a list holding the untrained model,
    # while save(MLPClassifier()) alone and an unfitted Pipeline are refused.
    from sklearn.exceptions import NotFittedError

    path = tmp_path / "m.fastbp"
    with pytest.raises(NotFittedError, match=r"^obj\[1\] is an unfitted MLPClassifier: "
                                             r"fastbp\.save saves trained models only"):
        fastbp.save([fitted, MLPClassifier()], path)
    assert not path.exists()


def test_save_refuses_an_unfitted_pipeline_deep_in_a_dict(fitted, tmp_path):
    from sklearn.exceptions import NotFittedError
    from sklearn.preprocessing import StandardScaler

    unfitted = make_pipeline(StandardScaler(), MLPClassifier())
    with pytest.raises(NotFittedError, match=r"^obj\['b'\]\[1\] is an unfitted Pipeline"):
        fastbp.save({"a": fitted, "b": (fitted, unfitted)}, tmp_path / "m.fastbp")


def test_save_still_takes_containers_of_fitted_models_and_searches(fitted, data, tmp_path):
    # A fitted search holds its unfitted template: not refused.
    from sklearn.model_selection import GridSearchCV

    search = _fit(GridSearchCV(MLPClassifier((3,), max_iter=2, random_state=0),
                               {"alpha": [1e-4, 1e-3]}, cv=2), *data)
    path = tmp_path / "m.fastbp"
    fastbp.save({"model": fitted, "search": search}, path)
    loaded = fastbp.load(path)
    np.testing.assert_array_equal(loaded["search"].predict(data[0]), search.predict(data[0]))
    assert "coefs_" not in loaded["search"].estimator.__dict__


# ------------------------------------------------------------- to_sklearn

@pytest.mark.parametrize("params, named", [
    ({"activation": "nope", "max_iter": 0, "solver": "bogus"}, "'activation' parameter"),
    ({"max_iter": 0}, "'max_iter' parameter"),
    ({"solver": "bogus"}, "'solver' parameter"),
])
def test_to_sklearn_refuses_parameters_made_invalid_after_fitting(data, tmp_path, params,
                                                                  named):
    # Before: a scikit-learn MLP with relu, max_iter=0 and adam came back,
    # while fastbp.save refused the same model.
    model = _fit(MLPClassifier((4,), max_iter=3, random_state=0), *data)
    model.set_params(**params)
    with pytest.raises(ValueError, match=r"^This MLPClassifier cannot become a scikit-learn "
                                         r"MLP: a parameter holds a value that fit and "
                                         r"fastbp\.save refuse .*" + named):
        model.to_sklearn()
    with pytest.raises(ValueError, match=named):  # as save refuses it
        fastbp.save(model, tmp_path / "m.fastbp")
