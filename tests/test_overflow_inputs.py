"""rev-259 (fix-262): a Python int beyond float64's range in an object array
or list is refused with a ValueError naming the input, leaving a fitted
model unchanged; to_sklearn refuses parameters that are not finite."""

import warnings

import numpy as np
import pytest

from fastbp import MLPClassifier, MLPRegressor

HUGE = 10 ** 400  # float(HUGE) raises OverflowError
RANGE = "beyond float64's range"


def _data():
    X = np.random.RandomState(0).randn(6, 2)
    return X, np.array([0, 1] * 3), np.array([0.0, 1.0] * 3)


def _fitted(cls, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(hidden_layer_sizes=(3,), max_iter=2, random_state=0).fit(X, y)


def _object_X(X):
    Xo = X.astype(object)
    Xo[0, 0] = HUGE
    return Xo


def _list_X(X):
    Xl = X.tolist()
    Xl[0][0] = HUGE
    return Xl


def _huge_vector(n):
    v = np.ones(n, dtype=object)
    v[0] = HUGE
    return v


def _refused(name, call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=rf"^{name}: .*{RANGE}") as info:
            call()
    assert isinstance(info.value.__cause__, OverflowError)


@pytest.mark.parametrize("as_input", [_object_X, _list_X], ids=["object", "list"])
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_huge_int_in_X_is_named_at_fit_partial_fit_and_predict(as_input, cls):
    X, yc, yr = _data()
    y = yc if cls is MLPClassifier else yr
    bad = as_input(X)
    extra = {"classes": [0, 1]} if cls is MLPClassifier else {}
    _refused("X", lambda: cls(max_iter=2).fit(bad, y))
    _refused("X", lambda: cls(solver="sgd").partial_fit(bad, y, **extra))
    model = _fitted(cls, X, y)
    _refused("X", lambda: model.predict(bad))
    _refused("X", lambda: model.score(bad, y))
    if cls is MLPClassifier:
        _refused("X", lambda: model.predict_proba(bad))


def test_huge_int_in_regressor_y_is_named_at_fit_and_score():
    X, _, yr = _data()
    y = yr.astype(object)
    y[0] = HUGE
    _refused("y", lambda: MLPRegressor(max_iter=2).fit(X, y))
    model = _fitted(MLPRegressor, X, yr)
    _refused("y", lambda: model.score(X, y))


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_huge_int_in_sample_weight_is_named(cls):
    X, yc, yr = _data()
    y = yc if cls is MLPClassifier else yr
    _refused("sample_weight", lambda: cls(max_iter=2).fit(X, y, sample_weight=_huge_vector(6)))
    if cls is MLPRegressor:
        model = _fitted(cls, X, y)
        _refused("sample_weight",
                 lambda: model.score(X, y, sample_weight=_huge_vector(6)))


def test_huge_int_is_put_on_the_input_that_holds_it():
    # validate_data(X, y) converts both: the message names the one at fault.
    X, _, yr = _data()
    y = yr.astype(object)
    y[0] = HUGE
    _refused("y", lambda: MLPRegressor(max_iter=2).fit(X.astype(object), y))
    _refused("X", lambda: MLPRegressor(max_iter=2).fit(_object_X(X), yr.astype(object)))


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("how", ["partial_fit", "warm_fit", "sample_weight"])
def test_refused_call_leaves_a_fitted_model_unchanged(cls, how):
    X, yc, yr = _data()
    y = yc if cls is MLPClassifier else yr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = cls(hidden_layer_sizes=(3,), solver="sgd", max_iter=2, warm_start=True,
                    random_state=0).fit(X, y)
    before = [np.array(c, copy=True) for c in model.coefs_ + model.intercepts_]
    n_iter, t = model.n_iter_, model.t_
    predicted = model.predict(X)
    if how == "partial_fit":
        call = lambda: model.partial_fit(_object_X(X), y)  # noqa: E731
        name = "X"
    elif how == "warm_fit":
        call = lambda: model.fit(_list_X(X), y)  # noqa: E731
        name = "X"
    else:
        call = lambda: model.fit(X, y, sample_weight=_huge_vector(6))  # noqa: E731
        name = "sample_weight"
    _refused(name, call)
    after = model.coefs_ + model.intercepts_
    assert len(after) == len(before)
    for a, b in zip(after, before):
        np.testing.assert_array_equal(a, b)
    assert (model.n_iter_, model.t_) == (n_iter, t)
    np.testing.assert_array_equal(model.predict(X), predicted)


def test_huge_int_in_a_frame_column_is_named():
    pd = pytest.importorskip("pandas")
    X, yc, _ = _data()
    frame = pd.DataFrame({"a": X[:, 0].astype(object), "b": X[:, 1]})
    frame.loc[0, "a"] = HUGE
    _refused("X", lambda: MLPClassifier(max_iter=2).fit(frame, yc))


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("where, value", [("coefs_", np.nan), ("intercepts_", np.inf)])
def test_to_sklearn_refuses_non_finite_parameters(cls, where, value):
    X, yc, yr = _data()
    model = _fitted(cls, X, yc if cls is MLPClassifier else yr)
    getattr(model, where)[0].flat[0] = value
    # predict refuses it, and so must the export (which predicted NaN).
    with pytest.raises(ValueError, match="hold NaN or infinite"):
        model.predict(X)
    with pytest.raises(ValueError, match=rf"cannot become a scikit-learn MLP: .*hold NaN "
                                         rf"or infinite values \(in {where}\)"):
        model.to_sklearn()


def test_to_sklearn_of_finite_parameters_still_works():
    X, yc, _ = _data()
    model = _fitted(MLPClassifier, X, yc)
    np.testing.assert_allclose(model.to_sklearn().predict_proba(X), model.predict_proba(X),
                               atol=1e-12)
