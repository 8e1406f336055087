"""Warm-up's cost follows the kernels a search needs, not the product of its
parameter lists (rev-272, fix-279).

A grid's list of dropout rates or hidden layer sizes was crossed value by
value, and each point cloned the whole search: rev-272's 23,040 points
took 60 s for 720 configurations that ran about 11 kernels, on the client
and on every dask worker.
"""

import pytest
import scipy.stats
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastbp import MLPClassifier
from fastbp import search_space
from fastbp.search_space import _configurations, _grids

try:
    from .support import search_after_warmup
except ImportError:  # run as a plain module
    from support import search_after_warmup

SOLVERS = ["adam", "sgd", "rmsprop", "lbfgs"]
ACTIVATIONS = ["relu", "tanh", "logistic"]
NORMALIZATIONS = [None, "batch", "layer"]
# 32 sizes of one to four layers, equal widths and not.
SIZES = ([(w,) for w in (8, 16, 32, 64, 128, 256, 512, 1024)]
         + [(w, w) for w in (16, 32, 64, 128, 256, 512)]
         + [(64, 32), (128, 64), (256, 128), (512, 256), (32, 16), (128, 32)]
         + [(w, w, w) for w in (32, 64, 128, 256)]
         + [(128, 64, 32), (256, 128, 64), (64, 64, 32), (128, 128, 64)]
         + [(32,) * 4, (64,) * 4, (64, 64, 64, 32), (128, 64, 64, 32)])


def _reviewers_search():
    dist = {"mlpclassifier__hidden_layer_sizes": SIZES,
            "mlpclassifier__solver": SOLVERS,
            "mlpclassifier__activation": ACTIVATIONS,
            "mlpclassifier__dropout": [0, 0.1, 0.2, 0.3, 0.5],
            "mlpclassifier__normalization": NORMALIZATIONS,
            "mlpclassifier__residual": [False, True],
            "mlpclassifier__early_stopping": [False, True],
            "mlpclassifier__alpha": scipy.stats.uniform(1e-5, 1e-2)}
    return RandomizedSearchCV(make_pipeline(StandardScaler(), MLPClassifier()), dist, n_iter=20)


def _count_search_clones(monkeypatch):
    clones = []
    original = search_space._clone_without_cv

    def counting(obj):
        clones.append(type(obj).__name__)
        return original(obj)

    monkeypatch.setattr(search_space, "_clone_without_cv", counting)
    return clones


def test_a_large_search_expands_to_its_kernel_keys_without_cloning_each_point(monkeypatch):
    search = _reviewers_search()
    assert len(SIZES) == 32
    clones = _count_search_clones(monkeypatch)
    configs = _configurations([search])
    # The path key tells configurations apart by solver, activation,
    # normalization, early stopping, dropout off or on, and whether
    # residual connects any layers: at most 4 * 3 * 3 * 2 * 2 * 2 of them
    # (lbfgs with dropout or batch normalisation is refused). Before: 564
    # configurations, a dropout of 0.1 and one of 0.3 told apart, and
    # 23,040 clones of the search.
    assert len(configs) <= len(SOLVERS) * len(ACTIVATIONS) * len(NORMALIZATIONS) * 2 * 2 * 2
    assert clones == []
    # Every kernel the points run is still there: both sides of each switch.
    assert {c.solver for c in configs} == set(SOLVERS)
    assert {c.dropout > 0 for c in configs} == {False, True}
    connected = {c.residual and any(a == b for a, b in zip(c.hidden_layer_sizes,
                                                          c.hidden_layer_sizes[1:]))
                 for c in configs}
    assert connected == {False, True}
    # The lists are cut before they are crossed: the sizes to what the
    # kernels and the fit's checks read (layers, equal neighbours, a single
    # unit), the rates to off and on.
    kinds = {(len(s), tuple(a == b for a, b in zip(s, s[1:])), 1 in s) for s in SIZES}
    assert len(kinds) == 9
    grids = _grids(search)
    assert len(grids) <= (len(SOLVERS) * len(ACTIVATIONS) * len(NORMALIZATIONS) * 2 * 2 * 2
                          * len(kinds))
    assert {g["mlpclassifier__dropout"] for g in grids} == {0, 0.1}


def test_list_values_of_a_numeric_path_parameter_are_one_configuration(monkeypatch):
    # rev-272: four rates were four configurations (and four warm-ups of
    # the same kernels), where a distribution of them was one.
    clones = _count_search_clones(monkeypatch)
    configs = _configurations([GridSearchCV(MLPClassifier(), {"dropout": [0.1, 0.2, 0.3, 0.4]})])
    assert [c.dropout for c in configs] == [0.1]
    assert clones == []
    configs = _configurations([MLPClassifier(dropout=0.1), MLPClassifier(dropout=0.3),
                               MLPClassifier(clip_grad_norm=1.0),
                               MLPClassifier(clip_grad_norm=5.0), MLPClassifier()])
    assert [(c.dropout, c.clip_grad_norm) for c in configs] == [(0.1, None), (0.0, 1.0),
                                                                (0.0, None)]


def test_the_cut_keeps_points_that_a_fit_takes():
    # A rate the estimator refuses does not stand for the others.
    configs = _configurations([GridSearchCV(MLPClassifier(), {"dropout": [1.5, 0.3, 0.0]})])
    assert sorted(c.dropout for c in configs) == [0.0, 0.3]
    # Per-layer rates must match the number of layers: (8,) refuses two
    # rates, (8, 8) takes them, and one rate for every layer fits (8,).
    configs = _configurations([GridSearchCV(
        MLPClassifier(), {"dropout": [[0.1, 0.2], 0.3],
                          "hidden_layer_sizes": [(8,), (16,), (8, 8)]})])
    assert sorted((repr(c.dropout), c.hidden_layer_sizes) for c in configs) == [
        ("0.3", (8,)), ("[0.1, 0.2]", (8, 8))]
    # Layer normalisation refuses a single unit: (1,) does not stand for (8,).
    configs = _configurations([GridSearchCV(
        MLPClassifier(normalization="layer"), {"hidden_layer_sizes": [(1,), (8,)]})])
    assert [c.hidden_layer_sizes for c in configs] == [(8,)]
    with pytest.raises(ValueError, match="dropout needs a stochastic solver"):
        _configurations([GridSearchCV(MLPClassifier(solver="lbfgs"),
                                      {"dropout": [0.1, 0.2], "hidden_layer_sizes": [(8,), (9,)]})])


_SEARCH = """
import fastbp
from sklearn.model_selection import GridSearchCV

search = GridSearchCV(
    fastbp.MLPClassifier(max_iter=2, random_state=0),
    {"dropout": [0.1, 0.3], "hidden_layer_sizes": [(8,), (16,), (8, 8)],
     "residual": [False, True]}, cv=2)
"""


def test_a_search_after_warming_its_cut_grid_compiles_nothing(tmp_path):
    # In a fresh process on an empty cache, so that nothing another test
    # loaded stands in for what the warm-up left out.
    result = search_after_warmup(_SEARCH, tmp_path, proba=True)
    # Two configurations: dropout on, with and without residual
    # connections (the (8, 8) network's). Before: four, each rate its own.
    assert sorted(result["entries"]) == [
        "MLPClassifier(dropout=0.1)",
        "MLPClassifier(dropout=0.1, residual=True, hidden_layer_sizes=(8, 8))"]
    assert result["compiled"] > 0
    assert result["search"] == [0, 0]  # neither loaded nor compiled: all in memory
