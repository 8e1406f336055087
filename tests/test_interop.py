"""to_sklearn / from_sklearn, and models whose weights were set by hand."""


import copy
import warnings

import numpy as np
import pytest
from sklearn import neural_network as sknn
from sklearn.datasets import load_digits
from sklearn.inspection import permutation_importance

from fastbp import MLPClassifier, MLPRegressor

try:
    from .support import quiet
except ImportError:  # run as a plain module
    from support import quiet


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:500] / 16.0, y[:500]


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs", "rmsprop"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_sklearn_predicts_the_same(digits, activation, solver, dtype):
    X, y = digits
    X = X.astype(dtype)
    est = quiet(MLPClassifier((9, 7), activation=activation, solver=solver, max_iter=3,
                              dropout=0.1 if solver != "lbfgs" else 0.0,
                              random_state=0).fit, X, y)
    sk = est.to_sklearn()
    assert type(sk) is sknn.MLPClassifier
    np.testing.assert_array_equal(sk.predict(X), est.predict(X))
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(sk.predict_proba(X), est.predict_proba(X), atol=tol)
    assert sk.n_iter_ == est.n_iter_ and sk.classes_.tolist() == est.classes_.tolist()


@pytest.mark.parametrize("hidden, activation", [
    ((8, 8), ["relu", "relu"]),  # per layer, one name: a list scikit-learn cannot hash
    ((5,), ["tanh"]),
    ((), "gelu"),  # no hidden layer: the activation is never applied
])
def test_to_sklearn_copy_predicts_and_trains(digits, hidden, activation):
    from sklearn.base import clone

    X, y = digits
    est = quiet(MLPClassifier(hidden, activation=activation, max_iter=3,
                              random_state=0).fit, X, y)
    sk = est.to_sklearn()
    assert isinstance(sk.activation, str)
    np.testing.assert_allclose(sk.predict_proba(X), est.predict_proba(X), atol=1e-13)
    quiet(sk.partial_fit, X, y)
    quiet(clone(sk).fit, X, y)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_regressor_to_sklearn(digits, loss):
    X, y = digits
    est = quiet(MLPRegressor(hidden_layer_sizes=(8,), loss=loss, max_iter=3,
                             random_state=0).fit, X, (y % 4).astype(float))
    sk = est.to_sklearn()
    assert type(sk) is sknn.MLPRegressor
    np.testing.assert_allclose(sk.predict(X), est.predict(X), rtol=1e-13, atol=1e-13)
    assert sk.score(X, y % 4) == pytest.approx(est.score(X, y % 4), abs=1e-12)


def test_sklearn_tools_work_on_the_copy(digits):
    X, y = digits
    sk = quiet(MLPClassifier((8,), max_iter=3, random_state=0).fit, X, y).to_sklearn()
    result = permutation_importance(sk, X[:100], y[:100], n_repeats=2, random_state=0)
    assert result.importances_mean.shape == (X.shape[1],)


@pytest.mark.parametrize("params, reason", [
    (dict(activation="gelu"), "activation='gelu' is not one of scikit-learn's"),
    (dict(activation=["relu", "tanh"]), "different activations"),
    (dict(normalization="batch"), "normalization='batch'"),
    (dict(residual=True), "residual connections"),
])
def test_to_sklearn_refuses_what_sklearn_cannot_represent(digits, params, reason):
    X, y = digits
    est = quiet(MLPClassifier((6, 6), max_iter=2, random_state=0, **params).fit, X, y)
    with pytest.raises(ValueError, match=f"cannot become a scikit-learn MLP: .*{reason}"):
        est.to_sklearn()


def test_to_sklearn_needs_a_fitted_model():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MLPClassifier().to_sklearn()


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_from_sklearn_continues_as_sklearn_would(digits, solver):
    X, y = digits
    sk = quiet(sknn.MLPClassifier((10,), solver=solver, max_iter=3, random_state=0).fit, X, y)
    est = MLPClassifier.from_sklearn(sk)
    np.testing.assert_allclose(est.predict_proba(X), sk.predict_proba(X), atol=1e-14)
    for _ in range(2):
        quiet(sk.partial_fit, X, y)
        quiet(est.partial_fit, X, y)
    for a, b in zip(est.coefs_ + est.intercepts_, sk.coefs_ + sk.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)
    assert est.loss_ == pytest.approx(sk.loss_, rel=1e-14)
    assert est.loss_curve_ == pytest.approx(sk.loss_curve_, rel=1e-14)


@pytest.mark.parametrize("params", [{"solver": "adam"},
                                    {"solver": "sgd", "learning_rate": "invscaling"},
                                    {"solver": "sgd", "nesterovs_momentum": False}],
                         ids=["adam", "sgd-invscaling", "sgd-momentum"])
