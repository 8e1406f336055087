"""The records a fit keeps across partial_fit calls: history_ series whose
cost does not grow with the calls before, and the seeded generator."""

import pickle
import warnings

import numpy as np
import pytest

from fastbp import MLPClassifier
from fastbp.estimators.fit_calls import _fresh_random_state, _seeded_generators
from fastbp.training.progress import Progress, Series


def test_series_append_view_truncate():
    s = Series()
    assert len(s) == 0 and s.view().shape == (0,)
    for i in range(40):  # past the first capacity
        s.append(float(i))
    np.testing.assert_array_equal(s.view(), np.arange(40.0))
    assert s[-1] == 39.0 and not s.view().flags.writeable
    s.truncate(5)
    s.append(99.0)
    np.testing.assert_array_equal(s.view(), [0, 1, 2, 3, 4, 99])
    rows = Series()
    rows.append([1.0, 2.0])
    rows.append([3.0, 4.0])
    assert rows.view().shape == (2, 2)


def test_series_copies_grow_apart():
    a = Series.of([1.0, 2.0])
    held = a.view()
    b = a.copy()
    b.append(3.0)  # shares a's storage: a did not write there
    a.append(-1.0)  # storage already holds b's value there: a forks
    b.append(4.0)
    np.testing.assert_array_equal(a.view(), [1, 2, -1])
    np.testing.assert_array_equal(b.view(), [1, 2, 3, 4])
    np.testing.assert_array_equal(held, [1, 2])


def test_series_and_progress_pickle_by_value():
    p = Progress(early_stopping=False)
    p.history["loss"].append(0.5)
    p.history["grad_norm"].append([1.0, 2.0])
    q = pickle.loads(pickle.dumps(p))
    np.testing.assert_array_equal(q.history["loss"].view(), [0.5])
    assert q.history["grad_norm"].view().shape == (1, 2)
    # A record saved with list histories (before Series) loads as Series.
    state = dict(p.__dict__, history={"loss": [0.25, 0.125], "grad_norm": [[1.0, 2.0]]})
    old = Progress.__new__(Progress)
    old.__setstate__(state)
    assert isinstance(old.history["loss"], Series)
    np.testing.assert_array_equal(old.history["loss"].view(), [0.25, 0.125])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_partial_fit_history_is_kept_by_value_across_calls():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 5))
    y = np.arange(40) % 3
    clf = MLPClassifier((6,), random_state=0, batch_size=16)
    snapshots = []
    for _ in range(25):
        clf.partial_fit(X, y, classes=[0, 1, 2])
        snapshots.append(clf.history_["loss"])
    for n, snap in enumerate(snapshots, start=1):
        assert snap.shape == (n,)
        np.testing.assert_array_equal(snap, clf.loss_curve_[:n])
    assert clf.history_["grad_norm"].shape == (25, 2)
    # A fit from scratch continues with histories of its own.
    before = clf.history_["loss"].copy()
    other = MLPClassifier((6,), random_state=0, batch_size=16, max_iter=3).fit(X, y)
    np.testing.assert_array_equal(clf.history_["loss"], before)
    assert other.history_["loss"].shape == (3,)


def test_fresh_random_state_restarts_the_seed():
    est = MLPClassifier(random_state=7)
    rng = _fresh_random_state(est)
    first = rng.randint(1 << 30, size=5)
    np.testing.assert_array_equal(np.random.RandomState(7).randint(1 << 30, size=5), first)
    # A model fitted once (a search's clones) seeds one generator, not two.
    assert _seeded_generators[est][2] is None
    est._random_state = rng
    # The other kept generator, from the seed: the one the estimator holds
    # stays as it is (a failed call's rollback puts it back).
    again = _fresh_random_state(est)
    assert again is not rng
    np.testing.assert_array_equal(again.randint(1 << 30, size=5), first)
    est._random_state = again
    third = _fresh_random_state(est)
    assert third is rng
    np.testing.assert_array_equal(third.randint(1 << 30, size=5), first)
    # Reseeding in place also forgets a Gaussian draw held back for later.
    third.standard_normal(3)
    est._random_state = again
    fourth = _fresh_random_state(est)
    assert fourth is third
    np.testing.assert_array_equal(fourth.standard_normal(4),
                                  np.random.RandomState(7).standard_normal(4))
    est.set_params(random_state=8)
    np.testing.assert_array_equal(_fresh_random_state(est).randint(1 << 30, size=5),
                                  np.random.RandomState(8).randint(1 << 30, size=5))
    mine = np.random.RandomState(3)
    state = mine.get_state()[1].copy()
    est.set_params(random_state=mine)
    assert _fresh_random_state(est) is mine
    np.testing.assert_array_equal(mine.get_state()[1], state)  # untouched


