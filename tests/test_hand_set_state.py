"""Weights and fitted attributes set by hand, and what a fit call keeps or
gives back around them (helper-154's review)."""

import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn import neural_network as sknn

import fastbp
from fastbp import MLPClassifier, MLPRegressor
from fastbp.exceptions import quiet_in_this_thread


def _hand_set(model, rng, units):
    model.coefs_ = [rng.normal(size=shape) for shape in zip(units[:-1], units[1:])]
    model.intercepts_ = [rng.normal(size=n) for n in units[1:]]
    return model


class _Hooks:
    """A callback with scikit-learn's hooks, which calls ``begin(estimator)``
    and ``end(estimator, n)`` (``n``: the calls of the end hook so far)."""

    def __init__(self, begin=None, end=None):
        self.begin, self.end, self.n = begin, end, 0

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, **kwargs):
        if self.begin is not None:
            self.begin(estimator)

    def on_fit_task_end(self, estimator, context, **kwargs):
        self.n += 1
        if self.end is not None:
            self.end(estimator, self.n)
        return False


# helper-154, finding 1: set_params threw away what was edited in place in
# the state filled in for weights set by hand (a bias folded into
# running_mean_, as fastbp's own error advises), and a parameter assigned
# directly was ignored after the first predict.

def test_a_bias_folded_into_running_mean_survives_set_params():
    rng = np.random.RandomState(0)
    X = rng.randn(5, 3)
    model = MLPRegressor(hidden_layer_sizes=(4,), normalization="batch")
    model.coefs_ = [rng.randn(3, 4), rng.randn(4, 1)]
    model.intercepts_ = [rng.randn(4), rng.randn(1)]
    with pytest.raises(ValueError, match=r"subtract intercepts_\[0\] from running_mean_\[0\]"):
        model.predict(X)
    model.running_mean_[0] -= model.intercepts_[0]
    model.running_var_[0][:] = 2.0
    model.intercepts_[0] = np.zeros(4)
    folded = model.running_mean_[0].copy()
    before = model.predict(X)
    model.set_params(verbose=False)
    np.testing.assert_array_equal(model.predict(X), before)
    np.testing.assert_array_equal(model.running_mean_[0], folded)
    np.testing.assert_array_equal(model.running_var_[0], 2.0)
    # A parameter they derive from still fills them in again.
    model.set_params(normalization=None)
    assert model.predict(X).shape == (5,) and model.running_mean_ == []


def test_a_parameter_assigned_directly_is_followed_as_scikit_learn_does():
    rng = np.random.RandomState(0)
    X = rng.randn(8, 3)
    coefs, intercepts = [rng.randn(3, 4), rng.randn(4, 1)], [rng.randn(4), rng.randn(1)]
    ours, ref = MLPRegressor(hidden_layer_sizes=(4,)), sknn.MLPRegressor(hidden_layer_sizes=(4,))
    for m in (ours, ref):
        m.coefs_, m.intercepts_ = list(coefs), list(intercepts)
    ref.n_layers_, ref.out_activation_, ref.n_outputs_, ref.n_features_in_ = 3, "identity", 1, 3
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-12)
    for m in (ours, ref):
        m.activation = "logistic"
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-12)
    assert ours._activations == ["logistic"]


# helper-154, finding 4: a hook's set_params during the first partial_fit
# on weights set by hand dropped the filled-in fitted attributes.

def test_set_params_in_a_hook_of_the_first_partial_fit_keeps_the_fitted_attributes(tmp_path):
    rng = np.random.RandomState(0)
    X, y = rng.randn(20, 3), rng.randn(20)
    model = _hand_set(MLPRegressor(hidden_layer_sizes=(4,)), rng, [3, 4, 1])
    model.predict(X)
    model.set_callbacks(_Hooks(begin=lambda est: est.set_params(learning_rate_init=0.01)))
    model.partial_fit(X, y)
    assert (model.n_features_in_, model.n_outputs_, model.n_layers_) == (3, 1, 3)
    assert model.out_activation_ == "identity"
    assert "_filled_state" not in model.__dict__
    model.set_callbacks()
    fastbp.save(model, tmp_path / "m.fastbp")
    np.testing.assert_array_equal(fastbp.load(tmp_path / "m.fastbp").predict(X), model.predict(X))


# helper-154, finding 2: a call rolled back after a Ctrl-C still gave the
# held "the model keeps the state at the end of the last one" warning.

def test_a_rolled_back_call_gives_no_warning_that_the_model_was_kept():
    rng = np.random.RandomState(0)
    X, y = rng.randn(40, 3), rng.randn(40)

    def end(estimator, n):
        if n == 2:
            raise KeyboardInterrupt  # Ctrl-C at the end of epoch 2
        if n == 3:
            raise RuntimeError("checkpoint upload failed")  # the root task's end

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    before, n_iter = model.coefs_[0].copy(), model.n_iter_
    model.set_params(warm_start=True).set_callbacks(_Hooks(end=end))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match="checkpoint upload failed") as raised:
            model.fit(X, y)
    np.testing.assert_array_equal(model.coefs_[0], before)
    assert model.n_iter_ == n_iter
    assert not [w for w in caught if "interrupted by user" in str(w.message)], [
        str(w.message) for w in caught]
    if sys.version_info >= (3, 11):
        notes = "".join(getattr(raised.value, "__notes__", []))
        assert "undid" in notes and "interrupted by user after 2 complete epoch" in notes


# helper-154, finding 3: a warning given once per process, said inside a
# warm-up's quiet section, was recorded there and never shown, its
# once-flag set.