def test_to_sklearn_carries_the_optimizer_state(digits, params):
    # The copy's partial_fit goes on as the model's, and from_sklearn of the
    # copy gets the state back: the README's round trip loses nothing.
    X, y = digits
    est = MLPClassifier((10,), batch_size=50, learning_rate_init=0.01, random_state=0,
                        **params)
    for _ in range(3):
        quiet(est.partial_fit, X, y, classes=np.unique(y))
    sk = est.to_sklearn()
    back = MLPClassifier.from_sklearn(sk)
    for model in (est, sk, back):
        quiet(model.partial_fit, X, y)
    for other in (sk, back):
        for a, b in zip(est.coefs_ + est.intercepts_, other.coefs_ + other.intercepts_):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)
        assert other.loss_ == pytest.approx(est.loss_, rel=1e-13)


def test_to_sklearn_of_a_solver_sklearn_lacks_starts_its_optimizer_afresh(digits):
    X, y = digits
    est = quiet(MLPClassifier((10,), solver="rmsprop", max_iter=2, random_state=0).fit, X, y)
    sk = est.to_sklearn()
    assert sk.solver == "adam" and not hasattr(sk, "_optimizer")
    quiet(sk.partial_fit, X, y)  # scikit-learn makes its own


def test_from_sklearn_lbfgs_regressor_warm_start(digits):
    X, y = digits
    yr = (y % 4).astype(float)
    sk = quiet(sknn.MLPRegressor(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=3,
                                 random_state=0).fit, X, yr)
    est = MLPRegressor.from_sklearn(sk)
    for model in (sk, est):
        model.set_params(warm_start=True, max_iter=4)
        quiet(model.fit, X, yr)
    for a, b in zip(est.coefs_, sk.coefs_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_from_sklearn_of_models_without_a_stochastic_record(digits, early_stopping):
    # helper-45: an lbfgs model set to adam (to fine-tune it), and weights
    # set by hand, predict in scikit-learn; from_sklearn raised
    # AttributeError: no attribute 'best_loss_'. They convert, and train on
    # from a fresh stopping state.
    X, y = digits
    yr = (y % 4).astype(float)
    rng = np.random.RandomState(0)
    trained = quiet(sknn.MLPRegressor(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=5,
                                      random_state=0).fit, X, yr)
    trained.set_params(solver="adam", early_stopping=early_stopping)
    by_hand = sknn.MLPRegressor(hidden_layer_sizes=(3,), early_stopping=early_stopping)
    by_hand.coefs_ = [rng.randn(X.shape[1], 3), rng.randn(3, 1)]
    by_hand.intercepts_ = [np.zeros(3), np.zeros(1)]
    by_hand.n_layers_, by_hand.out_activation_, by_hand.n_outputs_ = 3, "identity", 1
    for sk in (trained, by_hand):
        est = MLPRegressor.from_sklearn(sk)
        np.testing.assert_allclose(est.predict(X), sk.predict(X), rtol=1e-12, atol=1e-12)
        if not early_stopping:  # (partial_fit refuses early stopping, as scikit-learn's)
            quiet(est.partial_fit, X, yr)
            assert est.n_iter_ == 1 and np.isfinite(est.loss_)


def test_from_sklearn_type_errors(digits):
    X, y = digits
    sk = quiet(sknn.MLPClassifier((4,), max_iter=2).fit, X, y)
    with pytest.raises(TypeError, match="takes a fitted sklearn.neural_network.MLPRegressor"):
        MLPRegressor.from_sklearn(sk)


def test_weights_set_by_hand_train_like_sklearn():
    """scikit-learn's own test pattern: weights set by hand, then partial_fit."""
    def prepared(cls):
        m = cls(2, solver="sgd", learning_rate_init=0.1, alpha=0.1, activation="logistic",
                random_state=1, max_iter=1, momentum=0)
        m.coefs_ = [np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0]]), np.array([[0.1], [0.2]])]
        m.intercepts_ = [np.array([1.0, 1.0]), np.array([1.0])]
        m.n_features_in_ = 3
        return m

    X, y = np.array([[0.6, 0.8, 0.7]]), np.array([0])
    ours = prepared(MLPClassifier)
    ours.partial_fit(X, y, classes=[0, 1])
    ref = prepared(sknn.MLPClassifier)
    ref.n_outputs_, ref.n_layers_, ref.out_activation_ = 1, 3, "logistic"
    ref.t_, ref.n_iter_, ref.best_loss_, ref.loss_curve_ = 0, 0, np.inf, []
    ref._no_improvement_count = 0
    ref.partial_fit(X, y, classes=[0, 1])
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-15)


@pytest.mark.parametrize("labels", ["int", "str"])
def test_weights_set_by_hand_train_without_n_features_in(labels):
    # The README: weights set by hand predict and train, the input width
    # taken from coefs_[0]. Integer labels took a shortcut that read
    # n_features_in_ before anything had set it.
    rs = np.random.RandomState(0)
    X, y = rs.randn(60, 5), rs.randint(0, 3, 60)
    if labels == "str":
        y = np.array(list("abc"))[y]
    est = MLPClassifier((5,), random_state=0)
    est.coefs_ = [rs.randn(5, 5) * 0.3, rs.randn(5, 3) * 0.3]
    est.intercepts_ = [np.zeros(5), np.zeros(3)]
    est.partial_fit(X, y, classes=np.unique(y))
    assert est.n_features_in_ == 5 and est.n_iter_ == 1
    est.partial_fit(X, y)


