"""MLPClassifier's labels: class_weight keys, the target type across calls,
and missing labels (helper-161's review)."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score, learning_curve

from fastbp import MLPClassifier


def quiet(call, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # (cross-validation's "The least populated class in y has only 1 members")
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        return call(*args, **kwargs)


def weights_of(est):
    return [w.copy() for w in est.coefs_ + est.intercepts_]


def assert_same_weights(a, b):
    for x, z in zip(weights_of(a), weights_of(b)):
        assert_array_equal(x, z)


@pytest.fixture(scope="module")
def three_classes():
    X, y = make_classification(60, 5, n_informative=3, n_classes=3, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def multilabel():
    X, Y = make_multilabel_classification(60, 4, n_classes=3, random_state=0)
    return X.astype(np.float64), Y


def accepts(est, X, y):
    try:
        quiet(est.fit, X, y)
    except ValueError:
        return False
    return True


def test_class_weight_naming_a_class_absent_from_y_is_ignored_as_in_scikit_learn(three_classes):
    # helper-161: a dict naming a label outside this fit's classes_ was
    # refused, so a cross-validation fold (or a learning-curve subset) that
    # trains without a rare class failed where scikit-learn's classifiers
    # fit. scikit-learn's rule (compute_class_weight): extra labels are
    # fine when every class is named, refused when a class is left out.
    X, y = three_classes
    y = y.copy()
    y[:1] = 3  # one row of class 3: the folds that test it train without it
    cw = {0: 1.0, 1: 1.0, 2: 1.0, 3: 25.0}
    est = MLPClassifier((4,), class_weight=cw, max_iter=3, random_state=0)
    scores = quiet(cross_val_score, est, X, y, cv=3, error_score="raise")
    assert scores.shape == (3,)
    sizes, _, _ = quiet(learning_curve, est, X, y, train_sizes=[0.2, 1.0], cv=3,
                        error_score="raise")
    assert len(sizes) == 2
    # The extra label changes nothing: the same model as the dict without it.
    X3, y3 = X[y != 3], y[y != 3]
    kw = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    a = quiet(MLPClassifier(class_weight=cw, **kw).fit, X3, y3)
    b = quiet(MLPClassifier(class_weight={0: 1.0, 1: 1.0, 2: 1.0}, **kw).fit, X3, y3)
    assert_same_weights(a, b)
    # Accepted and refused as scikit-learn's LogisticRegression does.
    for weights in [{0: 2.0}, {0: 2.0, 1: 1.0, 2: 3.0, 9: 4.0}, {0: 2.0, 9: 4.0},
                    {9: 4.0}, {1: 2.0, 2: 0.5}]:
        ours = accepts(MLPClassifier(class_weight=weights, **kw), X3, y3)
        theirs = accepts(LogisticRegression(class_weight=weights), X3, y3)
        assert ours == theirs, weights
    # Where refused, the message names the labels and the classes left out.
    with pytest.raises(ValueError, match=r"class_weight leaves out the classes \[1, 2\].*"
                                         r"class_weight has labels \[9\] that are not in "
                                         r"classes_ \[0, 1, 2\]\.$"):
        MLPClassifier(class_weight={0: 2.0, 9: 4.0}, **kw).fit(X3, y3)


def test_class_weight_keys_in_partial_fit_follow_the_models_classes(three_classes):
    # helper-161: as SGDClassifier.partial_fit, against the classes given on
    # the first call.
    X, y = three_classes
    kw = dict(hidden_layer_sizes=(4,), random_state=0)
    a = MLPClassifier(class_weight={0: 2.0, 1: 1.0, 2: 0.5, 7: 3.0}, **kw)
    a.partial_fit(X, y, classes=[0, 1, 2])
    b = MLPClassifier(class_weight={0: 2.0, 1: 1.0, 2: 0.5}, **kw)
    b.partial_fit(X, y, classes=[0, 1, 2])
    assert_same_weights(a, b)
    with pytest.raises(ValueError, match=r"leaves out the classes \[2\]"):
        MLPClassifier(class_weight={0: 2.0, 1: 1.0, 7: 3.0}, **kw).partial_fit(
            X, y, classes=[0, 1, 2])


def test_multilabel_class_weight_dicts_follow_the_same_rule(multilabel):
    # helper-161: each output's dict was refused for any key but 0 and 1;
    # compute_sample_weight (RandomForestClassifier) takes extra keys where
    # 0 and 1 are both named, and refuses them where one is left out.
    X, Y = multilabel
    kw = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    extra = [{0: 1.0, 1: 3.0, 2: 5.0}, {0: 0.5, 1: 1.0}, {0: 1.0, 1: 2.0, "x": 1.0}]
    plain = [{0: 1.0, 1: 3.0}, {0: 0.5, 1: 1.0}, {0: 1.0, 1: 2.0}]
    forest = dict(n_estimators=2, random_state=0)
    assert accepts(RandomForestClassifier(class_weight=extra, **forest), X, Y)
    assert_same_weights(quiet(MLPClassifier(class_weight=extra, **kw).fit, X, Y),
                        quiet(MLPClassifier(class_weight=plain, **kw).fit, X, Y))
    bad = [{0: 1.0, 2: 5.0}, {0: 0.5, 1: 1.0}, {0: 1.0, 1: 2.0}]
    assert not accepts(RandomForestClassifier(class_weight=bad, **forest), X, Y)
    est = MLPClassifier(class_weight=bad, **kw)
    with pytest.raises(ValueError, match=r"class_weight\[0\] .output 0's dict, in a list of 3 "
                                         r"dicts, one per output. leaves out the classes \[1\]"):
        est.fit(X, Y)
    assert not hasattr(est, "coefs_")


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_a_changed_target_type_is_refused_by_name(multilabel, how):
    # helper-161: a multilabel model took 1-D labels 0..2 (its column
    # indices) as one-hot rows and trained on them, no error; a single-label
    # model given an indicator failed with the binarizer's "The object was
    # not fitted with multilabel input.".
    X, Y = multilabel
    kw = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    for first, then, said in [
            (Y, Y.argmax(1), r"y is 1-D \(single class labels\), and this model was fitted "
                             r"on a multilabel indicator of 3 outputs"),
            (Y.argmax(1), Y, r"y is 2-D with 3 columns \(multilabel indicator rows\), and "
                             r"this model was fitted on single class labels \(multiclass\)")]:
        model = quiet(MLPClassifier(**kw).fit, X, first)
        before = weights_of(model)
        with pytest.raises(ValueError, match=said + r".*fit with warm_start=False"):
            if how == "partial_fit":
                model.partial_fit(X, then)
            else:
                model.set_params(warm_start=True).fit(X, then)
        for a, b in zip(before, weights_of(model)):
            assert_array_equal(a, b)
        # The same type still trains (the partial_fit fast path included).
        if how == "partial_fit":
            model.partial_fit(X, first)
        else:
            quiet(model.fit, X, first)


@pytest.mark.parametrize("y, shown", [
    (["a", "b", "a", None, "b", "a"], "None"),
    (np.array(["a", "b", "a", None, "b", "a"], dtype=object), "None"),
    (np.array([1, 2, 1, None, 2, 1], dtype=object), "None"),
    (["a", "b", "a", float("nan"), "b", "a"], "NaN"),  # was read as the label 'nan'
    (np.array(["a", "b", "a", np.nan, "b", "a"], dtype=object), "NaN"),
])
def test_none_or_nan_among_labels_is_a_missing_value(y, shown):
    # helper-161: None in a list or object array was called a type mix,
    # whose advice (y.astype(str)) made None a class; a pandas y with the
    # same values got the missing-value message.
    X = np.random.default_rng(0).random((6, 3))
    said = (rf"Input y contains {shown} \(a missing value\) in 1 row\(s\), the first at "
            r"position 3.*Drop those rows or fill them")
    with pytest.raises(ValueError, match=said):
        MLPClassifier((3,), max_iter=2).fit(X, y)
    classes = ["a", "b"] if isinstance(y, list) or y[0] == "a" else [1, 2]
    with pytest.raises(ValueError, match=said):
        MLPClassifier((3,), max_iter=2).partial_fit(X, y, classes=classes)
    model = MLPClassifier((3,), max_iter=2, random_state=0)
    model.partial_fit(X, np.array(classes * 3), classes=classes)
    with pytest.raises(ValueError, match=said):
        model.partial_fit(X, y)


def test_missing_multilabel_indicator_entry_is_named():
    # helper-161: a None in a list-of-lists indicator.
    X = np.random.default_rng(0).random((4, 3))
    Y = [[0, 1], [1, None], [0, 1], [1, 0]]
    with pytest.raises(ValueError, match=r"Input y contains None \(a missing value\) in "
                                         r"1 row\(s\), the first at position 1"):
        MLPClassifier((3,), max_iter=2).fit(X, Y)
