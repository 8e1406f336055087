"""fix-244: three findings of reviews 236 and 237 on the estimators.

(A) rev-236: a pickle, joblib.dump or deepcopy of the estimator being
trained, made from a callback hook, saved a model whose parts did not
match (the previous call's weights and history with a loss curve that
already held this call's epochs; a first fit's initial weights as a fitted
model). It now holds the model as it was before the call, with a warning.
(B) rev-237: predict converted a whole integer np.memmap or integer
DataFrame to float64 first.
(C) rev-237: a warm fit of a float32 model refused integer or list X as
"float64", which the caller never passed.
"""

import copy
import pickle
import threading
import tracemalloc
import warnings

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from fastbp import MLPClassifier, MLPRegressor
from fastbp.estimators.callbacks import HAVE_CALLBACKS

try:
    from .support import Hook, quiet
except ImportError:
    from support import Hook, quiet

# (scikit-learn 1.7 and 1.8 have no callback API.)
needs_callbacks = pytest.mark.skipif(not HAVE_CALLBACKS, reason="needs sklearn.callback")

_BEING_FITTED = "is being fitted"


class _Inert(Hook):
    """A Hook that pickles as one that does nothing (its functions are
    local ones, which pickle cannot save; the copies hold the callbacks)."""

    def __reduce__(self):
        return (_Inert, ())


def _data(n=120, d=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.rand(n, d).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    return X, y


def _state(model):
    """What a consistent copy must match: the fitted attributes that
    describe the training so far."""
    return {"n_iter_": model.n_iter_, "t_": model.t_,
            "loss_curve_": list(model.loss_curve_),
            "history_loss": model.history_["loss"].copy(),
            "coefs_": [c.copy() for c in model.coefs_],
            "intercepts_": [b.copy() for b in model.intercepts_]}


def _assert_matches(copy_, before):
    assert copy_.n_iter_ == before["n_iter_"]
    assert copy_.t_ == before["t_"]
    # (n_iter_ counts the epochs of the last call; the curves, of all.)
    assert len(copy_.loss_curve_) == len(copy_.history_["loss"])
    assert list(copy_.loss_curve_) == before["loss_curve_"]
    np.testing.assert_array_equal(copy_.history_["loss"], before["history_loss"])
    for got, want in zip(copy_.coefs_ + copy_.intercepts_,
                         before["coefs_"] + before["intercepts_"]):
        np.testing.assert_array_equal(got, want)


def _dumping_hook(tmp_path, model, record):
    """A Hook that joblib.dumps the live estimator at every epoch's end,
    recording the warnings that says."""

    def on_epoch(estimator, fitted, context):
        path = tmp_path / f"checkpoint{len(record['paths'])}.joblib"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            joblib.dump(estimator, path)
        record["paths"].append(path)
        record["warnings"].extend(str(w.message) for w in caught
                                  if issubclass(w.category, UserWarning))
        # The hook's own snapshot is this epoch's model, as before.
        record["fitted_n_iter"].append(fitted.n_iter_)

    return _Inert(on_epoch=on_epoch)


def _record():
    return {"paths": [], "warnings": [], "fitted_n_iter": []}


@needs_callbacks
def test_a_checkpoint_of_a_partial_fit_holds_the_model_before_the_call(tmp_path):
    X, y = _data()
    model = MLPClassifier((5,), random_state=0)
    for _ in range(3):
        quiet(model.partial_fit, X, y, classes=[0, 1])
    before = _state(model)
    record = _record()
    model.set_callbacks(_dumping_hook(tmp_path, model, record))
    quiet(model.partial_fit, X, y)

    assert len(record["paths"]) == 1
    checkpoint = joblib.load(record["paths"][0])
    # (The repro: t_ 480, a loss curve of 4 epochs, a history of 3.)
    _assert_matches(checkpoint, before)
    assert len(before["loss_curve_"]) == 3 and before["t_"] == 3 * len(X)
    assert len(record["warnings"]) == 1
    assert _BEING_FITTED in record["warnings"][0]
    assert "fitted_estimator" in record["warnings"][0]
    # The live estimator went on as if nothing had copied it.
    assert len(model.loss_curve_) == len(model.history_["loss"]) == 4
    assert model.t_ == 4 * len(X)


@needs_callbacks
def test_a_checkpoint_of_a_warm_fit_holds_the_model_before_the_call(tmp_path):
    X, y = _data()
    model = MLPClassifier((5,), max_iter=3, warm_start=True, random_state=0)
    quiet(model.fit, X, y)
    before = _state(model)
    record = _record()
    model.set_callbacks(_dumping_hook(tmp_path, model, record))
    quiet(model.fit, X, y)

    assert len(record["paths"]) == 3
    for path in record["paths"]:
        _assert_matches(joblib.load(path), before)
    # Once per call.
    assert len(record["warnings"]) == 1 and _BEING_FITTED in record["warnings"][0]
    assert record["fitted_n_iter"] == [1, 2, 3]

    # The live model is the one a fit without the copies trains.
    reference = MLPClassifier((5,), max_iter=3, warm_start=True, random_state=0)
    quiet(reference.fit, X, y)
    quiet(reference.fit, X, y)
    assert len(model.loss_curve_) == len(reference.loss_curve_) == 6
    assert list(model.loss_curve_) == list(reference.loss_curve_)
    for got, want in zip(model.coefs_, reference.coefs_):
        np.testing.assert_array_equal(got, want)


@needs_callbacks
def test_a_checkpoint_of_a_first_fit_is_not_fitted(tmp_path):
    X, y = _data()
    model = MLPClassifier((5,), max_iter=2, random_state=0)
    record = _record()
    model.set_callbacks(_dumping_hook(tmp_path, model, record))
    quiet(model.fit, X, y)

    assert len(record["paths"]) == 2
    for path in record["paths"]:
        checkpoint = joblib.load(path)
        with pytest.raises(NotFittedError):
            check_is_fitted(checkpoint)
        assert not hasattr(checkpoint, "loss_curve_")
        # Still a model to fit.
        quiet(checkpoint.fit, X, y)
        assert checkpoint.n_iter_ == 2
    assert len(record["warnings"]) == 1 and _BEING_FITTED in record["warnings"][0]


def _generator_state(rng):
    kind, keys, pos, has_gauss, gauss = rng.get_state()
    return keys.tobytes(), pos, has_gauss, gauss


@needs_callbacks
def test_a_deepcopy_of_a_regressor_in_its_hook_holds_the_model_before(tmp_path):
    # copy.deepcopy and pickle as joblib: the same state; a RandomState
    # random_state as the rollback would rewind it.
    rng = np.random.RandomState(0)
    X = rng.rand(80, 4)
    y = X.sum(axis=1)
    model = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, warm_start=True,
                         random_state=np.random.RandomState(1))
    quiet(model.fit, X, y)
    before = _state(model)
    generator = _generator_state(model.random_state)
    copies = []

    def on_epoch(estimator, fitted, context):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            copies.append(copy.deepcopy(estimator))
            copies.append(pickle.loads(pickle.dumps(estimator)))

    model.set_callbacks(_Inert(on_epoch=on_epoch))
    quiet(model.fit, X, y)
    assert len(copies) == 4
    for made in copies:
        _assert_matches(made, before)
        assert _generator_state(made.random_state) == generator
    # The live generator was not rewound by the copies.
    assert _generator_state(model.random_state) != generator