@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_onnx_export_through_skl2onnx_matches(digits, kind):
    import onnxruntime as rt
    from skl2onnx import to_onnx

    X, y = digits
    X = X.astype(np.float32)
    if kind == "clf":
        est = quiet(MLPClassifier((12,), max_iter=4, random_state=0).fit, X, y)
    else:
        est = quiet(MLPRegressor(hidden_layer_sizes=(12,), max_iter=4, random_state=0).fit,
                    X, (y % 4).astype(np.float32))
    model = to_onnx(est.to_sklearn(), X[:1])
    session = rt.InferenceSession(model.SerializeToString(),
                                  providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: X})
    if kind == "clf":
        labels, proba = outputs
        np.testing.assert_array_equal(labels, est.predict(X))
        proba = np.array([[row[k] for k in sorted(row)] for row in proba])
        np.testing.assert_allclose(proba, est.predict_proba(X), atol=1e-6)
    else:
        np.testing.assert_allclose(outputs[0].ravel(), est.predict(X), rtol=1e-5, atol=1e-5)


def test_onnx_export_of_a_float64_classifier_without_zipmap(digits):
    # The README's recipe for float64 classifiers: onnxruntime refuses
    # skl2onnx's ZipMap on doubles, and zipmap=False gives plain arrays.
    import onnxruntime as rt
    from skl2onnx import to_onnx

    X, y = digits
    X = X.astype(np.float64)
    est = quiet(MLPClassifier((12,), max_iter=4, random_state=0).fit, X, y)
    model = to_onnx(est.to_sklearn(), X[:1], options={"zipmap": False})
    session = rt.InferenceSession(model.SerializeToString(),
                                  providers=["CPUExecutionProvider"])
    labels, proba = session.run(None, {session.get_inputs()[0].name: X})
    np.testing.assert_array_equal(labels, est.predict(X))
    np.testing.assert_allclose(proba, est.predict_proba(X), rtol=0, atol=1e-12)


def test_to_sklearn_of_an_early_stopping_model_warm_starts_in_sklearn(digits):
    # scikit-learn's warm fit puts its best weights back when no epoch beats
    # the best score, so the copy must carry them (an AttributeError before).
    X, y = digits
    kw = dict(hidden_layer_sizes=(8,), max_iter=20, random_state=0, early_stopping=True,
              n_iter_no_change=3)
    ours = quiet(MLPClassifier(**kw).fit, X, y)
    copy_ = ours.to_sklearn().set_params(warm_start=True, max_iter=3)
    for a, b in zip(copy_._best_coefs, ours.coefs_):
        np.testing.assert_array_equal(a, b)
    quiet(copy_.fit, X, y)
    assert len(copy_.loss_curve_) > len(ours.loss_curve_)  # it trained on


def test_a_classifier_with_weights_set_by_hand_and_no_classes_is_not_fitted(digits):
    # helper-78: predict raised AttributeError '_label_binarizer' after
    # filling in half the fitted state, and a second call another error.
    from sklearn.exceptions import NotFittedError

    X, y = digits
    rng = np.random.RandomState(0)
    model = MLPClassifier((8,))
    model.coefs_ = [rng.randn(64, 8), rng.randn(8, 10)]
    model.intercepts_ = [np.zeros(8), np.zeros(10)]
    before = dict(model.__dict__)
    for _ in range(2):
        for method in (model.predict, model.predict_proba):
            with pytest.raises(NotFittedError, match=r"weights set by hand .* no classes.*"
                                                     r"partial_fit\(X, y, classes=\.\.\.\)"):
                method(X[:2])
    assert model.__dict__.keys() == before.keys()
    quiet(model.partial_fit, X, y, classes=np.arange(10))
    assert model.predict(X[:2]).shape == (2,)


def test_weights_set_by_hand_of_other_widths_than_the_parameters_are_named(digits):
    # helper-78: "The network's shape changed since the last fit ... call
    # fit", though nothing was fitted, and fit throws the weights away.
    X, y = digits
    rng = np.random.RandomState(0)
    model = MLPRegressor(hidden_layer_sizes=(100,))
    model.coefs_ = [rng.randn(64, 8), rng.randn(8, 1)]
    model.intercepts_ = [np.zeros(8), np.zeros(1)]
    with pytest.raises(ValueError, match=r"weights set by hand have hidden layers of \[8\] "
                                         r"units, and hidden_layer_sizes is \(100,\): set "
                                         r"hidden_layer_sizes=\(8,\)"):
        model.partial_fit(X, y * 1.0)
    with pytest.raises(ValueError, match=r"weights set by hand take 64 features to 1 outputs, "
                                         r"and this data has 32 features"):
        model.set_params(hidden_layer_sizes=(8,)).partial_fit(X[:, :32], y * 1.0)
    quiet(model.partial_fit, X, y * 1.0)


