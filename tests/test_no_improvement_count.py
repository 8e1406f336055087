"""How many epochs without ``tol`` improvement ``n_iter_no_change`` allows
(fix-324, rev-321): more than ``n_iter_no_change``, i.e. the stop (or
'adaptive''s division of the learning rate) comes after
``n_iter_no_change + 1`` of them, in fastbp as in scikit-learn. The
estimators' docstrings said "``n_iter_no_change`` epochs", one short.

With ``tol=10.0`` no epoch improves by ``tol``; the first is never counted
(it improves on the initial best of infinity), so the stop comes at epoch
``n_iter_no_change + 2``.
"""

import warnings

import pytest
from sklearn import neural_network as sknn
from sklearn.datasets import make_classification

from fastbp import MLPClassifier

KW = dict(hidden_layer_sizes=(5,), solver="sgd", tol=10.0, learning_rate_init=0.1,
          random_state=0)


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=60, n_features=4, random_state=0)


def _fit(cls, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning where max_iter ends it
        return cls(**KW, **kw).fit(*data)


@pytest.mark.parametrize("cls", [sknn.MLPClassifier, MLPClassifier],
                         ids=["scikit-learn", "fastbp"])
@pytest.mark.parametrize("n_iter_no_change", [1, 3])
def test_training_stops_after_more_than_n_iter_no_change_epochs(data, cls, n_iter_no_change):
    model = _fit(cls, data, n_iter_no_change=n_iter_no_change, max_iter=20)
    assert model.n_iter_ == n_iter_no_change + 2


@pytest.mark.parametrize("cls", [sknn.MLPClassifier, MLPClassifier],
                         ids=["scikit-learn", "fastbp"])
@pytest.mark.parametrize("n_iter_no_change", [1, 3])
def test_adaptive_divides_after_more_than_n_iter_no_change_epochs(data, cls,
                                                                  n_iter_no_change):
    # One epoch short of the division: the rate is still the initial one ...
    before = _fit(cls, data, n_iter_no_change=n_iter_no_change, learning_rate="adaptive",
                  max_iter=n_iter_no_change + 1)
    assert before._optimizer.learning_rate == pytest.approx(0.1, rel=1e-12)
    # ... and divided by 5 at the end of epoch n_iter_no_change + 2, the
    # (n_iter_no_change + 1)-th without improvement.
    after = _fit(cls, data, n_iter_no_change=n_iter_no_change, learning_rate="adaptive",
                 max_iter=n_iter_no_change + 2)
    assert after.n_iter_ == n_iter_no_change + 2
    assert after._optimizer.learning_rate == pytest.approx(0.02, rel=1e-12)


@pytest.mark.parametrize("name", ["MLPClassifier", "MLPRegressor"])
@pytest.mark.parametrize("parameter", ["n_iter_no_change", "learning_rate"])
def test_the_docstrings_state_the_count(name, parameter):
    import inspect

    import fastbp

    doc = inspect.cleandoc(getattr(fastbp, name).__doc__)
    # The parameter's entry: its type line and description, up to the
    # blank line before the next parameter.
    entry = doc.split(f"\n{parameter} : ", 1)[1].split("\n\n")[0]
    entry = " ".join(entry.split())
    assert "more than ``n_iter_no_change``" in entry
