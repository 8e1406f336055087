"""Memory: copies of the input that prediction and training need not make.

helper-79 measured, with tracemalloc, full-size copies of X that
scikit-learn's MLP does not make: each test bounds a peak well below the
input's size where the copy made it at least as large, after a first call
that compiles and fills the caches, and checks that the results are the
same, bit for bit, as with an input that needs no conversion.
"""

import pickle
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import fastbp
from fastbp import MLPClassifier, MLPRegressor
from fastbp.estimators.checks import check_fits_dtype
from fastbp.estimators.classifier import _plain_fit_input
from fastbp.training.data import KernelInput
from fastbp.training.predict import CHUNK

try:
    from .support import quiet
except ImportError:  # run as a plain module
    from support import quiet

# More rows than one kernel chunk: prediction converts X a block at a time.
N_ROWS = 8 * CHUNK + 123
N_FEATURES = 64


def peak_bytes(f):
    """The tracemalloc peak of a call of ``f``, after a first call (kernels
    compiled, caches filled); and the second call's result."""
    f()
    tracemalloc.start()
    try:
        result = f()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, result


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((N_ROWS, N_FEATURES)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    return X, y


@pytest.fixture(scope="module")
def models(data):
    X, y = data
    clf = quiet(MLPClassifier((16,), max_iter=3, random_state=0).fit, X[:500], y[:500])
    reg = quiet(MLPRegressor(hidden_layer_sizes=(16,), max_iter=3, random_state=0).fit,
                X[:500], X[:500, 0])
    return clf, reg


@pytest.mark.parametrize("which", ["clf", "reg"])
def test_predicting_float64_input_with_a_float32_model_copies_no_whole_x(data, models, which):
    # helper-79: check_fits_dtype's np.abs made a float64 temporary of X's
    # size, then a float32 copy of all of X was made (152.6 MiB against
    # scikit-learn's 13.0 for a 153 MiB X).
    X, _ = data
    model = models[0] if which == "clf" else models[1]
    predict = model.predict_proba if which == "clf" else model.predict
    X64 = X.astype(np.float64)
    peak, out = peak_bytes(lambda: predict(X64))
    assert peak < 0.5 * X64.nbytes, peak / X64.nbytes
    np.testing.assert_array_equal(out, predict(X))  # X64 holds X's values exactly
    np.testing.assert_array_equal(out, predict(X64 + 0.0))


@pytest.mark.parametrize("layout", ["F", "DataFrame", "strided"])
def test_predicting_non_contiguous_input_copies_no_whole_x(data, models, layout):
    # helper-79: F-ordered arrays and DataFrames were made C-contiguous
    # whole, on every call (76.9 MiB against scikit-learn's 6.5 for a
    # 76 MiB float32 X).
    X, _ = data
    clf = models[0]
    if layout == "F":
        given = np.asfortranarray(X)
    elif layout == "strided":
        wide = np.repeat(X, 2, axis=1)
        wide[:, ::2] = X
        given = wide[:, ::2]
    else:
        import pandas as pd

        given = pd.DataFrame(X)
        clf = quiet(MLPClassifier((16,), max_iter=3, random_state=0).fit,
                    given.iloc[:500], data[1][:500])
    peak, out = peak_bytes(lambda: clf.predict_proba(given))
    assert peak < 0.5 * X.nbytes, peak / X.nbytes
    np.testing.assert_array_equal(out, clf.predict_proba(np.ascontiguousarray(X)))


def test_checking_that_values_fit_a_dtype_makes_no_temporary(data):
    # helper-79: np.max(np.abs(X)) built an array of X's size (also on
    # every partial_fit of float64 X on a float32 model).
    X64 = data[0].astype(np.float64)
    peak, _ = peak_bytes(lambda: check_fits_dtype(X64, np.float32, "X"))
    assert peak < 0.05 * X64.nbytes
    big = X64.copy()
    big[7, 3] = -1e39
    with pytest.raises(ValueError, match=r"X holds values beyond float32's range \(largest "
                       r"magnitude 1e\+39"):
        check_fits_dtype(big, np.float32, "X")


def test_partial_fit_of_float64_input_on_a_float32_model_copies_x_once(data, models):
    # helper-79: besides the float32 copy the kernels train on, the range
    # check made a float64 temporary of X's size.
    X, y = data
    X64 = X.astype(np.float64)
    clf = models[0]
    states = []

    def step(X_given):
        model = pickle.loads(pickle.dumps(clf))
        model.partial_fit(X_given, y)
        states.append(model.coefs_)

    peak, _ = peak_bytes(lambda: step(X64))
    assert peak < 0.8 * X64.nbytes, peak / X64.nbytes
    step(X)
    for a, b in zip(states[-2], states[-1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("data_dtype", [np.float32, np.float64])
def test_predicting_sparse_input_converts_a_block_at_a_time(models, index_dtype,
                                                            data_dtype):
    # helper-79: the indices were converted to int64 whole on every call
    # (astype copies even int64 ones), and float64 data to float32 whole.
    clf = models[0]
    X = sp.random(N_ROWS, N_FEATURES, density=0.2, format="csr", random_state=0,
                  dtype=np.float32)
    reference = clf.predict_proba(X)
    X = X.astype(data_dtype)
    X.indices = X.indices.astype(index_dtype)
    X.indptr = X.indptr.astype(index_dtype)
    size = X.data.nbytes + X.indices.nbytes
    peak, out = peak_bytes(lambda: clf.predict_proba(X))
    assert peak < 0.5 * size + clf.predict_proba(X[:1]).itemsize * 3 * N_ROWS, peak / size
    np.testing.assert_array_equal(out, reference)
    # The dense path's products are BLAS's, whose order of summation
    # depends on the CPU's kernel (equal bits on an AVX-512 Xeon, 13 % of
    # the entries up to 6 ulp apart on an AVX2 EPYC): equal to float32's
    # rounding, not bit for bit.
    np.testing.assert_allclose(out, clf.predict_proba(X.toarray()), rtol=2e-6, atol=1e-7)


def _csr_with_int64_indices():
    """A float32 CSR X (half its entries stored) with int64 indices, which
    a fit converts to int32 once, and binary labels."""
    X = sp.random(N_ROWS, N_FEATURES, density=0.5, format="csr", random_state=0,
                  dtype=np.float32)
    X.indices = X.indices.astype(np.int64)
    X.indptr = X.indptr.astype(np.int64)
    return X, np.random.RandomState(0).randint(0, 2, N_ROWS)


def test_fitting_sparse_input_with_int64_indices_copies_them_once_as_int32():
    # helper-79: X.indices.astype(np.int64) copied int64 indices too. They
    # are converted to int32 now, once (rev-302: kept as they were, they
    # ran kernels no warm-up had compiled): a copy half their size.
    X, y = _csr_with_int64_indices()

    def fit():
        return MLPClassifier((2,), max_iter=1, batch_size=N_ROWS, random_state=0).fit(X, y)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peak, model = peak_bytes(fit)
        reference = fit().coefs_
        X32 = X.copy()
        X32.indices = X32.indices.astype(np.int32)
        X32.indptr = X32.indptr.astype(np.int32)
        from_int32 = MLPClassifier((2,), max_iter=1, batch_size=N_ROWS,
                                   random_state=0).fit(X32, y).coefs_
    assert peak < X.indices.nbytes, peak / X.indices.nbytes
    for a, b, c in zip(model.coefs_, reference, from_int32):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_the_classifiers_plain_input_check_builds_no_boolean_array(data):
    # helper-79: np.isfinite(X).all() built a boolean array of X's size on
    # every fit of a plain float array (19.1 MiB against scikit-learn's 5.3).
    X, y = data
    peak, plain = peak_bytes(lambda: _plain_fit_input(X, y))
    assert plain
    assert peak < 0.05 * X.nbytes, peak / X.nbytes
    bad = X.copy()
    bad[5, 5] = np.nan
    assert not _plain_fit_input(bad, y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        MLPClassifier((2,), max_iter=1).fit(bad, y)


@pytest.mark.parametrize("solver", ["sgd", "rmsprop", "adagrad", "adam", "adamw"])
def test_only_adam_keeps_a_second_optimizer_state(data, solver):
    # helper-79: sgd, rmsprop and adagrad allocated, copied at every
    # partial_fit and epoch checkpoint, and saved a second state of every
    # parameter that they never read.
    X, y = data
    X, y = X[:300], y[:300]
    model = quiet(MLPClassifier((8,), solver=solver, max_iter=3, random_state=0).fit, X, y)
    model.partial_fit(X, y)
    n_params = model._optimizer.state_1.size
    assert model._optimizer.state_2.size == (n_params if solver.startswith("adam") else 0)


@pytest.mark.parametrize("solver", ["sgd", "rmsprop", "adagrad"])
def test_models_saved_with_a_full_second_state_go_on_as_before(data, tmp_path, solver):
    # helper-79: models saved before the change hold a state_2 of zeros for
    # every solver: they load, and train on exactly as without it.
    X, y = data
    X, y = X[:300], y[:300]
    model = quiet(MLPClassifier((8,), solver=solver, max_iter=2, random_state=0).fit, X, y)
    old = pickle.loads(pickle.dumps(model))
    old._optimizer.state_2 = np.zeros_like(old._optimizer.state_1)
    fastbp.save(old, tmp_path / "old.skops")
    loaded = fastbp.load(tmp_path / "old.skops")
    for resumed in (old, loaded):
        resumed.partial_fit(X, y)
    model.partial_fit(X, y)
    for resumed in (old, loaded):
        for a, b in zip(resumed.coefs_, model.coefs_):
            np.testing.assert_array_equal(a, b)
        assert resumed._optimizer.state_2.size == 0  # left behind
    short = pickle.loads(pickle.dumps(model))
    short._optimizer.state_2 = np.zeros(3)
    with pytest.raises(ValueError, match=r"state_2 is an array of shape \(3,\).* \(or none\)"):
        short.partial_fit(X, y)


def test_early_stopping_copies_the_validation_rows_of_x_once(data):
    # helper-79: the validation rows were copied twice, once for the
    # kernels and once for a scorer, which only scoring of scikit-learn's
    # kind (a name but "loss", a callable) reads.
    X, y = data
    X64 = X.astype(np.float64)

    def fit(**params):
        return MLPClassifier((2,), max_iter=1, early_stopping=True, validation_fraction=0.5,
                             random_state=0, **params).fit(X64, y)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peak, model = peak_bytes(fit)
        scored = fit(scoring="accuracy")
    assert peak < 0.85 * X64.nbytes, peak / X64.nbytes
    np.testing.assert_array_equal(model.coefs_[0], scored.coefs_[0])
    assert model.validation_scores_ == scored.validation_scores_


def test_early_stopping_takes_the_validation_rows_of_sparse_x_without_copying_x():
    # helper-104: KernelInput.take built a scipy matrix of the whole CSR
    # input to take its validation rows, and scipy's constructor converted
    # int64 indices that fit int32, copying all of them (12.8 MB against
    # 1.0 MB without early stopping, for 16 MB of indices). The int32
    # conversion of int64 indices is a copy half their size (rev-302).
    X, y = _csr_with_int64_indices()

    def fit():
        return MLPClassifier((2,), max_iter=1, batch_size=N_ROWS, early_stopping=True,
                             validation_fraction=0.1, random_state=0).fit(X, y)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peak, model = peak_bytes(fit)
        dense = MLPClassifier((2,), max_iter=1, batch_size=N_ROWS, early_stopping=True,
                              validation_fraction=0.1, random_state=0).fit(X.toarray(), y)
    assert peak < X.indices.nbytes, peak / X.indices.nbytes
    for a, b in zip(model.coefs_, dense.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert model.validation_scores_ == dense.validation_scores_


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_kernel_input_take_gathers_the_rows_of_sparse_x(index_dtype):
    # helper-104: take's gather of CSR rows, against scipy's row indexing:
    # any order, repeated rows, empty rows, no rows.
    A = sp.random(50, 7, density=0.3, random_state=0).toarray()
    A[5] = 0
    X = sp.csr_matrix(A)
    X.indices = X.indices.astype(index_dtype)
    X.indptr = X.indptr.astype(index_dtype)
    inp = KernelInput(X)
    for rows in ([], [5], [3, 1, 3, 49, 5, 0], np.arange(50)[::-1]):
        rows = np.asarray(rows, dtype=np.int64)
        got = inp.take(rows)
        assert (got.n_samples, got.n_features) == (len(rows), 7)
        # One index dtype for the kernels (fix-299, rev-302).
        assert got.indices.dtype == got.indptr.dtype == np.int32
        taken = sp.csr_matrix((got.data, got.indices, got.indptr), shape=(len(rows), 7))
        np.testing.assert_array_equal(taken.toarray(), X[rows].toarray())


def _workspace_bytes(workspace):
    """The bytes of a workspace's buffers."""
    return sum(a.nbytes for a in vars(workspace).values() if isinstance(a, np.ndarray))


def test_spare_work_buffers_are_kept_for_the_last_few_models_trained_only(data):
    # helper-133: each model trained with partial_fit kept its last call's
    # work buffers for as long as it lived, unseen by pickle and
    # sys.getsizeof (20 MNIST-sized models held 4.55 MB each, against
    # 2.14 MB of weights).
    from fastbp.estimators.fit_calls import _spare_workspaces

    X, y = data
    classes = np.unique(y)
    most = _spare_workspaces.most
    models = []
    for seed in range(3 * most):
        model = MLPClassifier((16,), batch_size=32, random_state=seed)
        models.append(model.partial_fit(X[:100], y[:100], classes=classes))
    spares = [_spare_workspaces.get(m) for m in models]
    held = [s for s in spares if s is not None]
    assert 0 < len(held) <= most, len(held)
    assert len(_spare_workspaces) <= most
    # The last models trained keep theirs.
    assert all(s is not None for s in spares[-len(held):])
    one = _workspace_bytes(held[-1])
    assert sum(map(_workspace_bytes, held)) <= most * one

    # A stream keeps reusing its buffers, and so do streams that take
    # turns, as many as the store keeps.
    streams = models[:most]
    for _ in range(3):
        for model in streams:
            before = _spare_workspaces.get(model)
            model.partial_fit(X[100:200], y[100:200])
            after = _spare_workspaces.get(model)
            assert after is not None
            assert before is None or after is before
    assert all(_spare_workspaces.get(m) is not None for m in streams)
    assert all(_spare_workspaces.get(m) is None for m in models[most:])


def test_the_spare_store_hands_a_spare_to_one_call_at_a_time_under_threads():
    # helper-133: the store evicts its oldest spares while concurrent calls
    # take and keep theirs; it must neither fail nor hand one spare to two
    # calls at once (two threads share each key, as concurrent calls of one
    # model do, and models come and go). A smoke test: the races it looks
    # for need a thread switch inside a few bytecodes.
    import sys
    import threading

    from fastbp.estimators.fit_calls import _RecentSpares, _keep, _take

    class Model:
        pass

    store = _RecentSpares(2)
    in_use, guard, errors = set(), threading.Lock(), []

    def stream(model):
        try:
            for i in range(3000):
                spare = _take(store, model)
                if spare is None:
                    spare = object()
                with guard:
                    assert id(spare) not in in_use
                    in_use.add(id(spare))
                with guard:
                    in_use.discard(id(spare))
                _keep(store, model, spare)
                if i % 500 == 0:
                    _keep(store, Model(), object())  # a model that dies at once
        except Exception as exc:  # reported below, from the main thread
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        models = [Model() for _ in range(4)]
        threads = [threading.Thread(target=stream, args=(m,)) for m in models + models]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors
    assert len(store) <= store.most