def _unchained(n_features=5):
    """A regressor whose hand-set coefs_[1] is (6, 4) where coefs_[0] gives
    4 units (it needs 4 rows)."""
    rng = np.random.RandomState(0)
    model = MLPRegressor(hidden_layer_sizes=(4, 6))
    model.coefs_ = [rng.randn(n_features, 4), rng.randn(6, 4), rng.randn(6, 1)]
    model.intercepts_ = [rng.randn(4), rng.randn(6), rng.randn(1)]
    return model


@pytest.mark.parametrize("use", [
    lambda m, X, y: m.predict(X),
    lambda m, X, y: m.partial_fit(X, y),
    lambda m, X, y: m.set_params(hidden_layer_sizes=(4, 4)).partial_fit(X, y),
    lambda m, X, y: m.set_params(warm_start=True, max_iter=2).fit(X, y),
    lambda m, X, y: m.to_sklearn(),
], ids=["predict", "partial_fit", "partial_fit-as-advised", "warm-fit", "to_sklearn"])
def test_hand_set_weights_that_do_not_chain_are_named(use):
    # helper-134: widths read from the columns alone sent partial_fit to
    # hidden_layer_sizes=(4, 4), after which it said "take 5 features to 1
    # outputs, and this data has 5 features and 1 outputs"; predict listed
    # flat sizes that name no array; to_sklearn made a copy that failed.
    rng = np.random.RandomState(1)
    X, y = rng.randn(20, 5), rng.randn(20)
    with pytest.raises(ValueError, match=r"weights set by hand do not fit together: "
                                         r"coefs_\[1\] has shape \(6, 4\), but coefs_\[0\] "
                                         r"gives 4 units: coefs_\[1\] needs 4 rows"):
        use(_unchained(), X, y)


def test_hand_set_intercepts_that_do_not_fit_their_weights_are_named():
    # helper-134: named by the flat sizes of every array.
    rng = np.random.RandomState(1)
    X, y = rng.randn(20, 5), rng.randn(20)
    model = _unchained()
    model.coefs_[1] = rng.randn(4, 6)
    model.intercepts_[1] = rng.randn(5)
    with pytest.raises(ValueError, match=r"intercepts_\[1\] has shape \(5,\), but "
                                         r"coefs_\[1\] gives 6 units: intercepts_\[1\] "
                                         r"needs shape \(6,\)"):
        model.predict(X)
    model.intercepts_[1] = np.zeros(6)
    assert model.predict(X).shape == (20,)
    quiet(model.partial_fit, X, y)


def test_fitted_weights_replaced_by_ones_that_do_not_chain_are_named(digits):
    # helper-134: the same for a fitted model's weights replaced since,
    # named by predict's packing and by partial_fit's check of the shapes.
    X, y = digits
    est = quiet(MLPClassifier((4, 4), max_iter=2, random_state=0).fit, X, y)
    est.coefs_[1] = np.ones((5, 4))
    chain = r"coefs_\[1\] has shape \(5, 4\), but coefs_\[0\] gives 4 units"
    with pytest.raises(ValueError, match=r"parameter arrays do not match its architecture: "
                                         + chain):
        est.predict(X[:3])
    with pytest.raises(ValueError, match=r"coefs_ and intercepts_ do not fit together: "
                                         + chain):
        est.partial_fit(X, y)


@pytest.mark.parametrize("settings, lost", [
    (dict(solver="rmsprop"), "solver='rmsprop' (the copy has 'adam'"),
    (dict(solver="adamw", alpha=0.1), "becomes an L2 penalty"),
    (dict(learning_rate="cosine"), "learning_rate='cosine' (the copy has 'constant'"),
    (dict(dropout=0.3), "dropout=0.3 (dropped)"),
    (dict(l1=1e-4, clip_grad_norm=1.0), "l1=0.0001 (dropped); clip_grad_norm=1.0 (dropped)"),
    (dict(init="he_normal"), "init='he_normal' (dropped"),
])
def test_to_sklearn_says_which_training_settings_the_copy_lacks(digits, settings, lost):
    # helper-78: the README's round trip ("and back, optimizer state
    # included") changed these without a word: a partial_fit after it
    # trained another model.
    X, y = digits
    model = quiet(MLPClassifier((8,), max_iter=2, random_state=0, **settings).fit, X, y)
    with pytest.warns(UserWarning, match="lacks some of its training settings") as caught:
        model.to_sklearn()
    assert lost in str(caught[0].message) and caught[0].filename == __file__
    plain = quiet(MLPClassifier((8,), max_iter=2, random_state=0).fit, X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain.to_sklearn()


def test_from_sklearn_of_a_fastbp_model_says_so(digits):
    X, y = digits
    model = quiet(MLPClassifier((4,), max_iter=2, random_state=0).fit, X, y)
    with pytest.raises(TypeError, match=r"got fastbp\.estimators\.classifier\.MLPClassifier "
                                        r"\(a fastbp model already"):
        MLPClassifier.from_sklearn(model)


@pytest.mark.parametrize("cls", [MLPRegressor, sknn.MLPRegressor])
def test_weights_set_by_hand_predict_as_in_sklearn(cls):
    # scikit-learn's MLP predicts from coefs_/intercepts_ and a few fitted
    # attributes set by hand; fastbp filled in the rest only for training
    # (predict raised AttributeError: no n_features_in_, no _activations).
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 4))
    coefs = [rng.standard_normal((4, 3)), rng.standard_normal((3, 1))]
    intercepts = [rng.standard_normal(3), rng.standard_normal(1)]

    def hand_set(model_cls):
        model = model_cls(hidden_layer_sizes=(3,), activation="tanh")
        model.coefs_ = [c.copy() for c in coefs]
        model.intercepts_ = [b.copy() for b in intercepts]
        model.n_outputs_, model.n_layers_, model.out_activation_ = 1, 3, "identity"
        return model

    expected = np.tanh(X @ coefs[0] + intercepts[0]) @ coefs[1] + intercepts[1]
    np.testing.assert_allclose(hand_set(cls).predict(X), expected.ravel(), rtol=1e-12)
    if cls is MLPRegressor:
        # The width comes from the weights: a wrong one is named, never read.
        with pytest.raises(ValueError, match="X has 3 features, but MLPRegressor is expecting 4"):
            hand_set(cls).predict(X[:, :3])