@pytest.mark.parametrize("module", ["ahead", "split"])
def test_an_unknown_environment_value_is_warned_about_inside_a_quiet_section(monkeypatch,
                                                                             module):
    from fastbp.training import ahead, split

    mod = {"ahead": ahead, "split": split}[module]
    read = {"ahead": ahead._mode, "split": split._switched_off}[module]
    monkeypatch.setenv(mod.ENV, "bogus")
    monkeypatch.setattr(mod, "_warned_mode", False)
    with pytest.warns(RuntimeWarning, match=f"{mod.ENV}='bogus' is not one of"):
        with quiet_in_this_thread() as recorded:
            read()
    assert recorded == []


def test_an_unknown_environment_value_is_warned_about_after_a_warm_up(monkeypatch):
    from fastbp.training import split

    monkeypatch.setenv(split.ENV, "bogus")
    monkeypatch.setattr(split, "_warned_mode", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fastbp.warmup(MLPClassifier((8,)), dtypes=["float64"])
        X = np.random.RandomState(0).randn(400, 50)
        MLPClassifier((100,), max_iter=1).fit(X, (X[:, 0] > 0).astype(int))
    assert any("FASTBP_SPLIT='bogus'" in str(w.message) for w in caught), [
        str(w.message) for w in caught]


def test_oversubscription_is_warned_about_inside_a_quiet_section(monkeypatch):
    from fastbp.training import threads

    monkeypatch.setattr(threads, "cpu_count", lambda: 1)
    with pytest.warns(fastbp.OversubscriptionWarning, match="fits are running at once"):
        with quiet_in_this_thread() as recorded:
            assert threads._warn_if_oversubscribed(2)
    assert recorded == []


# helper-154, finding 5: to_sklearn of a fitted model whose coefs_ were
# replaced by ones that do not chain returned a copy that failed at predict.

def test_to_sklearn_names_fitted_weights_that_no_longer_chain():
    rng = np.random.RandomState(0)
    X, y = rng.randn(30, 3), rng.randn(30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPRegressor(hidden_layer_sizes=(4, 5), max_iter=3, random_state=0).fit(X, y)
    model.coefs_ = [model.coefs_[0], rng.randn(6, 5), model.coefs_[2]]
    with pytest.raises(ValueError, match=r"cannot become a scikit-learn MLP: its weights do "
                                         r"not fit together: coefs_\[1\] .*needs 4 rows"):
        model.to_sklearn()


# helper-154, finding 6: classes_ set by hand with the weights were not
# used: predict said "no classes", partial_fit raised AttributeError.

def _hand_set_classifier(rng, classes=(0, 1, 2), n_out=3):
    model = _hand_set(MLPClassifier(hidden_layer_sizes=(4,), random_state=0), rng,
                      [3, 4, n_out])
    model.classes_ = np.asarray(classes)
    return model


def test_classes_set_by_hand_decode_the_outputs():
    rng = np.random.RandomState(0)
    X, y = rng.randn(20, 3), rng.randint(0, 3, 20)
    model = _hand_set_classifier(np.random.RandomState(1))
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)  # softmax: multiclass
    np.testing.assert_array_equal(model.predict(X), model.classes_[proba.argmax(axis=1)])
    for kwargs in ({"classes": [0, 1, 2]}, {}):
        trained = _hand_set_classifier(np.random.RandomState(1))
        trained.partial_fit(X, y, **kwargs)
        assert trained.n_iter_ == 1 and list(trained.classes_) == [0, 1, 2]
        assert trained.predict(X).shape == (20,)
    expected = _hand_set(MLPClassifier(hidden_layer_sizes=(4,), random_state=0),
                         np.random.RandomState(1), [3, 4, 3]).partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(trained.coefs_[0], expected.coefs_[0])
    with pytest.raises(ValueError, match="classes"):
        _hand_set_classifier(np.random.RandomState(1)).partial_fit(X, y, classes=[0, 1, 2, 3])


@pytest.mark.parametrize("classes, n_out, message", [
    ([2, 0, 1], 3, "sorted, unique labels"),
    ([0, 0, 1], 3, "sorted, unique labels"),
    ([[0, 1, 2]], 3, "sorted, unique labels"),
    ([0, 1, 2, 3], 3, r"name 4 class\(es\), which need 4 output unit\(s\), but coefs_\[-1\] "
                      r"gives 3"),
])
def test_classes_set_by_hand_that_cannot_decode_the_outputs_are_named(classes, n_out, message):
    model = _hand_set_classifier(np.random.RandomState(1), classes, n_out)
    with pytest.raises(ValueError, match=f"classes_ set by hand .*{message}"):
        model.predict(np.zeros((2, 3)))


# helper-154, finding 7: predictions of a multilabel model fitted on a
# sparse y were a csr_matrix whatever scikit-learn's sparse_interface said.

def test_multilabel_predictions_follow_the_sparse_interface_setting():
    from sklearn.datasets import make_multilabel_classification

    X, Y = make_multilabel_classification(60, 5, n_classes=3, random_state=0)
    for interface, kind in (("sparray", sp.csr_array), ("spmatrix", sp.csr_matrix)):
        with sklearn.config_context(sparse_interface=interface), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = MLPClassifier((5,), max_iter=5, random_state=0).fit(X, sp.csr_matrix(Y))
            ref = sknn.MLPClassifier((5,), max_iter=5, random_state=0).fit(X, sp.csr_matrix(Y))
            assert type(ours.predict(X)) is type(ref.predict(X)) is kind
