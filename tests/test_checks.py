"""scikit-learn's estimator checks, at default parameters, with no expected
failures: scikit-learn's own MLPs pass every check, so fastbp's must."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from fastbp import MLPClassifier, MLPRegressor


@parametrize_with_checks([MLPClassifier(), MLPRegressor()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