@pytest.mark.parametrize("widths", [(2, 8), (5, 5, 5), (6,)])
def test_weights_replaced_by_hand_with_other_widths_predict_what_they_define(digits, widths):
    # helper-39: a fitted residual model, its weights then replaced with
    # other widths in scikit-learn's way, kept the fit's skip connections
    # and activations: the kernels added a 2-wide layer into a 20000-wide
    # one (garbage), and a third hidden layer failed with NumPy's broadcast
    # error. The weights now define the model, as they do in scikit-learn's
    # MLP; residual=True connects the equal widths among them.
    X, y = digits
    est = quiet(MLPClassifier((4, 4), residual=True, activation="tanh", max_iter=2,
                              random_state=0).fit, X, y)
    rng = np.random.default_rng(0)
    units = (X.shape[1], *widths, 10)
    coefs = [rng.standard_normal((a, b)) * 0.3 for a, b in zip(units[:-1], units[1:])]
    intercepts = [rng.standard_normal(b) * 0.1 for b in units[1:]]
    est.coefs_, est.intercepts_ = coefs, intercepts
    h = np.tanh(X @ coefs[0] + intercepts[0])
    for W, b in zip(coefs[1:-1], intercepts[1:-1]):
        h = np.tanh(h @ W + b) + (h if W.shape[0] == W.shape[1] else 0)
    z = h @ coefs[-1] + intercepts[-1]
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(est.predict_proba(X), expected, rtol=1e-10, atol=1e-15)
    assert est._residual == [False, True]   # the fit's, for its own weights


def test_weights_replaced_by_hand_beside_learned_normalisation_are_named(digits):
    # Learned normalisation statistics of the old widths cannot be derived
    # again from the parameters: said, never read with the new weights.
    X, y = digits
    est = quiet(MLPClassifier((4, 4), normalization="layer", max_iter=2,
                              random_state=0).fit, X, y)
    before = est.predict_proba(X[:3])
    est.coefs_ = [np.ones((64, 6)), np.ones((6, 6)), np.ones((6, 10))]
    est.intercepts_ = [np.zeros(6), np.zeros(6), np.zeros(10)]
    with pytest.raises(ValueError, match=r"parameter arrays do not match its architecture: "
                                         r"normalization_scales_\[0\] has shape \(4,\), "
                                         r"where this network of layer widths "
                                         r"\[64, 6, 6, 10\] needs \(6,\)"):
        est.predict_proba(X[:3])
    # Three hidden layers beside two layers' statistics: named by the check
    # of a loaded model's state.
    est.coefs_ = [np.ones((64, 4)), np.ones((4, 4)), np.ones((4, 4)), np.ones((4, 10))]
    est.intercepts_ = [np.zeros(4), np.zeros(4), np.zeros(4), np.zeros(10)]
    with pytest.raises(ValueError, match=r"parameter arrays do not match its architecture"):
        est.predict_proba(X[:3])
    assert before.shape == (3, 10)


def test_the_fits_own_weights_put_back_predict_as_before(digits):
    # helper-44: the first version of the fix stored the state it derived
    # for replaced weights, so the fit's arrays put back were read with
    # skip connections between layers of unequal widths (or failed).
    X, y = digits
    est = quiet(MLPClassifier((6, 4, 4), residual=True, max_iter=2, random_state=0).fit,
                X, y)
    before = est.predict_proba(X)
    kept = est.coefs_, est.intercepts_
    rng = np.random.default_rng(0)
    for widths in ((6, 6, 4), (6, 4)):
        units = (64, *widths, 10)
        est.coefs_ = [rng.standard_normal(s) for s in zip(units[:-1], units[1:])]
        est.intercepts_ = [np.zeros(b) for b in units[1:]]
        est.predict_proba(X[:2])
        est.coefs_, est.intercepts_ = kept
        np.testing.assert_array_equal(est.predict_proba(X), before)


