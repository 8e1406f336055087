"""Warm-up of a search whose template step is a placeholder that the grid
swaps a fastbp estimator in for (rev-284, fix-285).

fix-279 cut a grid's dropout / clip_grad_norm list to "off" and one "on"
value, taking the default and the check of a value from the template's
step. Where that step was not a fastbp estimator (``LogisticRegression()``
standing in for the ``MLPClassifier()`` the grid swaps in), every value
counted as taken and none as the default: ``[0.0, 0.3]`` was cut to
``[0.0]``, and ``[1.5, 0.3]`` to the refused ``[1.5]``, so no dropout
kernel was warmed.
"""

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from fastbp import MLPClassifier
from fastbp.search_space import _configurations, _grids

try:
    from .support import search_after_warmup
except ImportError:  # run as a plain module
    from support import search_after_warmup


def _placeholder():
    return Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])


def _swapped(name, values, nested=False, search=GridSearchCV):
    """The reviewer's shape: a placeholder step, and a grid dict that swaps
    the MLP in (alone, or in a pipeline of its own) and sets ``name``."""
    if nested:
        grid = [{"clf": [LogisticRegression()]},
                {"clf": [Pipeline([("mlp", MLPClassifier())])], "clf__mlp__" + name: values}]
        key = "clf__mlp__" + name
    else:
        grid = [{"clf": [LogisticRegression()]},
                {"clf": [MLPClassifier()], "clf__" + name: values}]
        key = "clf__" + name
    return search(_placeholder(), grid), key


@pytest.mark.parametrize("search", [GridSearchCV, RandomizedSearchCV])
@pytest.mark.parametrize("nested", [False, True])
@pytest.mark.parametrize("name, values, kept", [
    ("dropout", [0.0, 0.3], [0.0, 0.3]),
    ("dropout", [0.0, 0.3, 0.5], [0.0, 0.3]),
    # A rate the MLP refuses is kept as given, and never stands for 0.3.
    ("dropout", [1.5, 0.3], [1.5, 0.3]),
    ("clip_grad_norm", [None, 1.0, 5.0], [None, 1.0]),
    ("clip_grad_norm", [-1.0, 1.0], [-1.0, 1.0]),
])
def test_a_swapped_in_mlp_keeps_the_on_value_of_its_grid(search, nested, name, values, kept):
    s, key = _swapped(name, values, nested, search)
    assert [g[key] for g in _grids(s) if key in g] == kept


@pytest.mark.parametrize("nested", [False, True])
def test_warmup_finds_the_dropout_configurations_a_swapped_in_mlp_runs(nested):
    s, _ = _swapped("dropout", [0.0, 0.3, 0.5], nested)
    assert sorted(c.dropout for c in _configurations([s])) == [0.0, 0.3]
    # The refused rate is a point the search's fit refuses, not the "on"
    # value: 0.3 is still warmed.
    s, _ = _swapped("dropout", [1.5, 0.3], nested)
    assert [c.dropout for c in _configurations([s])] == [0.3]
    s, _ = _swapped("clip_grad_norm", [None, 1.0], nested)
    assert sorted(repr(c.clip_grad_norm) for c in _configurations([s])) == ["1.0", "None"]


def test_without_a_fastbp_owner_zero_is_off_and_a_refused_rate_is_kept_as_given():
    # No point fits a fastbp estimator with these rates (the step is
    # never swapped): they are still not cut to a value a fit refuses, or
    # to 0.0 standing for "on".
    s = GridSearchCV(_placeholder(), {"clf__dropout": [0.0, 1.5, 0.3, 0.5]})
    assert [g["clf__dropout"] for g in _grids(s)] == [0.0, 1.5, 0.3]


class _Rates:
    """Draws 0.0, then 0.3, then 0.0 ... (as a scipy.stats distribution's
    ``rvs`` is called): the first draw is the default."""

    def __init__(self):
        self.n = 0

    def rvs(self, random_state=None):
        self.n += 1
        return 0.3 if self.n % 2 == 0 else 0.0


def test_a_distribution_for_a_swapped_in_mlp_is_drawn_against_its_default():
    # Against the placeholder's (missing) default, the first draw, 0.0,
    # stood for every rate drawn, and no dropout kernel was warmed.
    s = RandomizedSearchCV(_placeholder(), {"clf": [MLPClassifier()], "clf__dropout": _Rates()})
    assert sorted(g["clf__dropout"] for g in _grids(s)) == [0.0, 0.3]


def test_expanding_a_grid_leaves_its_estimators_as_given():
    # Each point set the grid's own MLP in, so every point's estimator was
    # that one object, holding the last point's rate: warm-up warmed
    # dropout=0.3 only (the off kernels were left to the search), and the
    # user's grid was left with dropout=0.3.
    mlp = MLPClassifier()
    s = GridSearchCV(_placeholder(), [{"clf": [mlp], "clf__dropout": [0.0, 0.3]}])
    configs = _configurations([s])
    assert sorted(c.dropout for c in configs) == [0.0, 0.3]
    assert mlp.dropout == 0.0
    assert all(c is not mlp for c in configs)


_SEARCH = """
import fastbp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

search = GridSearchCV(
    Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]),
    [{"clf": [LogisticRegression()]},
     {"clf": [fastbp.MLPClassifier(max_iter=2, random_state=0)],
      "clf__dropout": [0.0, 0.3]}], cv=2)
"""


def test_a_placeholder_step_search_after_warmup_compiles_nothing(tmp_path):
    # In a fresh process on an empty cache, so that nothing another test
    # loaded stands in for what the warm-up left out (rev-284: the search
    # then compiled 21 kernels).
    result = search_after_warmup(_SEARCH, tmp_path)
    assert sorted(result["entries"]) == ["MLPClassifier()", "MLPClassifier(dropout=0.3)"]
    assert result["compiled"] > 0
    assert result["search"] == [0, 0]  # neither loaded nor compiled: all in memory
