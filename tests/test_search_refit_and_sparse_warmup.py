"""fastbp.search, review 182: the refit runs with the workers' one BLAS
thread, and the warm-up's ``sparse`` (auto for a pipeline whose steps make
the matrix the fastbp step receives)."""

import distributed
import numpy as np
import pytest
from joblib import cpu_count
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import fastbp
from fastbp.search import fit_on_dask, fit_on_ray
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
# Stand-in Ray modules that record ray.init's runtime_env.
fake_ray = search_tests.fake_ray

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


# ------------------------------------------------------- warm-up: sparse


@pytest.fixture(scope="module")
def inprocess_client():
    """Workers in this process: a spy on fastbp.search._warm sees their
    warm-up."""
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=":0", set_as_default=False) as c:
        yield c


@pytest.fixture
def warmed(monkeypatch):
    """What each warm-up was asked to warm: (dtypes, sparse)."""
    calls = []

    def spy(estimators, dtypes, where, sparse=False):
        calls.append((tuple(dtypes), sparse))
        return None, None

    monkeypatch.setattr(fastbp.search, "_warm", spy)
    return calls


def _text():
    rng = np.random.RandomState(0)
    words = np.array(["spam", "eggs", "ham", "toast", "jam", "tea"])
    docs = [" ".join(rng.choice(words, 5)) for _ in range(40)]
    return docs, np.array(["spam" in d for d in docs])


def _tfidf_search(dtype=np.float64):
    return GridSearchCV(
        make_pipeline(TfidfVectorizer(dtype=dtype),
                      fastbp.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0)),
        {"mlpclassifier__alpha": [1e-4, 1e-2]}, cv=2)


def test_a_pipeline_s_sparse_matrix_is_warmed_in_auto_mode(inprocess_client, warmed):
    # review-182: only sparse X warmed the sparse kernels; a TfidfVectorizer
    # hands the fastbp step a sparse matrix of text X (and float32 with
    # dtype=np.float32, where float64 alone was warmed), so every worker
    # compiled or loaded them in its first task.
    docs, y = _text()
    fit_on_dask(_tfidf_search(np.float32), docs, y, client=inprocess_client)
    assert warmed == [(("float32", "float64"), True)]


def test_sparse_and_dtypes_given_are_honoured(inprocess_client, warmed):
    docs, y = _text()
    fit_on_dask(_tfidf_search(), docs, y, client=inprocess_client, sparse=False,
                dtypes="float64")
    fit_on_dask(_tfidf_search(), docs, y, client=inprocess_client, sparse=np.True_)
    X, y = load_digits(return_X_y=True)
    X, y = X[:60] / 16, y[:60]
    bare = GridSearchCV(fastbp.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2,
                                             random_state=0), {"alpha": [1e-4]}, cv=2)
    fit_on_dask(clone(bare), X, y, client=inprocess_client)  # auto: X is dense
    fit_on_dask(clone(bare), X, y, client=inprocess_client, sparse=True)
    # A scaler in front of dense numbers passes them on dense, in their
    # dtype: the README's pipeline warms what X itself would, not three
    # times the kernels; a DataFrame with a text column, which an encoder
    # in front turns into numbers, warms for anything.
    scaled = GridSearchCV(make_pipeline(StandardScaler(), clone(bare.estimator)),
                          {"mlpclassifier__alpha": [1e-4]}, cv=2)
    fit_on_dask(clone(scaled), X, y, client=inprocess_client)
    fit_on_dask(clone(scaled), X.astype(np.float32), y, client=inprocess_client)
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame({"a": X[:, 0], "colour": np.where(y % 2, "red", "blue")})
    encoded = GridSearchCV(
        make_pipeline(make_column_transformer((OneHotEncoder(), ["colour"]),
                                              remainder="passthrough"),
                      clone(bare.estimator)),
        {"mlpclassifier__alpha": [1e-4]}, cv=2)
    fit_on_dask(encoded, frame, y, client=inprocess_client)
    assert warmed == [(("float64",), False), (("float32", "float64"), True),
                      (("float64",), False), (("float64",), True),
                      (("float64",), False), (("float32",), False),
                      (("float32", "float64"), True)]


def test_a_fastbp_step_swapped_in_by_the_grid_counts():
    from fastbp.search import _behind_steps
    from sklearn.linear_model import LogisticRegression

    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    swapped = GridSearchCV(pipe, {"logisticregression": [fastbp.MLPClassifier()]})
    assert _behind_steps(swapped)
    assert not _behind_steps(GridSearchCV(pipe, {"logisticregression__C": [1.0]}))
    assert not _behind_steps(GridSearchCV(fastbp.MLPClassifier(), {"alpha": [1e-4]}))
    nested = GridSearchCV(GridSearchCV(make_pipeline(StandardScaler(), fastbp.MLPClassifier()),
                                       {"mlpclassifier__alpha": [1e-4]}), {"cv": [2]})
    assert _behind_steps(nested)


def test_fit_on_ray_takes_sparse_too(fake_ray, monkeypatch):
    warmed = []
    monkeypatch.setattr(fastbp.search, "_warm",
                        lambda estimators, dtypes, where, sparse=False:
                        warmed.append((tuple(dtypes), sparse)))
    docs, y = _text()
    for sparse in (None, False):
        with pytest.raises(search_tests._RayStarted):
            fit_on_ray(_tfidf_search(np.float32), docs, y, sparse=sparse)
        fake_ray[-1]["worker_process_setup_hook"]()
    assert warmed == [(("float32", "float64"), True), (("float32", "float64"), False)]


@pytest.mark.parametrize("function", [fit_on_dask, fit_on_ray])
def test_sparse_must_be_a_bool_or_none(function):
    # Refused before any cluster work (no client here, and Ray is not
    # installed): "no" is truthy.
    search, X, y = _splitting_search()
    with pytest.raises(TypeError, match=f"{function.__name__}: sparse must be True, False "
                                        "or None \\(auto\\), got 'no'"):
        function(search, X, y, sparse="no")