def test_weights_set_by_hand_connect_as_the_residual_parameter_says(digits):
    # helper-44: weights set on an unfitted model got no skip connection,
    # the same weights on a fitted residual model got them.
    X, y = digits
    fitted = quiet(MLPClassifier((4, 4), residual=True, max_iter=2, random_state=0).fit,
                   X, y)
    fresh = MLPClassifier((4, 4), residual=True)
    fresh.coefs_ = [c.copy() for c in fitted.coefs_]
    fresh.intercepts_ = [b.copy() for b in fitted.intercepts_]
    fresh.classes_, fresh.n_outputs_, fresh.out_activation_ = fitted.classes_, 10, "softmax"
    np.testing.assert_allclose(fresh.predict_proba(X), fitted.predict_proba(X), rtol=1e-12)


def test_to_sklearn_keeps_an_endless_patience(digits):
    # helper-62: n_iter_no_change=inf became 10 in the copy, with the
    # model's no-improvement count kept: its warm fit stopped at once.
    X, y = digits
    est = quiet(MLPClassifier((10,), n_iter_no_change=np.inf, tol=1e3, max_iter=8,
                              random_state=0).fit, X, y)
    sk = est.to_sklearn()
    assert sk.n_iter_no_change == np.inf
    quiet(sk.set_params(warm_start=True).fit, X, y)
    assert sk.n_iter_ == 8


@pytest.mark.parametrize("fitted, now", [("adam", "sgd"), ("sgd", "adam")])
def test_conversions_follow_the_optimizer_state_not_a_solver_set_since(digits, fitted, now):
    # helper-62: to_sklearn read set_params' solver and made Adam's moments
    # SGD velocities; from_sklearn raised AttributeError ('velocities').
    X, y = digits
    est = quiet(MLPClassifier((10,), solver=fitted, max_iter=2, random_state=0).fit, X, y)
    sk = est.set_params(solver=now).to_sklearn()
    assert sk.solver == now and not hasattr(sk, "_optimizer")  # its own, afresh
    model = quiet(sknn.MLPClassifier((10,), solver=fitted, max_iter=2, random_state=0).fit,
                  X, y)
    back = MLPClassifier.from_sklearn(model.set_params(solver=now))
    assert back._optimizer.solver == fitted
    # scikit-learn's partial_fit goes on with its old optimizer; fastbp's
    # refuses the changed solver, as within its own streams.
    with pytest.raises(ValueError, match=f"solver changed from '{fitted}' to '{now}'"):
        back.partial_fit(X, y)


def test_conversions_copy_the_random_state_rather_than_share_it(digits):
    X, y = digits
    est = quiet(MLPClassifier((10,), max_iter=2, random_state=np.random.RandomState(0)).fit,
                X, y)
    sk = est.to_sklearn()
    assert sk.random_state is not est.random_state
    assert MLPClassifier.from_sklearn(sk).random_state is not sk.random_state
    before = est.random_state.get_state()[1].copy()
    quiet(sk.fit, X, y)  # draws from the copy's generator only
    np.testing.assert_array_equal(est.random_state.get_state()[1], before)


def test_to_sklearn_of_a_custom_scoring_starts_early_stopping_afresh(digits):
    # helper-62: minus-losses were copied as scores scikit-learn compares
    # with its accuracies.
    X, y = digits
    est = quiet(MLPClassifier((10,), early_stopping=True, scoring="loss", max_iter=5,
                              random_state=0).fit, X, y)
    assert est.best_validation_score_ < 0
    sk = est.to_sklearn()
    assert sk.validation_scores_ == [] and sk.best_validation_score_ == -np.inf
    quiet(sk.set_params(warm_start=True, max_iter=3).fit, X, y)
    assert all(0 <= s <= 1 for s in sk.validation_scores_)


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_weights_set_by_hand_on_a_normalised_model(digits, norm):
    # helper-63: the model was taken for one without normalisation: with
    # its scales and statistics set too, predict refused the sizes; with
    # weights alone it predicted without normalising; partial_fit said
    # "normalization changed since the last fit" of a model never fitted.
    X, y = digits
    y = y.astype(float)
    src = quiet(MLPRegressor(hidden_layer_sizes=(8,), normalization=norm, max_iter=5, random_state=0).fit, X, y)
    names = ["coefs_", "intercepts_", "normalization_scales_", "normalization_shifts_",
             "running_mean_", "running_var_"]
    full = MLPRegressor(hidden_layer_sizes=(8,), normalization=norm)
    for name in names:
        setattr(full, name, [a.copy() for a in getattr(src, name)])
    np.testing.assert_array_equal(full.predict(X), src.predict(X))
    bare = MLPRegressor(hidden_layer_sizes=(8,), normalization=norm)
    bare.coefs_, bare.intercepts_ = src.coefs_, src.intercepts_
    fresh = copy.deepcopy(src)  # its normalisation layers as a fit starts them
    fresh.normalization_scales_ = [np.ones_like(a) for a in src.normalization_scales_]
    fresh.normalization_shifts_ = [np.zeros_like(a) for a in src.normalization_shifts_]
    fresh.running_mean_ = [np.zeros_like(a) for a in src.running_mean_]
    fresh.running_var_ = [np.ones_like(a) for a in src.running_var_]
    np.testing.assert_array_equal(bare.predict(X), fresh.predict(X))
    for model in (full, bare):
        quiet(model.partial_fit, X, y)
        assert np.isfinite(model.loss_)


