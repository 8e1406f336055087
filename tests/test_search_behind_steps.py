"""``fit_on_dask``'s question, whether a search trains a fastbp estimator on
what other pipeline steps made, clones the search once per choice of the
estimators its grid swaps in, not once per point (fix-279 counted 2,600
clones of a search whose points set path parameters only)."""

import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastbp import MLPClassifier
from fastbp import search as search_module


@pytest.fixture
def clones(monkeypatch):
    made = []
    original = search_module._clone_without_cv

    def counting(obj):
        made.append(obj)
        return original(obj)

    monkeypatch.setattr(search_module, "_clone_without_cv", counting)
    return made


GRID = {"mlpclassifier__solver": ["adam", "sgd"],
        "mlpclassifier__activation": ["relu", "tanh", "logistic"],
        "mlpclassifier__dropout": [0.0, 0.1],
        "mlpclassifier__hidden_layer_sizes": [(8,), (8, 8), (16, 4)]}


def test_points_of_path_parameters_clone_the_search_once(clones):
    behind = GridSearchCV(make_pipeline(StandardScaler(), MLPClassifier()), GRID)
    assert search_module._behind_steps(behind)
    assert len(clones) == 1
    first = GridSearchCV(make_pipeline(MLPClassifier()), GRID)
    clones.clear()
    assert not search_module._behind_steps(first)
    assert len(clones) == 1


def test_each_estimator_swapped_in_is_looked_at(clones):
    # The estimator behind the scaler is swapped in by the grid: one clone
    # per choice of it, each looked at (the second is behind a step).
    pipe = make_pipeline(MLPClassifier(), "passthrough")
    pipe.steps[1] = ("est", "passthrough")
    grid = {"est": ["passthrough", MLPClassifier()], "mlpclassifier__solver": ["adam", "sgd"]}
    assert search_module._behind_steps(GridSearchCV(pipe, grid))
    assert 1 <= len(clones) <= 2