def test_pickling_a_fitted_model_is_unchanged_and_quiet():
    X, y = _data()
    model = quiet(MLPClassifier((5,), max_iter=3, random_state=0).fit, X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for made in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model),
                     copy.copy(model)):
            _assert_matches(made, _state(model))
            np.testing.assert_array_equal(made.predict_proba(X), model.predict_proba(X))


@needs_callbacks
def test_the_root_hook_pickles_the_trained_model_without_a_warning(tmp_path):
    X, y = _data()
    saved = []

    def on_root(estimator, fitted, context):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            saved.append(pickle.dumps(estimator))

    model = MLPClassifier((5,), max_iter=3, random_state=0).set_callbacks(_Inert(on_root=on_root))
    quiet(model.fit, X, y)
    assert len(saved) == 1
    _assert_matches(pickle.loads(saved[0]), _state(model))


@needs_callbacks
def test_copies_from_another_thread_during_a_fit():
    X, y = _data()
    model = MLPClassifier((5,), max_iter=2, warm_start=True, random_state=0)
    quiet(model.fit, X, y)
    before = _state(model)
    in_hook, release = threading.Event(), threading.Event()
    failures = []

    def on_epoch(estimator, fitted, context):
        if not in_hook.is_set():
            in_hook.set()
            release.wait(60)

    def train():
        try:
            quiet(model.fit, X, y)
        except BaseException as exc:  # reported below
            failures.append(exc)

    model.set_callbacks(_Inert(on_epoch=on_epoch))
    thread = threading.Thread(target=train)
    thread.start()
    try:
        assert in_hook.wait(60)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            copied = copy.deepcopy(model)
            pickled = pickle.loads(pickle.dumps(model))
            cloned = clone(model)
    finally:
        release.set()
        thread.join(60)
    assert not failures
    _assert_matches(copied, before)
    _assert_matches(pickled, before)
    assert not hasattr(cloned, "coefs_") and cloned.get_params()["max_iter"] == 2
    assert sum(_BEING_FITTED in str(w.message) for w in caught) == 1
    assert len(model.loss_curve_) == 4