def test_from_sklearn_records_that_its_scores_are_sklearns(digits):
    # helper-67: a warm fit with another scoring compared minus-losses with
    # scikit-learn's accuracies, kept the old best, and ended on the weights
    # it started from.
    X, y = digits
    sk = quiet(sknn.MLPClassifier((10,), early_stopping=True, max_iter=5,
                                  random_state=0).fit, X, y)
    est = MLPClassifier.from_sklearn(sk)
    before = [c.copy() for c in est.coefs_]
    quiet(est.set_params(warm_start=True, scoring="neg_log_loss", max_iter=5).fit, X, y)
    assert est.best_validation_score_ < 0
    assert not all(np.array_equal(a, b) for a, b in zip(before, est.coefs_))


def test_to_sklearn_takes_a_learning_rate_set_within_the_stream(digits):
    # helper-67: the copy went on at the stream's old rate, which fastbp's
    # next partial_fit would not.
    X, y = digits
    est = MLPClassifier((10,), solver="sgd", learning_rate_init=0.001, random_state=0)
    quiet(est.partial_fit, X, y, classes=np.unique(y))
    est.set_params(learning_rate_init=0.1)
    sk = est.to_sklearn()
    quiet(est.partial_fit, X, y)
    quiet(sk.partial_fit, X, y)
    for a, b in zip(est.coefs_, sk.coefs_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


def test_to_sklearn_resets_early_stopping_by_the_scoring_the_scores_were_measured_with(digits):
    X, y = digits
    est = quiet(MLPClassifier((10,), early_stopping=True, scoring="neg_log_loss",
                              max_iter=5, random_state=0).fit, X, y)
    sk = est.set_params(scoring=None).to_sklearn()
    assert sk.best_validation_score_ == -np.inf and sk.validation_scores_ == []


def _hand_set(model, rng, widths=(4, 4), n_in=3, n_out=1):
    units = [n_in, *widths, n_out]
    model.coefs_ = [rng.normal(size=shape) for shape in zip(units[:-1], units[1:])]
    model.intercepts_ = [rng.normal(size=n) for n in units[1:]]
    return model


def test_to_sklearn_of_weights_set_by_hand_predicts_as_the_model(digits):
    # helper-85: to_sklearn did not complete the fitted state as predict
    # does: the copy had no n_layers_ or out_activation_ (AttributeError in
    # its predict).
    X = np.random.default_rng(1).normal(size=(20, 3))
    reg = _hand_set(MLPRegressor(hidden_layer_sizes=(4, 4)), np.random.default_rng(0))
    sk = reg.to_sklearn()
    np.testing.assert_allclose(sk.predict(X), reg.predict(X), rtol=1e-12, atol=1e-12)
    Xd, _ = digits
    clf = _hand_set(MLPClassifier((8,), activation="tanh"), np.random.default_rng(0),
                    widths=(8,), n_in=64, n_out=10)
    clf.classes_, clf.n_outputs_, clf.out_activation_ = np.arange(10), 10, "softmax"
    np.testing.assert_allclose(clf.to_sklearn().predict_proba(Xd), clf.predict_proba(Xd),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("params, reason", [
    (dict(residual=True), "residual connections"),
    (dict(normalization="layer"), "normalization='layer'"),
])
def test_to_sklearn_refuses_weights_set_by_hand_it_cannot_represent(params, reason):
    # helper-85: with the fitted state not completed, the skip connections
    # and normalisation that predict applies to weights set by hand were
    # not seen, and the copy predicted otherwise.
    reg = _hand_set(MLPRegressor(hidden_layer_sizes=(4, 4), **params), np.random.default_rng(0))
    with pytest.raises(ValueError, match=f"cannot become a scikit-learn MLP: {reason}"):
        reg.to_sklearn()


def test_to_sklearn_of_a_classifier_with_weights_set_by_hand_and_no_classes(digits):
    # helper-85: the copy came out, unable to predict (no classes).
    from sklearn.exceptions import NotFittedError

    clf = _hand_set(MLPClassifier((8,)), np.random.default_rng(0), widths=(8,), n_in=64,
                    n_out=10)
    with pytest.raises(NotFittedError, match=r"weights set by hand .* no classes.*"
                                             r"partial_fit\(X, y, classes=\.\.\.\)"):
        clf.to_sklearn()


# helper-131 (found by helper-121): the first predict from weights set by
# hand kept what it filled in (activations, skip connections,
# normalisation, input width) for good: a later set_params or coefs_ of
# another width was ignored, unlike scikit-learn, whose MLP reads its
# parameters and weights at every predict.

@pytest.mark.parametrize("params", [dict(activation="tanh"), dict(residual=True),
                                    dict(normalization="layer"), dict(loss="poisson")])
def test_weights_set_by_hand_follow_set_params_after_a_predict(params):
    X = np.random.default_rng(1).normal(size=(20, 3))

    def model():
        m = _hand_set(MLPRegressor(hidden_layer_sizes=(4, 4), activation="relu"),
                      np.random.default_rng(0))
        if "normalization" in params:
            # A normalised layer has no bias: a non-zero one is refused.
            m.intercepts_[:-1] = [np.zeros_like(b) for b in m.intercepts_[:-1]]
        return m

    first = model()
    before = first.predict(X)
    after = first.set_params(**params).predict(X)
    expected = model().set_params(**params).predict(X)  # set before the first predict
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, expected, rtol=1e-12, atol=1e-12)
    first.set_params(**{name: MLPRegressor().get_params()[name] for name in params})
    np.testing.assert_allclose(first.predict(X), before, rtol=1e-12, atol=1e-12)


def test_weights_set_by_hand_predict_as_sklearn_after_set_params():
    # The finding's own case: scikit-learn predicts with tanh.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 20))
    coefs = [rng.standard_normal((20, 4)), rng.standard_normal((4, 1))]
    intercepts = [rng.standard_normal(4), rng.standard_normal(1)]
    ours, ref = (cls(hidden_layer_sizes=(4,), activation="relu")
                 for cls in (MLPRegressor, sknn.MLPRegressor))
    for m in (ours, ref):
        m.coefs_, m.intercepts_ = list(coefs), list(intercepts)
        m.n_layers_, m.n_outputs_, m.out_activation_ = 3, 1, "identity"
    ours.predict(X)
    for m in (ours, ref):
        m.set_params(activation="tanh")
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-12)


