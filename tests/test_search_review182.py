"""fastbp.search, review 182: the refit runs with the workers' one BLAS
thread, and the warm-up's ``sparse`` (auto for a pipeline whose steps make
the matrix the fastbp step receives)."""

import numpy as np
import pytest
from joblib import cpu_count
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_limits

import fastbp
from fastbp.search import fit_on_dask
from fastbp.training.split import splits_here

try:
    from . import test_search as search_tests
    from .support import assert_same_results
except ImportError:  # run as a plain module
    import test_search as search_tests
    from support import assert_same_results

# test_search's cluster (two worker processes, one thread each), started
# once for this module too.
client = search_tests.client

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _splitting_search():
    """A float32 grid whose refit, on a pool of two BLAS threads, splits its
    steps between threads (batch 200 x 6,400 weights is past MIN_STEP_MACS)."""
    X, y = load_digits(return_X_y=True)
    X, y = (X[:600] / 16).astype(np.float32), y[:600]
    search = GridSearchCV(
        fastbp.MLPClassifier(hidden_layer_sizes=(100,), max_iter=5, random_state=0),
        {"alpha": [1e-4, 1e-2]}, cv=2, scoring="neg_log_loss")
    return search, X, y


def _same_weights(a, b):
    return all(p.tobytes() == q.tobytes() for p, q in zip(a.coefs_ + a.intercepts_,
                                                       b.coefs_ + b.intercepts_))


@pytest.mark.skipif(cpu_count() < 2 or not splits_here(),
                    reason="a refit splits its steps only on 2+ cores with splitting on")
def test_refit_runs_with_the_workers_one_blas_thread(client):
    # review-182: the folds' fits ran in one-thread workers, but the refit
    # (best_estimator_.fit) ran in the calling process on its whole pool:
    # cv_results_ were a local threadpool_limits(1) search's, best_estimator_
    # a local search's without limits; no local setting gave both.
    search, X, y = _splitting_search()
    with threadpool_limits(1):
        one_thread = clone(search).fit(X, y)
    # The client's pool has two threads (the tests may run with
    # OMP_NUM_THREADS=1), as in the reviewer's run.
    with threadpool_limits(2):
        two_threads = clone(search).fit(X, y)
        assert not _same_weights(two_threads.best_estimator_, one_thread.best_estimator_), \
            "the refit does not depend on the pool here: the test could not fail"
        fit_on_dask(search, X, y, client=client)
    assert_same_results(search, one_thread)
    assert _same_weights(search.best_estimator_, one_thread.best_estimator_)
    np.testing.assert_array_equal(search.predict_proba(X), one_thread.predict_proba(X))