def test_partial_fit_with_seed_matches_scikit_learn_order():
    # Each call reshuffles from the seed, as scikit-learn does.
    from sklearn.neural_network import MLPClassifier as SkMLP

    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 4))
    y = np.arange(30) % 2
    ours = MLPClassifier((5,), random_state=4, batch_size=8, solver="sgd")
    theirs = SkMLP((5,), random_state=4, batch_size=8, solver="sgd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(4):
            ours.partial_fit(X, y, classes=[0, 1])
            theirs.partial_fit(X, y, classes=[0, 1])
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_series_compare_by_value():
    assert Series.of([1.0, np.nan]) == Series.of([1.0, np.nan])
    assert Series.of([1.0]) != Series.of([1.0, 2.0])
    assert Series.of([[1.0, 2.0]]) != Series.of([[1.0, 3.0]])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("mode", ["partial_fit", "warm_start_early_stopping"])
def test_a_failed_call_cuts_the_shared_curves_back(mode, monkeypatch):
    # loss_curve_ and validation_scores_ are appended in place, as
    # scikit-learn's are; a call that fails after its epochs ran must take
    # its values out again, and the next call go on as if it never ran.
    from fastbp.estimators.base import BaseMLP

    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 4))
    y = np.arange(60) % 3

    def make():
        if mode == "partial_fit":
            return MLPClassifier((5,), random_state=0, batch_size=16)
        return MLPClassifier((5,), random_state=0, max_iter=3, warm_start=True,
                             early_stopping=True, n_iter_no_change=100)

    def call(est):
        if mode == "partial_fit":
            return est.partial_fit(X, y, classes=[0, 1, 2])
        return est.fit(X, y)

    est, twin = make(), make()
    for model in (est, twin):
        call(model)
        call(model)
    curve, scores = est.loss_curve_, est.validation_scores_
    n_curve = len(curve)
    n_scores = None if scores is None else len(scores)

    real = BaseMLP._set_parameters

    def failing(self, *args):
        raise RuntimeError("after training")

    monkeypatch.setattr(BaseMLP, "_set_parameters", failing)
    with pytest.raises(RuntimeError, match="after training"):
        call(est)
    assert est.loss_curve_ is curve and len(curve) == n_curve
    if scores is not None:
        assert est.validation_scores_ is scores and len(scores) == n_scores
    monkeypatch.setattr(BaseMLP, "_set_parameters", real)
    call(est)
    call(twin)
    assert est.loss_curve_ == twin.loss_curve_
    assert est.validation_scores_ == twin.validation_scores_
    for a, b in zip(est.coefs_, twin.coefs_):
        np.testing.assert_array_equal(a, b)


def test_copying_a_progress_leaves_it_as_it_was():
    p = Progress(early_stopping=False)
    p.history["loss"].append(1.0)
    history = p.history
    q = p.copy()
    assert p.history is history and q.history is not history
    q.history["loss"].append(2.0)
    np.testing.assert_array_equal(p.history["loss"].view(), [1.0])
    assert not Series().view().flags.writeable


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_an_unhashable_estimator_subclass_still_fits():
    class Compared(MLPClassifier):
        def __eq__(self, other):  # and so no __hash__
            return self is other

    X = np.random.default_rng(0).standard_normal((20, 3))
    y = np.arange(20) % 2
    a = Compared((4,), random_state=1, max_iter=3).fit(X, y)
    b = MLPClassifier((4,), random_state=1, max_iter=3).fit(X, y)
    for u, v in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(u, v)