@pytest.mark.parametrize("norm", [None, "layer"])
def test_weights_replaced_by_hand_after_a_predict_give_the_input_width(norm):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 10))
    model = _hand_set(MLPRegressor(hidden_layer_sizes=(4,), normalization=norm), rng,
                      widths=(4,), n_in=10)
    # A normalised layer has no bias: a non-zero one is refused.
    hidden_bias = 1.0 if norm is None else 0.0
    model.intercepts_[0] *= hidden_bias
    model.predict(X)
    # Another input width, and other hidden widths: what they define, as
    # for weights set on a model that never predicted.
    for n_in, width in ((6, 4), (6, 7)):
        model.coefs_ = [rng.normal(size=(n_in, width)), rng.normal(size=(width, 1))]
        model.intercepts_ = [rng.normal(size=width) * hidden_bias, rng.normal(size=1)]
        fresh = MLPRegressor(hidden_layer_sizes=(4,), normalization=norm)
        fresh.coefs_, fresh.intercepts_ = list(model.coefs_), list(model.intercepts_)
        np.testing.assert_allclose(model.predict(X[:, :n_in]), fresh.predict(X[:, :n_in]),
                                   rtol=1e-12, atol=1e-12)
        assert model.n_features_in_ == n_in
        with pytest.raises(ValueError, match=f"X has 10 features, but MLPRegressor is "
                                             f"expecting {n_in}"):
            model.predict(X)
    # partial_fit straight after the replacement (no predict between) checked X
    # against the replaced weights' width ("expecting 6", for the new 3).
    model.coefs_ = [rng.normal(size=(3, 4)), rng.normal(size=(4, 1))]
    model.intercepts_ = [rng.normal(size=4) * hidden_bias, rng.normal(size=1)]
    model.partial_fit(X[:, :3], rng.normal(size=20))
    assert model.n_features_in_ == 3 and model.coefs_[0].shape == (3, 4)


def test_weights_set_by_hand_train_with_the_parameters_set_after_a_predict():
    # partial_fit refused ("activation changed since the last fit"): no
    # fit had trained the relu it named.
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 3)), rng.normal(size=30)

    def model():
        return _hand_set(MLPRegressor(hidden_layer_sizes=(4, 4), activation="relu",
                                      solver="sgd", random_state=0),
                         np.random.default_rng(0))

    late = model()
    late.predict(X)
    late.set_params(activation="tanh").partial_fit(X, y)
    early = model().set_params(activation="tanh").partial_fit(X, y)
    for a, b in zip(late.coefs_ + late.intercepts_, early.coefs_ + early.intercepts_):
        np.testing.assert_array_equal(a, b)
    # Trained now: it predicts with what it was trained with, as any fit's.
    trained = late.predict(X)
    np.testing.assert_array_equal(late.set_params(activation="relu").predict(X), trained)
    assert late._activations == ["tanh", "tanh"]


def test_to_sklearn_of_weights_set_by_hand_follows_set_params_after_a_predict():
    X = np.random.default_rng(1).normal(size=(20, 3))
    reg = _hand_set(MLPRegressor(hidden_layer_sizes=(4, 4)), np.random.default_rng(0))
    reg.predict(X)
    sk = reg.set_params(activation="tanh").to_sklearn()
    assert sk.activation == "tanh"
    np.testing.assert_allclose(sk.predict(X), reg.predict(X), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="cannot become a scikit-learn MLP: residual"):
        reg.set_params(residual=True).to_sklearn()