# ------------------------------------------------------------------ (B)

def _peak(fn, *args):
    tracemalloc.start()
    try:
        out = fn(*args)
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def uint8_problem():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(20000, 100)).astype(np.uint8)
    y = rng.randint(0, 3, size=len(X))
    model = quiet(MLPClassifier((8,), max_iter=2, random_state=0).fit,
                  X[:500].astype(np.float32) / 255, y[:500])
    return model, X


def test_predict_keeps_an_integer_memmap_as_it_is(tmp_path, uint8_problem):
    model, X = uint8_problem
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    assert isinstance(mapped, np.memmap)
    expected = model.predict_proba(X)
    out, peak = _peak(model.predict_proba, mapped)
    np.testing.assert_array_equal(out, expected)
    assert peak < X.size * 8 / 4  # a float64 copy of X: 16 MB


def test_predict_keeps_an_integer_dataframe_as_it_is(uint8_problem):
    pd = pytest.importorskip("pandas")
    model, X = uint8_problem
    frame = pd.DataFrame(X)
    expected = model.predict_proba(X)
    out, peak = _peak(model.predict_proba, frame)
    np.testing.assert_array_equal(out, expected)
    assert peak < X.size * 8 / 4


def test_integer_dataframes_keep_their_feature_name_checks():
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    columns = ["a", "b", "c"]
    X = rng.randint(0, 5, size=(60, 3)).astype(np.uint8)
    y = rng.randint(0, 2, size=60)
    model = quiet(MLPClassifier((4,), max_iter=2, random_state=0).fit,
                  pd.DataFrame(X.astype(np.float32), columns=columns), y)
    expected = model.predict_proba(pd.DataFrame(X.astype(np.float32), columns=columns))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(model.predict_proba(pd.DataFrame(X, columns=columns)),
                                   expected)
    with pytest.warns(UserWarning, match="feature names"):
        model.predict_proba(X)
    with pytest.raises(ValueError, match="feature names"):
        model.predict_proba(pd.DataFrame(X, columns=["a", "c", "b"]))
    # An unnamed model warns about a named integer frame, as before.
    unnamed = quiet(MLPClassifier((4,), max_iter=2, random_state=0).fit,
                    X.astype(np.float32), y)
    with pytest.warns(UserWarning, match="feature names"):
        unnamed.predict_proba(pd.DataFrame(X, columns=columns))


# ------------------------------------------------------------------ (C)

@pytest.mark.parametrize("given", ["int8", "list"])
def test_a_warm_fit_converts_x_without_a_float_dtype(given):
    X, y = _data()
    model = quiet(MLPClassifier((4,), max_iter=2, warm_start=True, random_state=0).fit, X, y)
    data = (X * 10).astype(np.int8) if given == "int8" else X.tolist()
    quiet(model.fit, data, y)
    assert model.coefs_[0].dtype == np.float32
    # What partial_fit does with the same X, from the same model.
    reference = quiet(MLPClassifier((4,), max_iter=2, warm_start=True, random_state=0).fit,
                      X, y)
    expected = (X * 10).astype(np.int8).astype(np.float32) if given == "int8" else X
    quiet(reference.fit, expected, y)
    for got, want in zip(model.coefs_, reference.coefs_):
        np.testing.assert_array_equal(got, want)


def test_a_warm_fit_still_refuses_the_other_float_dtype_naming_it():
    X, y = _data()
    model = quiet(MLPClassifier((4,), max_iter=2, warm_start=True, random_state=0).fit, X, y)
    coefs = [c.copy() for c in model.coefs_]
    with pytest.raises(ValueError, match="X has dtype float64 but the model was fitted "
                                         "with float32"):
        model.fit(X.astype(np.float64), y)
    for got, want in zip(model.coefs_, coefs):
        np.testing.assert_array_equal(got, want)
    wide = quiet(MLPClassifier((4,), max_iter=2, warm_start=True, random_state=0).fit,
                 X.astype(np.float64), y)
    with pytest.raises(ValueError, match="X has dtype float32 but the model was fitted "
                                         "with float64"):
        wide.fit(X, y)
    # partial_fit converts, as before.
    quiet(model.partial_fit, X.astype(np.float64), y)
    assert model.coefs_[0].dtype == np.float32
