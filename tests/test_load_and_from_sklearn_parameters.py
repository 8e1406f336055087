"""fix-268: names that are no parameters of a loaded model are dropped, and
from_sklearn refuses parameters fastbp refuses (rev-258, findings 6 and 7).

(6) fastbp.load warned that a fastbp model's unknown public names (a newer
fastbp's parameters) are ignored, yet kept them on the model: a save of it
wrote them again and every later load repeated the warning. They are now
dropped from every fastbp model the file holds, a Pipeline's or a search's
too.

(7) from_sklearn converted a scikit-learn model trained with ``max_iter=True``
(scikit-learn takes the bool) into a fastbp model that partial_fit and save
then refused; it now raises a ValueError naming the parameter.
"""

import copy
import re
import warnings

import numpy as np
import pytest
from sklearn import neural_network as sknn
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastbp
from fastbp import MLPClassifier, MLPRegressor
from fastbp.estimators.base import BaseMLP

try:
    from .support import edited_archive, quiet
except ImportError:  # run as a plain module
    from support import edited_archive, quiet


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:120] / 16.0, y[:120]


def _fastbp_nodes(node):
    """The skops schema nodes of the fastbp estimators in ``node``."""
    if isinstance(node, dict):
        if (node.get("__loader__") == "ObjectNode"
                and node.get("__module__", "").startswith("fastbp.estimators")):
            yield node
        for value in node.values():
            yield from _fastbp_nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _fastbp_nodes(value)


def with_foo(saved, path):
    """``saved`` with a public name ``foo`` (0.0) added to every fastbp
    estimator's state, as a newer fastbp's parameter would be."""
    def edit_schema(schema):
        nodes = list(_fastbp_nodes(schema))
        assert nodes
        for i, node in enumerate(nodes):
            state = node["content"]
            content, key_types = state["content"], state["key_types"]["content"]
            keys = list(content)
            value = copy.deepcopy(content["alpha"])
            value["content"] = "0.0"
            value["__id__"] = 268_000 + i  # a node of its own, not alpha's
            content["foo"] = value
            key_types.append(copy.deepcopy(key_types[keys.index("alpha")]))

    return edited_archive(saved, path, edit_schema)


def _models(obj):
    if isinstance(obj, BaseMLP):
        return [obj]
    if hasattr(obj, "steps"):
        return [s for _, s in obj.steps if isinstance(s, BaseMLP)]
    return [obj.estimator.steps[-1][1], obj.best_estimator_.steps[-1][1]]


def _fitted(kind, X, y):
    model = MLPClassifier((5,), max_iter=2, random_state=0)
    if kind == "model":
        return quiet(model.fit, X, y)
    pipe = make_pipeline(StandardScaler(), model)
    if kind == "pipeline":
        return quiet(pipe.fit, X, y)
    search = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4]}, cv=2)
    return quiet(search.fit, X, y)


@pytest.mark.parametrize("kind", ["model", "pipeline", "search"])
def test_load_drops_the_names_it_ignores_and_a_resave_does_not_carry_them(
        data, tmp_path, kind):
    X, y = data
    fitted = _fitted(kind, X, y)
    fastbp.save(fitted, tmp_path / "m.fastbp")
    path = with_foo(tmp_path / "m.fastbp", tmp_path / "newer.fastbp")
    with pytest.warns(UserWarning, match=re.escape(str(path)) + r".*attribute\(s\) foo, "
                      r"which are no parameters.*ignored") as record:
        loaded = fastbp.load(path)
    assert all("dropped from the loaded model" in str(w.message) for w in record
               if "foo" in str(w.message))
    models = _models(loaded)
    assert len(models) == (2 if kind == "search" else 1)
    for model in models:
        assert "foo" not in vars(model)
        assert not hasattr(model, "foo")
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    fastbp.save(loaded, tmp_path / "again.fastbp")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = fastbp.load(tmp_path / "again.fastbp")
    for model in _models(again):
        assert "foo" not in vars(model)
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))


@pytest.mark.parametrize("name", ["max_iter", "batch_size", "n_iter_no_change", "alpha"])
def test_from_sklearn_refuses_a_bool_where_a_number_belongs(data, name):
    X, y = data
    sk = sknn.MLPClassifier((4,), max_iter=3, random_state=0).set_params(**{name: True})
    quiet(sk.fit, X, y)
    with pytest.raises(ValueError, match=rf"MLPClassifier\.from_sklearn: the scikit-learn "
                       rf"model's parameter {name} holds True, a bool where fastbp takes a "
                       rf"number.*set_params\({name}=1\)"):
        MLPClassifier.from_sklearn(sk)


def test_from_sklearn_of_a_regressor_refuses_max_iter_true(data):
    X, y = data
    sk = quiet(sknn.MLPRegressor(hidden_layer_sizes=(4,), max_iter=True, random_state=0).fit, X, y.astype(float))
    with pytest.raises(ValueError, match=r"MLPRegressor\.from_sklearn: .*parameter max_iter "
                       r"holds True, a bool"):
        MLPRegressor.from_sklearn(sk)


def test_from_sklearn_of_the_number_trains_and_saves(data, tmp_path):
    # What the error says to do works: the model trains on and saves.
    X, y = data
    sk = quiet(sknn.MLPClassifier((4,), max_iter=True, random_state=0).fit, X, y)
    sk.set_params(max_iter=1)
    model = MLPClassifier.from_sklearn(sk)
    assert model.max_iter == 1 and type(model.max_iter) is int
    quiet(model.partial_fit, X, y)
    fastbp.save(model, tmp_path / "m.fastbp")
    assert fastbp.load(tmp_path / "m.fastbp").max_iter == 1
